// What a scenario scripts beyond the random traffic: [[send]] (one chosen message from one
// chosen device), [[traffic.burst]], and the expectations scoped to a user, a group or one
// scripted send.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <string>

namespace parley::sim::detail {

// Each burst's messages: all at once, or each at a moment drawn within its duration. A burst
// with a duration draws its moments here, at the start, in file order.
void World::schedule_bursts() {
  for (const Burst& burst : scenario_.bursts) {
    std::vector<UserId> users = burst.users;
    if (users.empty()) {
      for (UserId u = 1; u <= scenario_.users; ++u)
        users.push_back(u);
    }
    if (burst.duration == 0) {
      at(burst.at, [this, users, messages = burst.messages] {
        for (UserId u : users) {
          for (std::uint32_t i = 0; i < messages; ++i)
            compose(u);
        }
      });
      continue;
    }
    for (UserId u : users) {
      for (std::uint32_t i = 0; i < burst.messages; ++i) {
        at(burst.at + rng_.between(0, burst.duration), [this, u] { compose(u); });
      }
    }
  }
}

void World::scripted_send(std::size_t index) {
  const ScriptedSend& spec = scenario_.sends[index];
  if (scripted_ids_.size() <= index) scripted_ids_.resize(scenario_.sends.size());
  const std::string where = "send at line " + std::to_string(spec.line);
  const std::size_t d = users_[spec.user].devices[spec.device - 1];
  Device& device = devices_[d];
  PendingSend send;
  if (!spec.group.empty()) {
    const auto group = groups_by_name_.find(spec.group);
    if (group == groups_by_name_.end()) {
      fault_record("skipped " + where + ": group '" + spec.group + "' does not exist yet", false);
      return;
    }
    send.channel = group->second;
  } else {
    send.peer = spec.to;
  }
  if (device.state == DeviceState::logged_out) {
    fault_record("skipped " + where + ": the device is logged out", false);
    return;
  }
  // Named after the [[send]]'s line, so the trace shows which it was; sends written on one
  // line (an inline array) add their index to stay distinct.
  send.client_msg_id = "u" + std::to_string(spec.user) + "d" + std::to_string(spec.device) + "s" +
                       std::to_string(spec.line);
  const auto same_line = [&](const ScriptedSend& other) { return other.line == spec.line; };
  if (std::count_if(scenario_.sends.begin(), scenario_.sends.end(), same_line) > 1) {
    send.client_msg_id += "i" + std::to_string(index);
  }
  send.text.reserve(spec.text.size() * spec.repeat);
  for (std::uint32_t i = 0; i < spec.repeat; ++i)
    send.text += spec.text;
  scripted_ids_[index] = send.client_msg_id;
  queue_send(d, std::move(send));
}

namespace {

// What became of a send, from the history: "acked", the refusal's code, or "no answer".
std::string outcome_of(const History& history, UserId user, const std::string& client_msg_id) {
  for (const Record& r : history) {
    if (r.user != user || r.text != client_msg_id) continue;
    if (r.kind == RecordKind::acked) return "acked";
    if (r.kind == RecordKind::refused) return r.detail;
  }
  return "no answer";
}

struct Tally {
  std::uint64_t pushes = 0;
  std::uint64_t delivered = 0;
};

void check_scope(const std::string& scope, const ScopedExpect& expect, const Tally& tally,
                 TimeUs slowest, std::vector<std::string>& failures) {
  const auto bound = [&](const char* what, std::uint64_t value, std::optional<std::uint64_t> limit,
                         bool is_max) {
    if (!limit || (is_max ? value <= *limit : value >= *limit)) return;
    failures.push_back(scope + " " + what + " = " + std::to_string(value) +
                       (is_max ? " > " : " < ") + std::to_string(*limit));
  };
  bound("pushes", tally.pushes, expect.pushes_min, false);
  bound("pushes", tally.pushes, expect.pushes_max, true);
  bound("delivered", tally.delivered, expect.delivered_min, false);
  bound("delivered", tally.delivered, expect.delivered_max, true);
  const double slowest_ms = static_cast<double>(slowest) / 1000.0;
  if (expect.delivery_ms_max && slowest_ms > *expect.delivery_ms_max) {
    failures.push_back(scope + " slowest delivery = " + show_number(slowest_ms) + " ms > " +
                       show_number(*expect.delivery_ms_max) + " ms");
  }
}

}  // namespace

// The [[send]] outcomes and the [[expect.user]] and [[expect.group]] targets the run missed.
std::vector<std::string> World::check_scripted() const {
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < scenario_.sends.size(); ++i) {
    const ScriptedSend& spec = scenario_.sends[i];
    if (!spec.outcome) continue;
    const bool sent = i < scripted_ids_.size() && !scripted_ids_[i].empty();
    const std::string got = sent ? outcome_of(history_, spec.user, scripted_ids_[i]) : "not sent";
    if (got != *spec.outcome) {
      failures.push_back("[[send]] at line " + std::to_string(spec.line) + ": outcome " + got +
                         ", expected " + *spec.outcome);
    }
  }
  for (const Fault& fault : scenario_.faults) {
    if (!fault.outcome) continue;
    const auto found = action_outcomes_.find(fault.line);
    if (found == action_outcomes_.end()) {
      failures.push_back("group action at line " + std::to_string(fault.line) +
                         ": no answer, expected " + *fault.outcome);
      continue;
    }
    for (const std::string& got : found->second) {
      if (got == *fault.outcome) continue;
      failures.push_back("group action at line " + std::to_string(fault.line) + ": outcome " + got +
                         ", expected " + *fault.outcome);
      break;
    }
  }
  std::map<UserId, Tally> by_user;
  std::map<std::pair<std::uint32_t, ChannelId>, Tally> by_channel;  // channel ids are per node
  for (const Record& r : history_) {
    if (r.kind == RecordKind::push) {
      ++by_user[r.user].pushes;
      ++by_channel[{home_of(r.user), r.channel}].pushes;
    } else if (r.kind == RecordKind::delivered) {
      ++by_user[r.user].delivered;
      ++by_channel[{home_of(r.user), r.channel}].delivered;
    }
  }
  const auto slowest = [](const auto& map, auto key) {
    const auto found = map.find(key);
    return found == map.end() ? TimeUs{0} : found->second;
  };
  for (const ScopedExpect& expect : scenario_.user_expects) {
    check_scope("user " + std::to_string(expect.user), expect, by_user[expect.user],
                slowest(slowest_by_user_, expect.user), failures);
  }
  for (const ScopedExpect& expect : scenario_.group_expects) {
    const auto group = groups_by_name_.find(expect.group);
    UserId creator = 0;
    for (const GroupSpec& spec : scenario_.groups) {
      if (spec.name == expect.group) creator = spec.creator;
    }
    const std::pair<std::uint32_t, ChannelId> key{
        home_of(creator), group == groups_by_name_.end() ? 0 : group->second};
    check_scope("group '" + expect.group + "'", expect, key.second == 0 ? Tally{} : by_channel[key],
                slowest(slowest_by_channel_, key), failures);
  }
  return failures;
}

}  // namespace parley::sim::detail
