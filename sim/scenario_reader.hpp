// The scenario loader's toolkit (sim/scenario.hpp): the key lists and limits, the messages'
// wording, and Section, the typed and range-checked reader of one TOML table. Internal to the
// loader, whose parts are
//   scenario.cpp         the file, the top level, [world], [network], [node], [random_faults],
//                        [push_gateway] and [expect]
//   scenario_social.cpp  [social], [[social.group]] and [traffic]
//   scenario_faults.cpp  [[fault]]: kinds, their keys, host strings
//   scenario_reader.cpp  this header's functions
// docs/scenarios.md is the user's view of every rule enforced here; keep the two in step.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/scenario.hpp"

namespace parley::sim::reader {

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

constexpr std::array<std::string_view, 12> kTables = {
    "world", "network", "node",          "cluster", "social",       "traffic",
    "user",  "fault",   "random_faults", "send",    "push_gateway", "expect"};
constexpr std::array<std::string_view, 7> kClusterKeys = {
    "replicas",  "gateways",  "etcd_members",    "lease_ttl_s",
    "append_ms", "follow_ms", "etcd_election_ms"};
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
constexpr std::array<std::string_view, 20> kTrafficKeys = {"messages_per_user_per_minute",
                                                           "group_percent",
                                                           "text_min",
                                                           "text_max",
                                                           "burst_at_s",
                                                           "burst_messages",
                                                           "burst",
                                                           "history_walks_per_user_per_minute",
                                                           "history_page_size",
                                                           "history_walk_pages",
                                                           "typing_percent",
                                                           "read_percent",
                                                           "edit_percent",
                                                           "delete_percent",
                                                           "reply_percent",
                                                           "mention_percent",
                                                           "mute_percent",
                                                           "stranger_percent",
                                                           "accept_percent",
                                                           "searches_per_user_per_minute"};
constexpr std::array<std::string_view, 7> kRandomFaultKeys = {
    "disconnects_per_minute", "partitions_per_minute", "partition_max_s",
    "crashes_per_minute",     "crash_max_s",           "clock_skew_max_ms",
    "clock_drift_max_ppm"};
constexpr std::array<std::string_view, 21> kExpectKeys = {"p99_delivery_ms_max",
                                                          "p50_delivery_ms_max",
                                                          "delivery_ms_max",
                                                          "presence_flaps_max",
                                                          "pushes_min",
                                                          "pushes_max",
                                                          "delivered_min",
                                                          "acked_min",
                                                          "connects_max",
                                                          "duplicate_acks_min",
                                                          "refused_max",
                                                          "presence_changes_max",
                                                          "presence_events_max",
                                                          "presence_repeats_max",
                                                          "typing_events_min",
                                                          "receipt_events_min",
                                                          "revisions_min",
                                                          "deliver_batch_max",
                                                          "errors_max",
                                                          "user",
                                                          "group"};

// A list of words, comma-separated, for messages.
std::string join(Keys words);
bool contains(Keys words, std::string_view word);
std::size_t line_of(const toml::node& node);
// Plain decimals where they stay readable (bounds, durations), exponents for the extremes.
std::string format_number(double value);
// A value quoted back the way the author wrote it.
std::string show_value(const toml::node& node);
// A value of the wrong type: its type first, since that is the problem.
std::string show_type(const toml::node& node);
std::optional<double> as_number(const toml::node& node);
std::string describe_integer(std::int64_t min, std::int64_t max);

// Time keys carry their unit in their name: "_s" seconds, "_ms" milliseconds.
struct Unit {
  double micros;
  std::string_view name;
};
Unit unit_of(std::string_view key);

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
std::string describe_time(const TimeBounds& bounds, const Unit& unit, bool show_max);
bool within(TimeUs value, const TimeBounds& bounds);

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
  // A moment of the run: 0 to [world] duration_s, which the message names as the bound.
  std::optional<TimeUs> moment(std::string_view key, TimeUs duration) const {
    const auto value = time(key, kNonNegative);
    if (value && *value > duration) {
      fail(line_of(*get(key)), std::string(key) + ": expected a number of seconds from 0 to " +
                                   format_number(static_cast<double>(duration) / 1e6) +
                                   " ([world] duration_s), got " + show_value(*get(key)));
    }
    return value;
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

// A value that should have been a table: what it is instead.
std::string describe_container(const toml::node& node);
// A plain [table]; nullptr when the file leaves it out.
const toml::table* find_table(const Section& parent, std::string_view key,
                              const std::string& header);
// An [[array of tables]]; nullptr when the file leaves it out.
const toml::array* find_table_array(const Section& parent, std::string_view key,
                                    const std::string& header);

// The sections read elsewhere.
void read_social(const Section& social, const Source& source, Scenario& s);  // scenario_social.cpp
void read_traffic(const Section& traffic, Scenario& s);                      // scenario_social.cpp
void read_faults(const Section& root, const Source& source, Scenario& s);    // scenario_faults.cpp
// scenario_scripted.cpp:
void read_sends(const Section& root, const Source& source, Scenario& s);
void read_bursts(const Section& traffic, const Source& source, Scenario& s);
void read_user_settings(const Section& root, const Source& source, Scenario& s);
void read_scoped_expects(const Section& expect, const Source& source, Scenario& s);
void read_errors_max(const Section& expect, const Source& source, Scenario& s);
void check_same_node(const Section& section, std::string_view key, const Scenario& s,
                     std::uint64_t user, std::uint64_t other);
std::uint64_t creator_of(const Scenario& s, const std::string& group);
// Fails at the section's `group` key unless a [[social.group]] has this name.
void check_group(const Section& section, const Scenario& s, const std::string& name);

}  // namespace parley::sim::reader
