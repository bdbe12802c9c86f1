// The scenario loader: TOML (toml++) in, a validated Scenario out. docs/scenarios.md is the
// user's view of every rule enforced here; keep the two in step.
//
// Every problem is reported as "FILE:LINE: message" at the line of the offending key or
// value, so a scenario author never has to guess. Unknown keys are errors rather than
// ignored: a misspelt key silently falling back to its default would run a different
// scenario than the one the author meant.
#include "sim/scenario.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/types.hpp"
#include "engine/utf8.hpp"

namespace parley::sim {
namespace {

using Keys = std::span<const std::string_view>;

// The longest time (in magnitude) a scenario may name: 10^7 s, about 116 days. Bounding every
// time keeps the unit conversions and the simulator's arithmetic from overflowing: a drifting
// clock computes elapsed * drift_ppm, which stays below 2^63 with kMaxDriftPpm.
constexpr TimeUs kMaxTime = 10'000'000'000'000;
constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMaxU32 = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxUsers = 1'000'000;
constexpr std::int64_t kMaxNodes = 16;
constexpr std::int64_t kMaxDevicesPerUser = 16;
// 10%: far beyond real quartz, and well away from -10^6 ppm, where a clock would stop.
constexpr std::int64_t kMaxDriftPpm = 100'000;
constexpr double kNoLimit = std::numeric_limits<double>::infinity();
constexpr std::size_t kMaxShownCodePoints = 40;  // of a string quoted back in a message

constexpr std::array<std::string_view, 9> kTables = {"world",         "network", "node",
                                                     "social",        "traffic", "fault",
                                                     "random_faults", "expect",  "push_gateway"};
constexpr std::array<std::string_view, 2> kPushGatewayKeys = {"latency_ms", "failure_percent"};
constexpr std::array<std::string_view, 2> kTopLevelKeys = {"name", "description"};
constexpr std::array<std::string_view, 7> kWorldKeys = {
    "seed", "duration_s", "settle_s", "nodes", "users", "devices_per_user", "push_tokens"};
constexpr std::array<std::string_view, 5> kNetworkKeys = {"latency_ms", "jitter_ms", "connect_ms",
                                                          "reconnect_min_ms", "reconnect_max_ms"};
constexpr std::array<std::string_view, 9> kNodeKeys = {
    "commit_ms",        "batch_wait_ms",         "batch_max",
    "tick_ms",          "heartbeat_interval_ms", "presence_timeout_ms",
    "push_collapse_ms", "delivery_batch",        "delivery_window"};
constexpr std::array<std::string_view, 3> kSocialKeys = {"contacts", "contacts_per_user", "group"};
constexpr std::array<std::string_view, 4> kContactModes = {"none", "all", "ring", "random"};
constexpr std::array<std::string_view, 3> kGroupKeys = {"name", "creator", "members"};
constexpr std::array<std::string_view, 6> kTrafficKeys = {"messages_per_user_per_minute",
                                                          "group_percent",
                                                          "text_min",
                                                          "text_max",
                                                          "burst_at_s",
                                                          "burst_messages"};
constexpr std::array<std::string_view, 7> kRandomFaultKeys = {
    "disconnects_per_minute", "partitions_per_minute", "partition_max_s",
    "crashes_per_minute",     "crash_max_s",           "clock_skew_max_ms",
    "clock_drift_max_ppm"};
constexpr std::array<std::string_view, 7> kExpectKeys = {
    "p99_delivery_ms_max", "p50_delivery_ms_max", "presence_flaps_max", "pushes_min",
    "pushes_max",          "delivered_min",       "acked_min"};

// [[fault]] keys besides at_s and kind; bit i of a mask stands for kFaultOptions[i].
constexpr std::array<std::string_view, 9> kFaultOptions = {"hosts",     "node",      "duration_s",
                                                           "step_ms",   "commit_ms", "offset_ms",
                                                           "drift_ppm", "group",     "user"};
constexpr std::array<std::string_view, 11> kFaultKeys = {
    "at_s",      "kind",      "hosts",     "node",  "duration_s", "step_ms",
    "commit_ms", "offset_ms", "drift_ppm", "group", "user"};
enum FaultOption : unsigned {
  kHosts = 1u << 0,
  kNode = 1u << 1,
  kDuration = 1u << 2,
  kStep = 1u << 3,
  kCommit = 1u << 4,
  kOffset = 1u << 5,
  kDrift = 1u << 6,
  kGroup = 1u << 7,
  kUser = 1u << 8,
};

struct KindRule {
  std::string_view name;
  FaultKind kind;
  unsigned required;
  unsigned optional;
};

constexpr std::array<KindRule, 14> kKindRules = {{
    {"disconnect", FaultKind::disconnect, kHosts, 0},
    {"partition", FaultKind::partition, kHosts, 0},
    {"heal", FaultKind::heal, 0, 0},
    {"swizzle", FaultKind::swizzle, kHosts, kStep},
    {"crash", FaultKind::crash, kDuration, kNode},
    {"clock", FaultKind::clock, kHosts, kOffset | kDrift},
    {"clock_step", FaultKind::clock_step, kHosts | kOffset, 0},
    {"slow_commit", FaultKind::slow_commit, kCommit | kDuration, kNode},
    {"logout", FaultKind::logout, kHosts | kDuration, 0},
    {"leave_group", FaultKind::leave_group, kUser | kGroup, 0},
    {"add_member", FaultKind::add_member, kUser | kGroup, 0},
    {"remove_member", FaultKind::remove_member, kUser | kGroup, 0},
    {"gateway_down", FaultKind::gateway_down, 0, 0},
    {"gateway_up", FaultKind::gateway_up, 0, 0},
}};

constexpr std::array<std::string_view, 14> kKindNames = {
    "disconnect", "partition",     "heal",         "swizzle",   "crash",
    "clock",      "clock_step",    "slow_commit",  "logout",    "leave_group",
    "add_member", "remove_member", "gateway_down", "gateway_up"};

// The parallel lists above must agree, or a kind would get another's rules.
constexpr bool lists_agree() {
  for (std::size_t i = 0; i < kKindRules.size(); ++i) {
    if (kKindRules[i].name != kKindNames[i]) return false;
  }
  for (std::size_t i = 0; i < kFaultOptions.size(); ++i) {
    if (kFaultKeys[i + 2] != kFaultOptions[i]) return false;
  }
  return true;
}
static_assert(lists_agree());

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

// Time keys carry their unit in their name: "_s" seconds, "_ms" milliseconds.
struct Unit {
  double micros;
  std::string_view name;
};

Unit unit_of(std::string_view key) {
  if (key.ends_with("_ms")) return {1e3, "milliseconds"};
  return {1e6, "seconds"};
}

// Allowed microseconds: [min, max], or (min, max] when `exclusive`.
struct TimeBounds {
  TimeUs min = 0;
  bool exclusive = false;
  TimeUs max = kMaxTime;
};

constexpr TimeBounds kNonNegative{0, false, kMaxTime};
constexpr TimeBounds kPositive{0, true, kMaxTime};
constexpr TimeBounds kAnySign{-kMaxTime, false, kMaxTime};

// The overall kMaxTime cap is named only when it is the bound that matters (`show_max`):
// "> 0 and <= 10000000" in every message would bury the "> 0" that usually matters.
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

// A key whose value must be ordered against another's; `scale` turns `value` into the unit
// the author wrote (1000 for a "_ms" key held in microseconds, 1 for a count).
struct Ordered {
  std::string_view key;
  std::int64_t value;
  std::int64_t scale = 1;

