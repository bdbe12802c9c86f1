// The scenario loader: what a scenario scripts beyond the random traffic and the world's
// defaults: [[send]] (one chosen message), [[traffic.burst]], [[user]] (settings for some
// users) and the scoped expectations [[expect.user]] and [[expect.group]].
#include <algorithm>
#include <string>

#include "engine/types.hpp"
#include "sim/scenario_reader.hpp"

namespace parley::sim::reader {
namespace {

constexpr std::array<std::string_view, 8> kSendKeys = {"at_s",  "user", "device", "to",
                                                       "group", "text", "repeat", "outcome"};
constexpr std::array<std::string_view, 4> kBurstKeys = {"at_s", "duration_s", "messages", "users"};
constexpr std::array<std::string_view, 4> kUserKeys = {"users", "devices", "messages_per_minute",
                                                       "heartbeat_interval_ms"};
constexpr std::array<std::string_view, 5> kScopedExpectKeys = {
    "pushes_min", "pushes_max", "delivered_min", "delivered_max", "delivery_ms_max"};
// Bounds the text a [[send]] builds: well past the engine's limit (99,999 code points of up
// to 4 bytes), small enough for the simulator to hold.
constexpr std::size_t kMaxScriptedTextBytes = 16u << 20;

}  // namespace

std::uint64_t creator_of(const Scenario& s, const std::string& group) {
  for (const GroupSpec& spec : s.groups) {
    if (spec.name == group) return spec.creator;
  }
  return 0;
}

void check_group(const Section& section, const Scenario& s, const std::string& name) {
  if (creator_of(s, name) != 0) return;  // creators are users, numbered from 1
  section.fail(line_of(*section.get("group")), "group: no group named '" + name + "'");
}

// Until nodes exchange messages, a chat lives on one node: the sender must live where the
// peer (or the group's creator) does, as the simulator's groups must (docs/scenarios.md,
// Nodes).
void check_same_node(const Section& section, std::string_view key, const Scenario& s,
                     std::uint64_t user, std::uint64_t other) {
  if (s.replicas > 0 || s.nodes <= 1) return;
  const auto home = [&](std::uint64_t u) { return (u - 1) % s.nodes; };
  if (home(user) == home(other)) return;
  section.fail(section.key_line(key),
               std::string(key) + ": user " + std::to_string(user) + " lives on node " +
                   std::to_string(home(user)) + " and user " + std::to_string(other) + " on node " +
                   std::to_string(home(other)) + "; cross-node chat is not simulated yet");
}

namespace {

std::uint64_t read_user_id(const Section& section, std::string_view key, const toml::node& value,
                           const Scenario& s) {
  const std::string expected = "a user id from 1 to " + std::to_string(s.users);
  const auto* id = value.as_integer();
  if (id == nullptr) section.fail_value(key, value, expected, false);
  if (id->get() < 1 || static_cast<std::uint64_t>(id->get()) > s.users) {
    section.fail_value(key, value, expected, true);
  }
  return static_cast<std::uint64_t>(id->get());
}

// A user id or an array of them, each once, in the order written.
std::vector<std::uint64_t> read_users(const Section& section, std::string_view key,
                                      const Scenario& s) {
  const toml::node* value = section.get(key);
  std::vector<std::uint64_t> users;
  if (value == nullptr) return users;
  const auto* list = value->as_array();
  if (list == nullptr) {
    if (!value->is_integer()) {
      section.fail_value(key, *value, "a user id or an array of user ids", false);
    }
    users.push_back(read_user_id(section, key, *value, s));
    return users;
  }
  if (list->empty())
    section.fail(line_of(*value), std::string(key) + ": expected at least one user, got []");
  for (const toml::node& element : *list) {
    const std::uint64_t user = read_user_id(section, key, element, s);
    if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
  }
  return users;
}

void read_outcome(const Section& send, ScriptedSend& out) {
  const auto outcome = send.string("outcome");
  if (!outcome) return;
  if (*outcome != "acked" && !engine::error_code_from_string(*outcome)) {
    send.fail_value("outcome", *send.get("outcome"),
                    "\"acked\" or an error code (docs/protocol.md), e.g. \"message_too_long\"",
                    true);
  }
  out.outcome = *outcome;
}

ScriptedSend read_send(const Section& send, const Scenario& s) {
  send.reject_unknown(kSendKeys);
  ScriptedSend out;
  out.line = send.line();
  if (!send.has("at_s")) send.fail_missing("at_s");
  out.at = *send.moment("at_s", s.duration);
  if (!send.has("user")) send.fail_missing("user");
  out.user = read_user_id(send, "user", *send.get("user"), s);
  const std::uint32_t devices = devices_of(s, out.user);
  if (const toml::node* device = send.get("device")) {
    const auto* index = device->as_integer();
    if (index == nullptr || index->get() < 1 || index->get() > devices) {
      send.fail_value("device", *device,
                      "a device of user " + std::to_string(out.user) + ", 1 to " +
                          std::to_string(devices) +
                          " ([world] devices_per_user, or the user's [[user]] devices)",
                      index != nullptr);
    }
    out.device = static_cast<std::uint32_t>(index->get());
  }
  if (send.has("to") == send.has("group")) {
    send.fail(send.line(), "names its chat with exactly one of 'to' (a user) and 'group'");
  }
  if (send.has("to")) {
    out.to = read_user_id(send, "to", *send.get("to"), s);
    check_same_node(send, "to", s, out.user, out.to);
  }
  if (const auto group = send.string("group")) {
    check_group(send, s, *group);
    out.group = *group;
    check_same_node(send, "group", s, out.user, creator_of(s, *group));
  }
  if (!send.has("text")) send.fail_missing("text");
  out.text = *send.string("text");
  send.read("repeat", out.repeat, 0, kMaxU32);
  if (out.text.size() * out.repeat > kMaxScriptedTextBytes) {
    send.fail(send.key_line("repeat"),
              "repeat: the text would be " + std::to_string(out.text.size() * out.repeat) +
                  " bytes; at most " + std::to_string(kMaxScriptedTextBytes) + " are allowed");
  }
  read_outcome(send, out);
  return out;
}

Burst read_burst(const Section& burst, const Scenario& s) {
  burst.reject_unknown(kBurstKeys);
  Burst out;
  if (!burst.has("at_s")) burst.fail_missing("at_s");
  out.at = *burst.moment("at_s", s.duration);
  burst.read_time("duration_s", out.duration, kNonNegative);
  if (!burst.has("messages")) burst.fail_missing("messages");
  burst.read("messages", out.messages, 0, kMaxU32);
  out.users = read_users(burst, "users", s);
  // A burst with a duration schedules each message up front: bound them.
  constexpr std::uint64_t kMaxBurstMessages = 10'000'000;
  const std::uint64_t users = out.users.empty() ? s.users : out.users.size();
  if (users * out.messages > kMaxBurstMessages) {
    burst.fail(burst.key_line("messages"),
               "messages: " + std::to_string(users) + " users x " + std::to_string(out.messages) +
                   " messages is more than " + std::to_string(kMaxBurstMessages));
  }
  return out;
}

UserSettings read_user_settings(const Section& user, const Scenario& s) {
  user.reject_unknown(kUserKeys);
  UserSettings out;
  out.line = user.line();
  if (!user.has("users")) user.fail_missing("users");
  out.users = read_users(user, "users", s);
  if (user.has("devices")) {
    std::uint32_t devices = 1;
    user.read("devices", devices, 1, kMaxDevicesPerUser);
    out.devices = devices;
  }
  user.read_number("messages_per_minute", out.messages_per_minute, 0);
  user.read_time("heartbeat_interval_ms", out.heartbeat_interval, kNonNegative);
  return out;
}

ScopedExpect read_scoped(const Section& expect) {
  ScopedExpect out;
  expect.read("pushes_min", out.pushes_min, 0, kNoMax);
  expect.read("pushes_max", out.pushes_max, 0, kNoMax);
  expect.read("delivered_min", out.delivered_min, 0, kNoMax);
  expect.read("delivered_max", out.delivered_max, 0, kNoMax);
  expect.read_number("delivery_ms_max", out.delivery_ms_max, 0);
  return out;
}

template <typename Read>
void for_each_table(const Section& parent, const Source& source, std::string_view key,
                    const std::string& header, Read read) {
  const toml::array* tables = find_table_array(parent, key, header);
  if (tables == nullptr) return;
  for (const toml::node& element : *tables)
    read(Section(source, *element.as_table(), header));
}

}  // namespace

void read_sends(const Section& root, const Source& source, Scenario& s) {
  for_each_table(root, source, "send", "[[send]]",
                 [&](const Section& send) { s.sends.push_back(read_send(send, s)); });
}

void read_bursts(const Section& traffic, const Source& source, Scenario& s) {
  for_each_table(traffic, source, "burst", "[[traffic.burst]]",
                 [&](const Section& burst) { s.bursts.push_back(read_burst(burst, s)); });
}

void read_user_settings(const Section& root, const Source& source, Scenario& s) {
  for_each_table(root, source, "user", "[[user]]", [&](const Section& user) {
    s.user_settings.push_back(read_user_settings(user, s));
  });
}

void read_scoped_expects(const Section& expect, const Source& source, Scenario& s) {
  for_each_table(expect, source, "user", "[[expect.user]]", [&](const Section& scoped) {
    std::vector<std::string_view> keys(kScopedExpectKeys.begin(), kScopedExpectKeys.end());
    keys.insert(keys.begin(), "user");
    scoped.reject_unknown(keys);
    if (!scoped.has("user")) scoped.fail_missing("user");
    ScopedExpect out = read_scoped(scoped);
    out.user = read_user_id(scoped, "user", *scoped.get("user"), s);
    s.user_expects.push_back(out);
  });
  for_each_table(expect, source, "group", "[[expect.group]]", [&](const Section& scoped) {
    std::vector<std::string_view> keys(kScopedExpectKeys.begin(), kScopedExpectKeys.end());
    keys.insert(keys.begin(), "group");
    scoped.reject_unknown(keys);
    const auto group = scoped.string("group");
    if (!group) scoped.fail_missing("group");
    check_group(scoped, s, *group);
    ScopedExpect out = read_scoped(scoped);
    out.group = *group;
    s.group_expects.push_back(out);
  });
}

void read_errors_max(const Section& expect, const Source& source, Scenario& s) {
  const toml::table* table = find_table(expect, "errors_max", "[expect.errors_max]");
  if (table == nullptr) return;
  const Section errors(source, *table, "[expect.errors_max]");
  for (const auto& [key, line] : errors.keys_in_file_order()) {
    if (key != "any" && !engine::error_code_from_string(key)) {
      errors.fail(line, "unknown error code '" + std::string(key) +
                            "' (docs/protocol.md lists them; \"any\" counts every code)");
    }
    std::uint64_t max = 0;
    errors.read(key, max, 0, kNoMax);
    s.errors_max[std::string(key)] = max;
  }
}

}  // namespace parley::sim::reader

namespace parley::sim {

std::uint32_t devices_of(const Scenario& s, std::uint64_t user) {
  std::uint32_t devices = s.devices_per_user;
  for (const UserSettings& settings : s.user_settings) {
    const bool named =
        std::find(settings.users.begin(), settings.users.end(), user) != settings.users.end();
    if (named && settings.devices) devices = *settings.devices;
  }
  return devices;
}

}  // namespace parley::sim
