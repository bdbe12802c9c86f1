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

bool is_node_record(RecordKind kind) {
  switch (kind) {
    case RecordKind::life:
    case RecordKind::logout:
    case RecordKind::token:
    case RecordKind::presence:
    case RecordKind::push:
    case RecordKind::append:
    case RecordKind::crash:
    case RecordKind::restart:
    case RecordKind::gateway:
    case RecordKind::connection:
      return true;
    default:
      return false;
  }
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
//
// Push (invariant 5) has two parts. At once: a text message to a user shown offline gets one
// push per token (unless collapsed), and a user shown online gets none. Later: a message to a
// user shown online while none of their devices was connected is owed a push, which must come
// when the user is shown offline (right after that presence record), unless a device of the
// user received it first. A received message may still be pushed then (its ack can be lost
// with the connection), but nothing else may.
void Checker::check_presence_and_push(const History& history, CheckResult& result) const {
  struct DeviceModel {
    UserId user = 0;
    TimeUs last_seen = 0;     // node time
    TimeUs last_seen_at = 0;  // simulated time
    bool live = false;
  };
  struct Deadline {
    TimeUs at;
    DeviceId device;
    TimeUs last_seen;
    bool operator>(const Deadline& o) const { return at != o.at ? at > o.at : device > o.device; }
  };
  struct Owed {
    Seq seq = 0;            // the newest message of the channel owed a push
    bool required = false;  // no device of the user received it (yet)
  };
  struct NodeModel {
    std::map<DeviceId, DeviceModel> devices;
    std::map<UserId, bool> online;
    std::map<UserId, bool> connected;
    std::map<UserId, std::set<DeviceId>> tokens;
    std::map<std::pair<UserId, ChannelId>, TimeUs> last_push;
    std::map<std::pair<UserId, ChannelId>, Owed> owed;
    std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines;
    TimeUs clock = 0;     // node time of the latest node record
    TimeUs clock_at = 0;  // ... and its simulated time
  };
  std::vector<NodeModel> models(nodes_.size());
  // The presence timeout in simulated time, at the fastest and the slowest a node's clock
  // may run: the node's clock decides, but a clock that jumps must not pass for one that ran.
  const TimeUs real_timeout =
      config_.presence_timeout * 1'000'000 / (1'000'000 + config_.node_drift_ppm);
  const TimeUs real_timeout_max = config_.presence_timeout * 1'000'000 /
                                  std::max<std::int64_t>(1'000'000 - config_.node_drift_ppm, 1);

  // Whether every device of the user has been silent past timeout + slack by both the node's
  // clock (`now`) and simulated time (`now_at`).
  const auto user_devices_dead_by = [&](NodeModel& model, UserId user, TimeUs now, TimeUs now_at) {
    for (const auto& [id, device] : model.devices) {
      if (device.user != user || !device.live) continue;
      if (device.last_seen + config_.presence_timeout + config_.presence_slack >= now ||
          device.last_seen_at + real_timeout_max + config_.presence_slack >= now_at) {
        return false;
      }
    }
    return true;
  };
  // Users still shown online whose every device fell silent past timeout + slack by `now`.
  const auto expire_check = [&](NodeModel& model, TimeUs now, TimeUs now_at, std::size_t index) {
    while (!model.deadlines.empty() && model.deadlines.top().at < now) {
      const Deadline due = model.deadlines.top();
      model.deadlines.pop();
      auto found = model.devices.find(due.device);
      if (found == model.devices.end() || !found->second.live ||
          found->second.last_seen != due.last_seen) {
        continue;
      }
      const UserId user = found->second.user;
      const TimeUs real_deadline =
          found->second.last_seen_at + real_timeout_max + config_.presence_slack;
      if (real_deadline >= now_at) {
        // Due by the node's clock but not in simulated time (the node's clock jumped): look
        // again once it is.
        model.deadlines.push(
            Deadline{now + (real_deadline - now_at) + 1, due.device, due.last_seen});
        continue;
      }
      if (model.online[user] && user_devices_dead_by(model, user, now, now_at)) {
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
  const auto seen = [&](NodeModel& model, DeviceId id, UserId user, TimeUs node_time, TimeUs at) {
    DeviceModel& device = model.devices[id];
    device.user = user;
    device.live = true;
    device.last_seen = std::max(device.last_seen, node_time);
    device.last_seen_at = std::max(device.last_seen_at, at);
    model.deadlines.push(
        Deadline{device.last_seen + config_.presence_timeout + config_.presence_slack, id,
                 device.last_seen});
  };
  // The push records right after record `i` that `belongs` claims; returns the index past them.
  const auto take_pushes = [&](std::size_t i, const auto& belongs,
                               std::set<std::pair<UserId, DeviceId>>& actual,
                               std::set<std::pair<ChannelId, DeviceId>>* by_channel) {
    const Record& r = history[i];
    std::size_t j = i + 1;
    for (; j < history.size() && history[j].kind == RecordKind::push && history[j].node == r.node &&
           belongs(history[j]);
         ++j) {
      actual.insert({history[j].user, history[j].device});
      if (by_channel != nullptr) by_channel->insert({history[j].channel, history[j].device});
      models[r.node].last_push[{history[j].user, history[j].channel}] = history[j].node_time;
    }
    return j;
  };

  for (std::size_t i = 0; i < history.size(); ++i) {
    const Record& r = history[i];
    if (r.kind == RecordKind::delivered) {
      // A device of the user received it: the user read it (or the ack is on its way).
      NodeModel& home = models[std::min<std::size_t>(home_of(r.user), models.size() - 1)];
      const auto owed = home.owed.find({r.user, r.channel});
      if (owed != home.owed.end() && r.seq >= owed->second.seq) owed->second.required = false;
      continue;
    }
    if (r.node >= models.size()) continue;
    NodeModel& model = models[r.node];
    switch (r.kind) {
      case RecordKind::life:
        expire_check(model, r.node_time, r.at, i);
        seen(model, r.device, r.user, r.node_time, r.at);
        break;
      case RecordKind::logout:
        model.devices[r.device].live = false;
        break;
      case RecordKind::connection:
        model.connected[r.user] = r.flag;
        break;
      case RecordKind::token:
        if (r.flag) {
          model.tokens[r.user].insert(r.device);
        } else {
          model.tokens[r.user].erase(r.device);
        }
        break;
      case RecordKind::presence: {
        expire_check(model, r.node_time, r.at, i);
        model.online[r.user] = r.flag;
        if (r.flag) break;
        for (auto& [id, device] : model.devices) {
          if (device.user != r.user || !device.live) continue;
          // Early by the node's clock, or early in real time (a node clock that jumped).
          const bool early = device.last_seen + config_.presence_timeout > r.node_time ||
                             device.last_seen_at + real_timeout - config_.presence_slack > r.at;
          if (early) {
            ++result.presence_flaps;
            add(result, 4,
                "user " + std::to_string(r.user) + " shown offline at " +
                    std::to_string(r.node_time) + " (node time; " + std::to_string(r.at) +
                    " simulated) but device " + std::to_string(id) + " showed life at " +
                    std::to_string(device.last_seen) + " (" + std::to_string(device.last_seen_at) +
                    ")",
                i, history);
          }
          device.live = false;
        }
        // What the user was owed while shown online with no device connected.
        std::set<std::pair<ChannelId, DeviceId>> expected;
        std::set<std::pair<ChannelId, DeviceId>> allowed;
        for (auto it = model.owed.lower_bound({r.user, 0});
             it != model.owed.end() && it->first.first == r.user;) {
          const ChannelId channel = it->first.second;
          const auto last = model.last_push.find({r.user, channel});
          const bool collapsed =
              last != model.last_push.end() && r.node_time - last->second < config_.push_collapse;
          for (DeviceId device : model.tokens[r.user]) {
            allowed.insert({channel, device});
            if (it->second.required && !collapsed) expected.insert({channel, device});
          }
          it = model.owed.erase(it);
        }
        std::set<std::pair<UserId, DeviceId>> ignored;
        std::set<std::pair<ChannelId, DeviceId>> actual;
        const std::size_t j = take_pushes(
            i, [&](const Record& push) { return push.user == r.user; }, ignored, &actual);
        for (const auto& [channel, device] : expected) {
          if (!actual.contains({channel, device})) {
            add(result, 5,
                "no push to user " + std::to_string(r.user) + " (device " + std::to_string(device) +
                    ") for channel " + std::to_string(channel) +
                    " when shown offline: a message reached them while none of their devices "
                    "was connected, and none received it",
                i, history);
          }
        }
        for (const auto& [channel, device] : actual) {
          if (!allowed.contains({channel, device})) {
            add(result, 5,
                "unexpected push to user " + std::to_string(r.user) + " (device " +
                    std::to_string(device) + ") for channel " + std::to_string(channel) +
                    " when shown offline: nothing was owed",
                i, history);
          }
        }
        i = j - 1;
        break;
      }
      case RecordKind::append: {
        const auto* who = recipients({r.node, r.channel, r.seq});
        std::set<std::pair<UserId, DeviceId>> expected;
        if (who != nullptr) {
          for (UserId user : *who) {
            if (user == r.user) continue;
            if (model.online[user]) {
              if (!model.connected[user]) model.owed[{user, r.channel}] = Owed{r.seq, true};
              continue;
            }
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
        const std::size_t j = take_pushes(
            i, [&](const Record& push) { return push.channel == r.channel && push.seq == r.seq; },
            actual, nullptr);
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
        add(result, 5, "push without a message appended, or its user shown offline, just before it",
            i, history);
        break;
      case RecordKind::crash:
        // The node forgot every connection and device; who was shown online is durable.
        for (auto& [id, device] : model.devices)
          device = DeviceModel{device.user, 0, 0, false};
        model.connected.clear();
        break;
      case RecordKind::restart:
        // Everyone shown online is held online for a full timeout from the restart, as if
        // each of their devices had just shown life.
        for (const DeviceRef& device : devices_) {
          if (home_of(device.user) != r.node || !model.online[device.user]) continue;
          seen(model, device.device, device.user, r.node_time, r.at);
        }
        break;
      default:
        break;
    }
    // The node's clock as of its latest record (a restart may set it back: it re-anchors on
    // the wall clock).
    if (is_node_record(r.kind)) {
      model.clock = r.node_time;
      model.clock_at = r.at;
    }
  }
  for (std::size_t node = 0; node < models.size(); ++node) {
    expire_check(models[node], models[node].clock, models[node].clock_at, history.size() - 1);
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