  std::string shown() const {
    return format_number(static_cast<double>(value) / static_cast<double>(scale));
  }
};

// Names where the text came from in every message.
class Source {
 public:
  explicit Source(const std::string& file) : file_(file) {}

  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    throw ScenarioError(file_ + ":" + std::to_string(std::max<std::size_t>(line, 1)) + ": " +
                        message);
  }

 private:
  const std::string& file_;
};

// One TOML table being read: typed, range-checked getters that fail with the table's label
// ("[world]", "[[fault]]") and the offending line.
class Section {
 public:
  Section(const Source& source, const toml::table& table, std::string label)
      : source_(source), table_(table), label_(std::move(label)) {}

  std::size_t line() const { return std::max<std::size_t>(line_of(table_), 1); }
  const toml::node* get(std::string_view key) const { return table_.get(key); }
  bool has(std::string_view key) const { return table_.contains(key); }

  // The line of `key`, or the table's own when the key is absent.
  std::size_t key_line(std::string_view key) const {
    const auto it = table_.find(key);
    return it == table_.end() ? line() : it->first.source().begin.line;
  }

  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    source_.fail(line, label_.empty() ? message : label_ + " " + message);
  }
  [[noreturn]] void fail_unprefixed(std::size_t line, const std::string& message) const {
    source_.fail(line, message);
  }
  [[noreturn]] void fail_value(std::string_view key, const toml::node& value,
                               const std::string& expected, bool right_type) const {
    fail(line_of(value), std::string(key) + ": expected " + expected + ", got " +
                             (right_type ? show_value(value) : show_type(value)));
  }
  [[noreturn]] void fail_missing(std::string_view key, const std::string& context = "") const {
    fail(line(), "missing required key '" + std::string(key) + "'" + context);
  }

