// The scenario loader's toolkit: how values and expectations are worded in messages.
#include "sim/scenario_reader.hpp"

#include <charconv>
#include <cmath>

#include "engine/utf8.hpp"

namespace parley::sim::reader {

std::string join(Keys words) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += word;
  }
  return out;
}

bool contains(Keys words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

std::size_t line_of(const toml::node& node) {
  return node.source().begin.line;
}

// Plain decimals where they stay readable (bounds, durations), exponents for the extremes.
std::string format_number(double value) {
  std::array<char, 400> buffer{};
  const double magnitude = std::fabs(value);
  const bool fixed = value == 0 || (magnitude >= 1e-6 && magnitude < 1e16);
  const auto result = fixed ? std::to_chars(buffer.data(), buffer.data() + buffer.size(), value,
                                            std::chars_format::fixed)
                            : std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  return std::string(buffer.data(), result.ptr);
}

// A value quoted back the way the author wrote it.
std::string show_value(const toml::node& node) {
  if (const auto* text = node.as_string()) {
    const std::string_view full = text->get();
    const std::string_view shown = engine::utf8_prefix(full, kMaxShownCodePoints);
    return "'" + std::string(shown) + (shown.size() < full.size() ? "...'" : "'");
  }
  if (const auto* integer = node.as_integer()) return std::to_string(integer->get());
  if (const auto* floating = node.as_floating_point()) {
    std::string shown = format_number(floating->get());
    // Keep floats recognisable as floats, since that is often what the message is about.
    if (shown.find_first_of(".en") == std::string::npos) shown += ".0";
    return shown;
  }
  if (const auto* boolean = node.as_boolean()) return boolean->get() ? "true" : "false";
  return "";
}

// A value of the wrong type: its type first, since that is the problem.
std::string show_type(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string (" + show_value(node) + ")";
    case toml::node_type::integer:
      return "an integer (" + show_value(node) + ")";
    case toml::node_type::floating_point:
      return "a float (" + show_value(node) + ")";
    case toml::node_type::boolean:
      return "a boolean (" + show_value(node) + ")";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::optional<double> as_number(const toml::node& node) {
  if (const auto* integer = node.as_integer()) return static_cast<double>(integer->get());
  if (const auto* floating = node.as_floating_point()) return floating->get();
  return std::nullopt;
}

std::string describe_integer(std::int64_t min, std::int64_t max) {
  if (max == kNoMax) return "an integer >= " + std::to_string(min);
  return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

Unit unit_of(std::string_view key) {
  if (key.ends_with("_ms")) return {1e3, "milliseconds"};
  return {1e6, "seconds"};
}

std::string describe_time(const TimeBounds& bounds, const Unit& unit, bool show_max) {
  const std::string min = format_number(static_cast<double>(bounds.min) / unit.micros);
  const std::string max = format_number(static_cast<double>(bounds.max) / unit.micros);
  const std::string what = "a number of " + std::string(unit.name);
  if (show_max || bounds.max != kMaxTime) {
    return bounds.exclusive ? what + " > " + min + " and <= " + max
                            : what + " from " + min + " to " + max;
  }
  if (bounds.min == -kMaxTime) return what;
  return what + (bounds.exclusive ? " > " : " >= ") + min;
}

bool within(TimeUs value, const TimeBounds& bounds) {
  const bool above_min = bounds.exclusive ? value > bounds.min : value >= bounds.min;
  return above_min && value <= bounds.max;
}

std::string describe_container(const toml::node& node) {
  if (const auto* array = node.as_array(); array != nullptr && array->is_array_of_tables()) {
    return "an array of tables";
  }
  return show_type(node);
}

// A plain [table]; nullptr when the file leaves it out.
const toml::table* find_table(const Section& parent, std::string_view key,
                              const std::string& header) {
  const toml::node* value = parent.get(key);
  if (value == nullptr) return nullptr;
  const auto* table = value->as_table();
  if (table == nullptr) {
    parent.fail(line_of(*value), std::string(key) + ": expected a table " + header + ", got " +
                                     describe_container(*value));
  }
  return table;
}

// An [[array of tables]]; nullptr when the file leaves it out.
const toml::array* find_table_array(const Section& parent, std::string_view key,
                                    const std::string& header) {
  const toml::node* value = parent.get(key);
  if (value == nullptr) return nullptr;
  const auto* array = value->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    parent.fail(line_of(*value), std::string(key) + ": expected an array of tables " + header +
                                     ", got " + describe_container(*value));
  }
  return array;
}

}  // namespace parley::sim::reader
