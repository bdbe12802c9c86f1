#include "sim/checker.hpp"

#include <algorithm>
#include <queue>
#include <set>

namespace parley::sim {

using engine::MessageKind;

namespace {

std::string describe_record(const History& history, std::size_t index) {
  if (index >= history.size()) return "";
  return " [record " + std::to_string(index) + ": " + to_json(history[index]) + "]";
}

void add(CheckResult& result, int invariant, std::string message, std::size_t record,
         const History& history) {
  result.violations.push_back(
      Violation{invariant, message + describe_record(history, record), record});
}

// Membership after applying group event `message`, and who receives the event itself.
std::vector<UserId> apply_group_event(std::set<UserId>& members,
                                      const engine::MessageRecord& message) {
  switch (message.kind) {
    case MessageKind::group_created:
      members.insert(message.users.begin(), message.users.end());
      break;
    case MessageKind::member_added:
      members.insert(message.users.begin(), message.users.end());
      break;
    case MessageKind::member_removed:
    case MessageKind::member_left: {
      std::vector<UserId> receivers(members.begin(), members.end());
      for (UserId user : message.users)
        members.erase(user);
      return receivers;
    }
    default:
      break;
  }
  return {members.begin(), members.end()};
}

}  // namespace

const char* Checker::invariant_name(int invariant) {
  switch (invariant) {
    case 1:
      return "1 (no acked message is lost)";
    case 2:
      return "2 (every member's device receives every message exactly once, in order)";
    case 3:
      return "3 (nobody receives a channel they are not a member of)";
    case 4:
      return "4 (presence: no offline while heartbeating; offline within timeout + tick)";
    case 5:
      return "5 (a push for each message to an offline user, none to an online one)";
    case 6:
      return "6 (same scenario and seed give the same trace hash)";
  }
  return "unknown";
}

Checker::Checker(CheckConfig config, std::vector<NodeContents> nodes,
                 std::vector<DeviceRef> devices, std::map<UserId, std::uint32_t> home)
    : config_(config),
      nodes_(std::move(nodes)),
      devices_(std::move(devices)),
      home_(std::move(home)) {
  build_recipients();
}

void Checker::build_recipients() {
  for (std::uint32_t node = 0; node < nodes_.size(); ++node) {
    for (const auto& [channel, log] : nodes_[node].channels) {
      std::set<UserId> members(log.direct_members.begin(), log.direct_members.end());
      for (const auto& message : log.messages) {
        const MessageKey key{node, channel, message.seq};
        std::vector<UserId> receivers = log.kind == engine::ChannelKind::group
                                            ? apply_group_event(members, message)
                                            : std::vector<UserId>(members.begin(), members.end());
        for (UserId user : receivers)
          expected_by_user_[user].push_back(key);
        recipients_[key] = std::move(receivers);
      }
    }
  }
}

const std::vector<UserId>* Checker::recipients(const MessageKey& key) const {
  const auto found = recipients_.find(key);
  return found == recipients_.end() ? nullptr : &found->second;
}

std::uint32_t Checker::home_of(UserId user) const {
  const auto found = home_.find(user);
  return found == home_.end() ? 0 : found->second;
}

CheckResult Checker::check(const History& history) const {
  CheckResult result;
  check_durability(history, result);
  check_deliveries(history, result);
  check_presence_and_push(history, result);
  return result;
}

// Invariant 1: every acked message is in the store as acked; every send ends acked or
// refused once the run settles; and no client_msg_id is stored twice.
void Checker::check_durability(const History& history, CheckResult& result) const {
  std::map<std::pair<UserId, std::string>, std::size_t> unanswered;
  for (std::size_t i = 0; i < history.size(); ++i) {
    const Record& r = history[i];
    if (r.kind == RecordKind::sent) unanswered.emplace(std::pair{r.user, r.text}, i);
    if (r.kind == RecordKind::refused) unanswered.erase({r.user, r.text});
    if (r.kind != RecordKind::acked) continue;
    unanswered.erase({r.user, r.text});
    const std::uint32_t node = home_of(r.user);
    const auto channel = nodes_[node].channels.find(r.channel);
    const bool present = channel != nodes_[node].channels.end() && r.seq >= 1 &&
                         r.seq <= channel->second.messages.size();
    if (!present) {
      add(result, 1,
          "acked message " + std::to_string(r.channel) + "/" + std::to_string(r.seq) +
              " is not in the store",
          i, history);
      continue;
    }
    const auto& stored = channel->second.messages[r.seq - 1];
    if (stored.sender != r.user || stored.client_msg_id != r.text) {
      add(result, 1,
          "acked " + r.text + " as " + std::to_string(r.channel) + "/" + std::to_string(r.seq) +
              " but the store holds " + stored.client_msg_id + " from user " +
              std::to_string(stored.sender),
          i, history);
    }
  }
  if (config_.liveness) {
    for (const auto& [key, index] : unanswered) {
      add(result, 1, "send " + key.second + " was never acked nor refused after the run settled",
          index, history);
    }
  }
  for (std::uint32_t node = 0; node < nodes_.size(); ++node) {
    std::set<std::pair<UserId, std::string>> seen;
    for (const auto& [channel, log] : nodes_[node].channels) {
      for (const auto& message : log.messages) {
        if (message.kind != MessageKind::text) continue;
        if (!seen.insert({message.sender, message.client_msg_id}).second) {
          add(result, 2,
              "client_msg_id " + message.client_msg_id + " of user " +
                  std::to_string(message.sender) + " is stored twice (again as " +
                  std::to_string(channel) + "/" + std::to_string(message.seq) + ")",
              SIZE_MAX, history);
        }
      }
    }
  }
}

// Invariants 2 and 3, per device: gap-free inbox order, no duplicate, per-channel order,
// members only, and (once settled) everything the user should have.
void Checker::check_deliveries(const History& history, CheckResult& result) const {
  struct DeviceState {
    InboxSeq last_inbox = 0;
    std::set<std::pair<ChannelId, Seq>> received;
    std::map<ChannelId, Seq> last_seq;
  };
  std::map<DeviceId, DeviceState> states;
  for (std::size_t i = 0; i < history.size(); ++i) {
    const Record& r = history[i];
    if (r.kind != RecordKind::delivered) continue;
    DeviceState& state = states[r.device];
    const std::string id = std::to_string(r.channel) + "/" + std::to_string(r.seq);
    if (!state.received.insert({r.channel, r.seq}).second) {
      add(result, 2, "device " + std::to_string(r.device) + " received " + id + " twice", i,
          history);
      continue;
    }
    if (r.inbox_seq != state.last_inbox + 1) {
      add(result, 2,
          "device " + std::to_string(r.device) + " got inbox entry " + std::to_string(r.inbox_seq) +
              " after " + std::to_string(state.last_inbox) + " (a gap or reordering)",
          i, history);
    }
    state.last_inbox = std::max(state.last_inbox, r.inbox_seq);
    Seq& last = state.last_seq[r.channel];
    if (r.seq <= last) {
      add(result, 2,
          "device " + std::to_string(r.device) + " got " + id + " after seq " +
              std::to_string(last) + " of the same channel",
          i, history);
    }
    last = std::max(last, r.seq);
    const auto* who = recipients({home_of(r.user), r.channel, r.seq});
    if (who == nullptr) {
      add(result, 1,
          "device " + std::to_string(r.device) + " received " + id +
              ", which is not in the store (delivered before durable?)",
          i, history);
    } else if (std::find(who->begin(), who->end(), r.user) == who->end()) {
      add(result, 3,
          "user " + std::to_string(r.user) + " received " + id +
              " without being a member at that seq",
          i, history);
    }
  }
  if (!config_.liveness) return;
  for (const DeviceRef& device : devices_) {
    const auto expected = expected_by_user_.find(device.user);
    if (expected == expected_by_user_.end()) continue;
    const DeviceState& state = states[device.device];
    for (const MessageKey& key : expected->second) {
      if (!state.received.contains({key.channel, key.seq})) {
        add(result, 2,
            "device " + std::to_string(device.device) + " of user " + std::to_string(device.user) +
                " never received " + std::to_string(key.channel) + "/" + std::to_string(key.seq) +
                " after the run settled",
            SIZE_MAX, history);
        break;  // one per device is enough to act on
      }
    }
  }
}

// Invariants 4 and 5, replaying each node's committed records in order against a model of
// presence rebuilt from the signs of life the node received.
void Checker::check_presence_and_push(const History& history, CheckResult& result) const {
  struct DeviceModel {
    UserId user = 0;
    TimeUs last_seen = 0;
    bool live = false;
  };
  struct Deadline {
    TimeUs at;
    DeviceId device;
    TimeUs last_seen;
    bool operator>(const Deadline& o) const { return at != o.at ? at > o.at : device > o.device; }
  };
  struct NodeModel {
    std::map<DeviceId, DeviceModel> devices;
    std::map<UserId, bool> online;
    std::map<UserId, std::set<DeviceId>> tokens;
    std::map<std::pair<UserId, ChannelId>, TimeUs> last_push;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines;
    TimeUs clock = 0;
  };
  std::vector<NodeModel> models(nodes_.size());

  const auto user_devices_dead_by = [&](NodeModel& model, UserId user, TimeUs at) {
    for (const auto& [id, device] : model.devices) {
      if (device.user == user && device.live &&
          device.last_seen + config_.presence_timeout + config_.presence_slack >= at) {
        return false;
      }
    }
    return true;
  };
  // Users still shown online whose every device fell silent past timeout + slack by `now`.
  const auto expire_check = [&](NodeModel& model, TimeUs now, std::size_t index) {
    while (!model.deadlines.empty() && model.deadlines.top().at < now) {
      const Deadline due = model.deadlines.top();
      model.deadlines.pop();
      auto found = model.devices.find(due.device);
      if (found == model.devices.end() || !found->second.live ||
          found->second.last_seen != due.last_seen) {
        continue;
      }
      const UserId user = found->second.user;
      if (model.online[user] && user_devices_dead_by(model, user, now)) {
        add(result, 4,
            "user " + std::to_string(user) + " silent since " + std::to_string(due.last_seen) +
                " (node time) is still shown online at " + std::to_string(now),
            index, history);
        for (auto& [id, device] : model.devices) {
          if (device.user == user) device.live = false;
        }
      }
    }
  };

  for (std::size_t i = 0; i < history.size(); ++i) {
    const Record& r = history[i];
    if (r.node >= models.size()) continue;
    NodeModel& model = models[r.node];
    switch (r.kind) {
      case RecordKind::life: {
        expire_check(model, r.node_time, i);
        DeviceModel& device = model.devices[r.device];
        device.user = r.user;
        device.live = true;
        device.last_seen = std::max(device.last_seen, r.node_time);
        model.deadlines.push(
            Deadline{device.last_seen + config_.presence_timeout + config_.presence_slack, r.device,
                     device.last_seen});
        break;
      }
      case RecordKind::logout:
        model.devices[r.device].live = false;
        break;
      case RecordKind::token:
        if (r.flag) {
          model.tokens[r.user].insert(r.device);
        } else {
          model.tokens[r.user].erase(r.device);
        }
        break;
      case RecordKind::presence: {
        expire_check(model, r.node_time, i);
        model.online[r.user] = r.flag;
        if (r.flag) break;
        for (auto& [id, device] : model.devices) {
          if (device.user != r.user || !device.live) continue;
          if (device.last_seen + config_.presence_timeout > r.node_time) {
            ++result.presence_flaps;
            add(result, 4,
                "user " + std::to_string(r.user) + " shown offline at " +
                    std::to_string(r.node_time) + " but device " + std::to_string(id) +
                    " showed life at " + std::to_string(device.last_seen) + " (node time)",
                i, history);
          }
          device.live = false;
        }
        break;
      }
      case RecordKind::append: {
        const auto* who = recipients({r.node, r.channel, r.seq});
        std::set<std::pair<UserId, DeviceId>> expected;
        if (who != nullptr) {
          for (UserId user : *who) {
            if (user == r.user || model.online[user]) continue;
            const auto last = model.last_push.find({user, r.channel});
            if (last != model.last_push.end() &&
                r.node_time - last->second < config_.push_collapse) {
              continue;
            }
            for (DeviceId device : model.tokens[user])
              expected.insert({user, device});
          }
        }
        std::set<std::pair<UserId, DeviceId>> actual;
        std::size_t j = i + 1;
        for (; j < history.size() && history[j].kind == RecordKind::push &&
               history[j].node == r.node && history[j].channel == r.channel &&
               history[j].seq == r.seq;
             ++j) {
          actual.insert({history[j].user, history[j].device});
          model.last_push[{history[j].user, r.channel}] = history[j].node_time;
        }
        for (const auto& [user, device] : expected) {
          if (!actual.contains({user, device})) {
            add(result, 5,
                "no push to offline user " + std::to_string(user) + " (device " +
                    std::to_string(device) + ") for " + std::to_string(r.channel) + "/" +
                    std::to_string(r.seq),
                i, history);
          }
        }
        for (const auto& [user, device] : actual) {
          if (!expected.contains({user, device})) {
            add(result, 5,
                "unexpected push to user " + std::to_string(user) + " (device " +
                    std::to_string(device) + ") for " + std::to_string(r.channel) + "/" +
                    std::to_string(r.seq) + (model.online[user] ? ": the user is online" : ""),
                i, history);
          }
        }
        i = j - 1;
        break;
      }
      case RecordKind::push:
        add(result, 5, "push without a message appended just before it", i, history);
        break;
      case RecordKind::crash:
        // The node forgot every connection and presence; nobody is online until they return.
        for (auto& [id, device] : model.devices)
          device.live = false;
        model.online.clear();
        break;
      default:
        break;
    }
    if (r.kind != RecordKind::fault && r.node_time > model.clock) model.clock = r.node_time;
  }
  for (std::size_t node = 0; node < models.size(); ++node) {
    expire_check(models[node], models[node].clock, history.size() - 1);
  }
  if (!config_.liveness) return;
  for (std::size_t node = 0; node < nodes_.size(); ++node) {
    for (std::uint64_t id : nodes_[node].outbox) {
      add(result, 5,
          "push intent " + std::to_string(id) + " on node " + std::to_string(node) +
              " was never delivered, though the gateway was healthy at the end",
          SIZE_MAX, history);
    }
  }
}

}  // namespace parley::sim