  // Keys in the order the author wrote them, so the first problem in the file is reported.
  std::vector<std::pair<std::string_view, std::size_t>> keys_in_file_order() const {
    std::vector<std::pair<std::string_view, std::size_t>> keys;
    for (const auto& [key, value] : table_) {
      keys.emplace_back(key.str(), key.source().begin.line);
    }
    std::stable_sort(keys.begin(), keys.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    return keys;
  }

  void reject_unknown(Keys known) const {
    for (const auto& [key, line] : keys_in_file_order()) {
      if (contains(known, key)) continue;
      fail(line, "unknown key '" + std::string(key) + "' (known keys: " + join(known) + ")");
    }
  }

  std::optional<std::int64_t> integer(std::string_view key, std::int64_t min,
                                      std::int64_t max) const {
    const toml::node* value = get(key);
    if (value == nullptr) return std::nullopt;
    const auto* integer = value->as_integer();
    if (integer == nullptr) fail_value(key, *value, describe_integer(min, max), false);
    if (integer->get() < min || integer->get() > max) {
      fail_value(key, *value, describe_integer(min, max), true);
    }
    return integer->get();
  }

  template <typename T>
  void read(std::string_view key, T& out, std::int64_t min, std::int64_t max) const {
    if (const auto value = integer(key, min, max)) out = static_cast<T>(*value);
  }
  template <typename T>
  void read(std::string_view key, std::optional<T>& out, std::int64_t min, std::int64_t max) const {
    if (const auto value = integer(key, min, max)) out = static_cast<T>(*value);
  }

  // An integer or float in the unit the key's name carries, in microseconds rounded to the
  // nearest.
  std::optional<TimeUs> time(std::string_view key, const TimeBounds& bounds) const {
    const toml::node* value = get(key);
    if (value == nullptr) return std::nullopt;
    const Unit unit = unit_of(key);
    const std::optional<double> number = as_number(*value);
    if (!number) fail_value(key, *value, describe_time(bounds, unit, false), false);
    const double micros = *number * unit.micros;
    // Checked before rounding: llround of a non-finite or huge value is unspecified.
    if (!std::isfinite(micros) || std::fabs(micros) > static_cast<double>(kMaxTime) + 1) {
      fail_value(key, *value, describe_time(bounds, unit, true), true);
    }
    const TimeUs rounded = std::llround(micros);
    if (!within(rounded, bounds)) {
      const bool rounding_matters = static_cast<double>(rounded) != micros;
      const bool too_big = std::llabs(rounded) > kMaxTime;
      fail(line_of(*value),
           std::string(key) + ": expected " + describe_time(bounds, unit, too_big) + ", got " +
               show_value(*value) +
               (rounding_matters ? ", which rounds to " + std::to_string(rounded) + " microseconds"
                                 : ""));
    }
    return rounded;
  }

  void read_time(std::string_view key, TimeUs& out, const TimeBounds& bounds) const {
    if (const auto value = time(key, bounds)) out = *value;
  }
  void read_time(std::string_view key, std::optional<TimeUs>& out, const TimeBounds& bounds) const {
    if (const auto value = time(key, bounds)) out = *value;
  }

  // An integer or a finite float from min to max.
  void read_number(std::string_view key, double& out, double min, double max = kNoLimit) const {
    if (const auto value = number(key, min, max)) out = *value;
  }
  void read_number(std::string_view key, std::optional<double>& out, double min,
                   double max = kNoLimit) const {
    if (const auto value = number(key, min, max)) out = *value;
  }

  void read_bool(std::string_view key, bool& out) const {
    const toml::node* value = get(key);
    if (value == nullptr) return;
    const auto* boolean = value->as_boolean();
    if (boolean == nullptr) fail_value(key, *value, "true or false", false);
    out = boolean->get();
  }

  std::optional<std::string> string(std::string_view key) const {
    const toml::node* value = get(key);
    if (value == nullptr) return std::nullopt;
    const auto* text = value->as_string();
    if (text == nullptr) fail_value(key, *value, "a string", false);
    return text->get();
  }

  // A string that must be one of `choices`; returns its index.
  std::optional<std::size_t> choice(std::string_view key, Keys choices) const {
    const toml::node* value = get(key);
    if (value == nullptr) return std::nullopt;
    const std::string expected = "one of " + join(choices);
    const auto* text = value->as_string();
    if (text == nullptr) fail_value(key, *value, expected, false);
    const auto it = std::find(choices.begin(), choices.end(), text->get());
    if (it == choices.end()) fail_value(key, *value, expected, true);
    return static_cast<std::size_t>(it - choices.begin());
  }

  // Requires low <= high (low < high when `strict`). Blames `high` when the author set it,
  // else `low`: the key the author wrote is the one to fix.
  void require_order(const Ordered& low, const Ordered& high, bool strict) const {
    if (strict ? low.value < high.value : low.value <= high.value) return;
    if (has(high.key) || !has(low.key)) {
      fail(key_line(high.key), std::string(high.key) + ": expected " +
                                   (strict ? "more than " : "at least ") + std::string(low.key) +
                                   " (" + low.shown() + "), got " + high.shown());
    }
    fail(key_line(low.key), std::string(low.key) + ": expected " +
                                (strict ? "less than " : "at most ") + std::string(high.key) +
                                " (" + high.shown() + "), got " + low.shown());
  }

 private:
  std::optional<double> number(std::string_view key, double min, double max) const {
    const toml::node* value = get(key);
    if (value == nullptr) return std::nullopt;
    const std::string expected =
        max == kNoLimit ? "a number >= " + format_number(min)
                        : "a number from " + format_number(min) + " to " + format_number(max);
    const std::optional<double> number = as_number(*value);
    if (!number) fail_value(key, *value, expected, false);
    if (!std::isfinite(*number) || *number < min || *number > max) {
      fail_value(key, *value, expected, true);
    }
    return number;
  }

  const Source& source_;
  const toml::table& table_;
  std::string label_;
};

// --- top level --------------------------------------------------------------------------

std::string describe_container(const toml::node& node) {
  if (const auto* array = node.as_array(); array != nullptr && array->is_array_of_tables()) {
    return "an array of tables";
  }
  return show_type(node);
}

void reject_unknown_top_level(const Section& root) {
  const std::string tables = join(kTables);
  for (const auto& [key, line] : root.keys_in_file_order()) {
    if (contains(kTables, key) || contains(kTopLevelKeys, key)) continue;
    const toml::node& value = *root.get(key);
    const std::string name(key);
    if (value.is_table()) {
      root.fail(line, "unknown table [" + name + "] (known tables: " + tables + ")");
    }
    if (const auto* array = value.as_array(); array != nullptr && array->is_array_of_tables()) {
      root.fail(line, "unknown table [[" + name + "]] (known tables: " + tables + ")");
    }
    root.fail(line, "unknown key '" + name + "' (known keys: " + join(kTopLevelKeys) +
                        "; known tables: " + tables + ")");
  }
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

// "scenarios/chat.toml" -> "chat".
std::string stem_of(const std::string& file) {
  std::string base = std::filesystem::path(file).filename().string();
  if (base.ends_with(".toml") && base.size() > 5) base.resize(base.size() - 5);
  return base;
}

void read_top_level(const Section& root, Scenario& scenario) {
  reject_unknown_top_level(root);
  scenario.name = root.string("name").value_or(stem_of(scenario.file));
  if (auto description = root.string("description")) scenario.description = *description;
}

// --- [world], [network], [node] ---------------------------------------------------------

void read_world(const Section& world, Scenario& s) {
  world.reject_unknown(kWorldKeys);
  world.read("seed", s.seed, 0, kNoMax);
  world.read_time("duration_s", s.duration, kPositive);
  world.read_time("settle_s", s.settle, kNonNegative);
  world.read("nodes", s.nodes, 1, kMaxNodes);
  world.read("users", s.users, 1, kMaxUsers);
  world.read("devices_per_user", s.devices_per_user, 1, kMaxDevicesPerUser);
  world.read_bool("push_tokens", s.push_tokens);
}

void read_network(const Section& network, Scenario& s) {
  network.reject_unknown(kNetworkKeys);
  network.read_time("latency_ms", s.latency, kNonNegative);
  network.read_time("jitter_ms", s.jitter, kNonNegative);
  network.read_time("connect_ms", s.connect_time, kNonNegative);
  network.read_time("reconnect_min_ms", s.reconnect_min, kPositive);
  network.read_time("reconnect_max_ms", s.reconnect_max, kPositive);
  network.require_order({"reconnect_min_ms", s.reconnect_min, 1000},
                        {"reconnect_max_ms", s.reconnect_max, 1000}, false);
}

void read_node(const Section& node, Scenario& s) {
  node.reject_unknown(kNodeKeys);
  node.read_time("commit_ms", s.commit, kNonNegative);
  node.read_time("batch_wait_ms", s.batch_wait, kNonNegative);
  node.read("batch_max", s.batch_max, 1, kMaxU32);
  node.read_time("tick_ms", s.tick, kPositive);
  node.read_time("heartbeat_interval_ms", s.heartbeat_interval, kPositive);
  node.read_time("presence_timeout_ms", s.presence_timeout, kPositive);
  node.read_time("push_collapse_ms", s.push_collapse, kNonNegative);
  node.read("delivery_batch", s.delivery_batch, 1, kMaxU32);
  node.read("delivery_window", s.delivery_window, 1, kMaxU32);
  node.require_order({"heartbeat_interval_ms", s.heartbeat_interval, 1000},
                     {"presence_timeout_ms", s.presence_timeout, 1000}, true);
  node.require_order({"delivery_batch", s.delivery_batch}, {"delivery_window", s.delivery_window},
                     false);
}

// --- [social] and [[social.group]] ------------------------------------------------------

std::string describe_user_id(const Scenario& s) {
  return "a user id from 1 to " + std::to_string(s.users);
}

// Members besides the creator, each once, in the order written.
void read_member_list(const Section& group, const toml::array& list, const Scenario& s,
                      GroupSpec& spec) {
  for (const toml::node& element : list) {
    const auto* id = element.as_integer();
    if (id == nullptr) group.fail_value("members", element, describe_user_id(s), false);
    if (id->get() < 1 || static_cast<std::uint64_t>(id->get()) > s.users) {
      group.fail_value("members", element, describe_user_id(s), true);
    }
    const auto user = static_cast<std::uint64_t>(id->get());
    if (user == spec.creator) continue;
    if (std::find(spec.members.begin(), spec.members.end(), user) != spec.members.end()) continue;
    spec.members.push_back(user);
  }
  const std::size_t total = spec.members.size() + 1;
  if (total > engine::limits::kMaxGroupMembers) {
    group.fail(line_of(list), "members: a group holds at most " +
                                  std::to_string(engine::limits::kMaxGroupMembers) +
                                  " members, its creator included; this one has " +
                                  std::to_string(total));
  }
}

void read_members(const Section& group, const Scenario& s, GroupSpec& spec) {
  const toml::node* value = group.get("members");
  if (value == nullptr) return;
  const std::string expected =
      "an array of user ids from 1 to " + std::to_string(s.users) + ", or \"all\"";
  if (const auto* text = value->as_string()) {
    if (text->get() != "all") group.fail_value("members", *value, expected, true);
    if (s.users > engine::limits::kMaxGroupMembers) {
      group.fail(line_of(*value), "members: \"all\" makes " + std::to_string(s.users) +
                                      " members (users = " + std::to_string(s.users) +
                                      ") but a group holds at most " +
                                      std::to_string(engine::limits::kMaxGroupMembers));
    }
    spec.all_members = true;
    return;
  }
  const auto* list = value->as_array();
  if (list == nullptr) group.fail_value("members", *value, expected, false);
  read_member_list(group, *list, s, spec);
}

void read_group_name(const Section& group, std::map<std::string, std::size_t>& names,
                     GroupSpec& spec) {
  const auto name = group.string("name");
  if (!name) group.fail_missing("name");
  const toml::node& value = *group.get("name");
  const auto code_points = engine::utf8_code_points(*name);
  if (!code_points || *code_points == 0 || *code_points > engine::limits::kMaxGroupNameCodePoints) {
    group.fail_value("name", value, "1 to 100 characters", true);
  }
  const auto [it, inserted] = names.emplace(*name, line_of(value));
  if (!inserted) {
    group.fail(line_of(value), "name: '" + *name + "' is already the name of the group on line " +
                                   std::to_string(it->second));
  }
  spec.name = *name;
}

GroupSpec read_group(const Section& group, const Scenario& s,
                     std::map<std::string, std::size_t>& names) {
  group.reject_unknown(kGroupKeys);
  GroupSpec spec;
  read_group_name(group, names, spec);
  group.read("creator", spec.creator, 1, static_cast<std::int64_t>(s.users));
  read_members(group, s, spec);
  return spec;
}

void read_groups(const Section& social, const Source& source, Scenario& s) {
  const toml::array* groups = find_table_array(social, "group", "[[social.group]]");
  if (groups == nullptr) return;
  std::map<std::string, std::size_t> names;  // name -> line, to catch duplicates
  for (const toml::node& element : *groups) {
    const Section group(source, *element.as_table(), "[[social.group]]");
    s.groups.push_back(read_group(group, s, names));
  }
}

void read_social(const Section& social, const Source& source, Scenario& s) {
  social.reject_unknown(kSocialKeys);
  if (const auto mode = social.choice("contacts", kContactModes)) {
    s.contacts = std::string(kContactModes[*mode]);
  }
  social.read("contacts_per_user", s.contacts_per_user, 0,
              static_cast<std::int64_t>(engine::limits::kMaxContacts));
  // Each user needs that many distinct others to befriend.
  if (s.contacts == "random" && s.contacts_per_user >= s.users) {
    const std::string_view blamed =
        social.has("contacts_per_user") ? "contacts_per_user" : "contacts";
    social.fail(social.key_line(blamed),
                "contacts_per_user: expected less than users (" + std::to_string(s.users) +
                    ") when contacts = \"random\", got " + std::to_string(s.contacts_per_user));
  }
  read_groups(social, source, s);
}

// --- [traffic] --------------------------------------------------------------------------

void read_traffic(const Section& traffic, Scenario& s) {
  traffic.reject_unknown(kTrafficKeys);
  traffic.read_number("messages_per_user_per_minute", s.messages_per_user_per_minute, 0);
  traffic.read("group_percent", s.group_percent, 0, 100);
  const auto max_text = static_cast<std::int64_t>(engine::limits::kMaxMessageCodePoints);
  traffic.read("text_min", s.text_min, 1, max_text);
  traffic.read("text_max", s.text_max, 1, max_text);
  traffic.require_order({"text_min", s.text_min}, {"text_max", s.text_max}, false);
  traffic.read_time("burst_at_s", s.burst_at, {0, false, s.duration});
  traffic.read("burst_messages", s.burst_messages, 0, kMaxU32);
}

// --- [[fault]] --------------------------------------------------------------------------

[[noreturn]] void fail_host(const Section& fault, const toml::node& value,
                            const std::string& problem) {
  fault.fail(line_of(value), "hosts: " + problem);
}

// Digits only: no sign, no spaces. Too large to hold reads as the largest value, which every
// range check then rejects.
std::optional<std::uint64_t> parse_index(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (end != digits.data() + digits.size()) return std::nullopt;
  if (error == std::errc::result_out_of_range) return std::numeric_limits<std::uint64_t>::max();
  if (error != std::errc()) return std::nullopt;
  return value;
}

template <typename T>
void add_once(std::vector<T>& list, const T& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// `what` says which numbers exist, e.g. "users are 1 to 2".
[[noreturn]] void fail_host_range(const Section& fault, const toml::node& value,
                                  const std::string& what) {
  fail_host(fault, value, show_value(value) + " is out of range (" + what + ")");
}

void check_user(const Section& fault, const toml::node& value, std::uint64_t user,
                const Scenario& s) {
  if (user >= 1 && user <= s.users) return;
  fail_host_range(fault, value, "users are 1 to " + std::to_string(s.users));
}

void add_device(const Section& fault, const toml::node& value, std::string_view rest,
                const Scenario& s, HostSet& hosts) {
  const std::size_t slash = rest.find('/');
  const auto user = parse_index(rest.substr(0, slash));
  const auto device =
      slash == std::string_view::npos ? std::nullopt : parse_index(rest.substr(slash + 1));
  if (!user || !device) {
    fail_host(fault, value, "bad host " + show_value(value) + " (expected device:U/K)");
  }
  check_user(fault, value, *user, s);
  if (*device < 1 || *device > s.devices_per_user) {
    fail_host_range(fault, value,
                    "devices are 1 to " + std::to_string(s.devices_per_user) + " per user");
  }
  add_once(hosts.devices, {*user, static_cast<std::uint32_t>(*device)});
}

void add_host(const Section& fault, const toml::node& value, const Scenario& s, HostSet& hosts) {
  const auto* text = value.as_string();
  if (text == nullptr) fault.fail_value("hosts", value, "a host string", false);
  const std::string_view host = text->get();
  if (host == "users") {
    hosts.all_users = true;
  } else if (host == "nodes") {
    hosts.all_nodes = true;
  } else if (host.starts_with("node:")) {
    const auto node = parse_index(host.substr(5));
    if (!node) fail_host(fault, value, "bad host " + show_value(value) + " (expected node:N)");
    if (*node >= s.nodes) {
      fail_host_range(fault, value, "nodes are 0 to " + std::to_string(s.nodes - 1));
    }
    add_once(hosts.nodes, static_cast<std::uint32_t>(*node));
  } else if (host.starts_with("user:")) {
    const auto user = parse_index(host.substr(5));
    if (!user) fail_host(fault, value, "bad host " + show_value(value) + " (expected user:U)");
    check_user(fault, value, *user, s);
    add_once(hosts.users, *user);
  } else if (host.starts_with("device:")) {
    add_device(fault, value, host.substr(7), s, hosts);
  } else {
    fail_host(fault, value,
              "bad host " + show_value(value) +
                  " (expected node:N, user:U, device:U/K, \"users\" or \"nodes\")");
  }
}

HostSet read_hosts(const Section& fault, const Scenario& s) {
  const toml::node& value = *fault.get("hosts");
  HostSet hosts;
  if (const auto* list = value.as_array()) {
    if (list->empty()) fault.fail(line_of(value), "hosts: expected at least one host, got []");
    for (const toml::node& element : *list)
      add_host(fault, element, s, hosts);
  } else if (value.is_string()) {
    add_host(fault, value, s, hosts);
  } else {
    fault.fail_value("hosts", value, "a host string or an array of them", false);
  }
  return hosts;
}

const KindRule& read_kind(const Section& fault) {
  const auto index = fault.choice("kind", kKindNames);
  if (!index) fault.fail_missing("kind");
  return kKindRules[*index];
}

// Options the kind does not take are errors, not ignored: "commit_ms" on a "crash" suggests
// the author meant a different fault.
void check_options(const Section& fault, const KindRule& rule) {
  const std::string kind(rule.name);
  for (const auto& [key, line] : fault.keys_in_file_order()) {
    const auto it = std::find(kFaultOptions.begin(), kFaultOptions.end(), key);
    if (it == kFaultOptions.end()) continue;  // at_s or kind
    const unsigned bit = 1u << static_cast<unsigned>(it - kFaultOptions.begin());
    if (((rule.required | rule.optional) & bit) != 0) continue;
    fault.fail_unprefixed(
        line, "key '" + std::string(key) + "' does not apply to a '" + kind + "' fault");
  }
  for (std::size_t i = 0; i < kFaultOptions.size(); ++i) {
    if ((rule.required & (1u << i)) == 0 || fault.has(kFaultOptions[i])) continue;
    fault.fail_missing(kFaultOptions[i], " for a '" + kind + "' fault");
  }
}

void read_fault_target(const Section& fault, const Scenario& s, Fault& out) {
  if (fault.has("hosts")) out.hosts = read_hosts(fault, s);
  fault.read("node", out.node, 0, static_cast<std::int64_t>(s.nodes) - 1);
  fault.read("user", out.user, 1, static_cast<std::int64_t>(s.users));
  if (const auto group = fault.string("group")) {
    const auto known = [&](const GroupSpec& spec) { return spec.name == *group; };
    if (std::none_of(s.groups.begin(), s.groups.end(), known)) {
      fault.fail(line_of(*fault.get("group")), "group: no group named '" + *group + "'");
    }
    out.group = *group;
  }
}

Fault read_fault(const Section& fault, const Scenario& s) {
  fault.reject_unknown(kFaultKeys);
  Fault out;
  out.line = fault.line();
  const KindRule& rule = read_kind(fault);
  out.kind = rule.kind;
  if (!fault.has("at_s")) fault.fail_missing("at_s");
  fault.read_time("at_s", out.at, {0, false, s.duration});
  check_options(fault, rule);
  read_fault_target(fault, s, out);
  fault.read_time("duration_s", out.duration, kPositive);
  fault.read_time("step_ms", out.step, kPositive);
  fault.read_time("commit_ms", out.commit, kNonNegative);
  fault.read_time("offset_ms", out.offset, kAnySign);
  fault.read("drift_ppm", out.drift_ppm, -kMaxDriftPpm, kMaxDriftPpm);
  return out;
}

void read_faults(const Section& root, const Source& source, Scenario& s) {
  const toml::array* faults = find_table_array(root, "fault", "[[fault]]");
  if (faults == nullptr) return;
  for (const toml::node& element : *faults) {
    s.faults.push_back(read_fault(Section(source, *element.as_table(), "[[fault]]"), s));
  }
}

// --- [random_faults], [expect] ----------------------------------------------------------

void read_random_faults(const Section& random, Scenario& s) {
  random.reject_unknown(kRandomFaultKeys);
  random.read_number("disconnects_per_minute", s.disconnects_per_minute, 0);
  random.read_number("partitions_per_minute", s.partitions_per_minute, 0);
  random.read_time("partition_max_s", s.partition_max, kPositive);
  random.read_number("crashes_per_minute", s.crashes_per_minute, 0);
  random.read_time("crash_max_s", s.crash_max, kPositive);
  // Same caps as a [[fault]] clock's offset_ms and drift_ppm: the simulator draws from these.
  random.read_number("clock_skew_max_ms", s.clock_skew_max_ms, 0,
                     static_cast<double>(kMaxTime) / 1000);
  random.read_number("clock_drift_max_ppm", s.clock_drift_max_ppm, 0,
                     static_cast<double>(kMaxDriftPpm));
}

void read_push_gateway(const Section& gateway, Scenario& s) {
  gateway.reject_unknown(kPushGatewayKeys);
  gateway.read_time("latency_ms", s.gateway_latency, kNonNegative);
  gateway.read_number("failure_percent", s.gateway_failure_percent, 0, 100);
}

void read_expect(const Section& expect, Scenario& s) {
  expect.reject_unknown(kExpectKeys);
  expect.read_number("p99_delivery_ms_max", s.p99_delivery_ms_max, 0);
  expect.read_number("p50_delivery_ms_max", s.p50_delivery_ms_max, 0);
  expect.read("presence_flaps_max", s.presence_flaps_max, 0, kNoMax);
  expect.read("pushes_min", s.pushes_min, 0, kNoMax);
  expect.read("pushes_max", s.pushes_max, 0, kNoMax);
  expect.read("delivered_min", s.delivered_min, 0, kNoMax);
  expect.read("acked_min", s.acked_min, 0, kNoMax);
}

// Reads [name] with `read` if the file has it.
template <typename Reader>
void with_table(const Section& root, const Source& source, std::string_view name, Reader read) {
  const std::string header = "[" + std::string(name) + "]";
  if (const toml::table* table = find_table(root, name, header))
    read(Section(source, *table, header));
}

toml::table parse_toml(std::string_view text, const std::string& file, const Source& source) {
  try {
    return toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& error) {
    source.fail(error.source().begin.line, std::string(error.description()));
  }
}

}  // namespace

Scenario parse_scenario(std::string_view text, const std::string& file) {
  const Source source(file);
  const toml::table document = parse_toml(text, file, source);
  const Section root(source, document, "");
  Scenario s;
  s.file = file;
  read_top_level(root, s);
  // [world] first: the other sections check users, nodes and times against it.
  with_table(root, source, "world", [&](const Section& t) { read_world(t, s); });
  with_table(root, source, "network", [&](const Section& t) { read_network(t, s); });
  with_table(root, source, "node", [&](const Section& t) { read_node(t, s); });
  // [social] before [[fault]]: faults name its groups.
  with_table(root, source, "social", [&](const Section& t) { read_social(t, source, s); });
  with_table(root, source, "traffic", [&](const Section& t) { read_traffic(t, s); });
  read_faults(root, source, s);
  with_table(root, source, "random_faults", [&](const Section& t) { read_random_faults(t, s); });
  with_table(root, source, "expect", [&](const Section& t) { read_expect(t, s); });
  with_table(root, source, "push_gateway", [&](const Section& t) { read_push_gateway(t, s); });
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw ScenarioError(path + ": cannot read file");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) throw ScenarioError(path + ": cannot read file");
  return parse_scenario(text, path);
}

}  // namespace parley::sim
