// Invariant 5, push, replayed over each node's records: the presence the node showed (its
// presence records), the connections it had bound, the tokens it knew.
//
// At once: a text message to a user shown offline gets one push per token (unless
// collapsed), and a user shown online gets none. Later: a message to a user shown online
// while none of their devices was connected is owed a push, which must come when the user is
// shown offline (right after that presence record), unless a device of the user received it
// first. A received message may still be pushed then (its ack can be lost with the
// connection), but nothing else may. And once settled, every intent reached the gateway.
//
// Mute (rule 21), from the node's `muted` records: while a user's mute of a chat lasts, a
// message there pushes them (now or when owed) only if it mentions them, and a mention
// must push like any message. Whom a message mentions comes from the app's own `sent`
// record (the friend it named), joined to the message by the sender's `acked` record; a
// message whose ack never reached its app has an unknown mention: a muted user may or may
// not get a push for it. A push owed for a message deleted for everyone before it came due
// is not sent (rule 20), by the `deleted` entries' node times in the stores; an owed
// mention edited before it came due mentions no one any more (the apps' edits never name
// anyone), by the `edited` entries' times.
#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

namespace parley::sim::invariants {
namespace {

enum class Mention : std::uint8_t { no, yes, unknown };

class Push final : public Invariant {
 public:
  explicit Push(const Run& run)
      : run_(run), config_(run.config), models_(run.nodes.size()), requests_(run) {
    std::map<std::pair<UserId, std::string>, UserId> named;  // (sender, client_msg_id)
    for (const Record& r : run_.history) {
      if (r.kind == RecordKind::sent) {
        named[{r.user, r.text}] =
            r.detail.starts_with("mention:") ? std::stoull(r.detail.substr(8)) : 0;
      } else if (r.kind == RecordKind::acked) {
        const auto found = named.find({r.user, r.text});
        if (found != named.end())
          mentions_[{run_.home_of(r.user), r.channel, r.seq}] = found->second;
      }
    }
    // A push owed for a message deleted since is not sent (rule 20): when each was, by the
    // node's clock, from the stores' `deleted` entries.
    for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
      for (const auto& [channel, log] : run_.nodes[node].channels) {
        for (const engine::MessageRecord& m : log.messages) {
          if (m.kind == engine::MessageKind::deleted) {
            deleted_at_[{node, channel, m.target}] = m.server_time;
          }
          // The apps' edits are random text without an @: the first one unmentions.
          if (m.kind == engine::MessageKind::edited) {
            edited_at_.try_emplace({node, channel, m.target}, m.server_time);
          }
        }
      }
    }
  }

  void record(std::size_t i, Report& report) override {
    if (i < skip_) return;  // an append's or an offline's pushes, read with it
    const Record& r = run_.history[i];
    requests_.note(r);
    if (r.kind == RecordKind::delivered) {
      // A device of the user received it: the user read it (or the ack is on its way).
      NodeModel& home = models_[std::min<std::size_t>(run_.home_of(r.user), models_.size() - 1)];
      const auto owed = home.owed.find({r.user, r.channel});
      if (owed != home.owed.end() && r.seq >= owed->second.seq) owed->second.required = false;
      return;
    }
    if (r.node >= models_.size()) return;
    NodeModel& model = models_[r.node];
    switch (r.kind) {
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
      case RecordKind::presence:
        model.online[r.user] = r.flag;
        if (!r.flag) shown_offline(model, i, report);
        break;
      case RecordKind::append:
        appended(model, i, report);
        break;
      case RecordKind::push:
        report.add(5, "push without a message appended, or its user shown offline, just before it",
                   i);
        break;
      case RecordKind::muted:
        model.muted[{r.user, r.channel}] = r.flag ? INT64_MAX : static_cast<TimeUs>(r.seq);
        break;
      case RecordKind::crash:
        // The node forgot every connection; who was shown online is durable.
        model.connected.clear();
        break;
      default:
        break;
    }
  }

  void finish(Report& report) override {
    if (!config_.liveness) return;
    for (std::size_t node = 0; node < run_.nodes.size(); ++node) {
      for (std::uint64_t id : run_.nodes[node].outbox) {
        report.add(5,
                   "push intent " + std::to_string(id) + " on node " + std::to_string(node) +
                       " was never delivered, though the gateway was healthy at the end",
                   SIZE_MAX);
      }
    }
  }

 private:
  struct Owed {
    Seq seq = 0;                    // the newest message of the channel owed a push
    bool required = false;          // no device of the user received it (yet)
    Mention mention = Mention::no;  // whether it mentions the user
  };
  struct NodeModel {
    std::map<UserId, bool> online;
    std::map<UserId, bool> connected;
    std::map<UserId, std::set<DeviceId>> tokens;
    std::map<std::pair<UserId, ChannelId>, TimeUs> last_push;
    std::map<std::pair<UserId, ChannelId>, Owed> owed;
    std::map<std::pair<UserId, ChannelId>, TimeUs> muted;  // until (INT64_MAX: forever)
  };

  bool muted(const NodeModel& model, UserId user, ChannelId channel, TimeUs at) const {
    const auto found = model.muted.find({user, channel});
    return found != model.muted.end() && at < found->second;
  }

  Mention mention_of(const Record& append, UserId user) const {
    const auto found = mentions_.find({append.node, append.channel, append.seq});
    if (found == mentions_.end()) return Mention::unknown;
    return found->second == user ? Mention::yes : Mention::no;
  }

  // The push records right after record `i` (end_of_pushes): who got one, and when, for the
  // collapse window. Later records start past them.
  void take_pushes(std::size_t i, std::set<std::pair<UserId, DeviceId>>& actual,
                   std::set<std::pair<ChannelId, DeviceId>>* by_channel) {
    const History& history = run_.history;
    const Record& r = history[i];
    skip_ = end_of_pushes(history, i);
    for (std::size_t j = i + 1; j < skip_; ++j) {
      actual.insert({history[j].user, history[j].device});
      if (by_channel != nullptr) by_channel->insert({history[j].channel, history[j].device});
      models_[r.node].last_push[{history[j].user, history[j].channel}] = history[j].node_time;
    }
  }

  // What the user was owed while shown online with no device connected comes due.
  void shown_offline(NodeModel& model, std::size_t i, Report& report) {
    const Record& r = run_.history[i];
    std::set<std::pair<ChannelId, DeviceId>> expected;
    std::set<std::pair<ChannelId, DeviceId>> allowed;
    std::set<ChannelId> mentioned;  // the message owed mentions the user
    for (auto it = model.owed.lower_bound({r.user, 0});
         it != model.owed.end() && it->first.first == r.user;) {
      const ChannelId channel = it->first.second;
      const auto last = model.last_push.find({r.user, channel});
      const bool collapsed =
          last != model.last_push.end() && r.node_time - last->second < config_.push_collapse;
      // Muted since: only a mention pushes, and one not known to be may or may not.
      const auto edited = edited_at_.find({r.node, channel, it->second.seq});
      const bool unmentioned = edited != edited_at_.end() && edited->second <= r.node_time;
      const Mention mention = unmentioned ? Mention::no : it->second.mention;
      if (mention == Mention::yes) mentioned.insert(channel);
      const auto deleted = deleted_at_.find({r.node, channel, it->second.seq});
      const bool gone = deleted != deleted_at_.end() && deleted->second <= r.node_time;
      const bool silenced =
          gone || (muted(model, r.user, channel, r.node_time) && mention != Mention::yes);
      const bool may = !silenced || mention == Mention::unknown;
      for (DeviceId device : model.tokens[r.user]) {
        if (may) allowed.insert({channel, device});
        if (it->second.required && !collapsed && !silenced) expected.insert({channel, device});
      }
      it = model.owed.erase(it);
    }
    std::set<std::pair<UserId, DeviceId>> ignored;
    std::set<std::pair<ChannelId, DeviceId>> actual;
    take_pushes(i, ignored, &actual);
    for (const auto& [channel, device] : expected) {
      if (!actual.contains({channel, device})) {
        report.add(5,
                   "no push to user " + std::to_string(r.user) + " (device " +
                       std::to_string(device) + ") for channel " + std::to_string(channel) +
                       " when shown offline: a message" +
                       (mentioned.contains(channel) ? std::string(", which mentions them,") : "") +
                       " reached them while none of their devices was connected, and none "
                       "received it",
                   i, "the offline presence");
      }
    }
    for (const auto& [channel, device] : actual) {
      if (!allowed.contains({channel, device})) {
        report.add(5,
                   "unexpected push to user " + std::to_string(r.user) + " (device " +
                       std::to_string(device) + ") for channel " + std::to_string(channel) +
                       " when shown offline: nothing was owed",
                   i, "the offline presence");
      }
    }
  }

  // A text message was appended: a push per token to each recipient shown offline (unless
  // collapsed), none to one shown online, who is owed one if no device of theirs is connected.
  void appended(NodeModel& model, std::size_t i, Report& report) {
    const Record& r = run_.history[i];
    const auto* who = run_.recipients({r.node, r.channel, r.seq});
    std::set<std::pair<UserId, DeviceId>> expected;
    std::set<std::pair<UserId, DeviceId>> allowed;  // muted, with the mention unknown
    std::set<UserId> requested;  // a message request for them: never pushed nor owed (rule 22)
    if (who != nullptr) {
      for (UserId user : *who) {
        if (user == r.user) continue;
        if (requests_.request(r.node, r.channel, user, r.seq)) {
          requested.insert(user);
          continue;
        }
        const Mention mention = mention_of(r, user);
        if (muted(model, user, r.channel, r.node_time) && mention != Mention::yes) {
          // Not pushed, nor owed (an earlier mention owed stays owed), unless it is an
          // unknown mention: then either may be.
          if (mention == Mention::no) continue;
          if (model.online[user]) {
            if (!model.connected[user]) model.owed[{user, r.channel}] = Owed{r.seq, false, mention};
            continue;
          }
          for (DeviceId device : model.tokens[user])
            allowed.insert({user, device});
          continue;
        }
        if (model.online[user]) {
          if (!model.connected[user]) model.owed[{user, r.channel}] = Owed{r.seq, true, mention};
          continue;
        }
        const auto last = model.last_push.find({user, r.channel});
        if (last != model.last_push.end() && r.node_time - last->second < config_.push_collapse) {
          continue;
        }
        for (DeviceId device : model.tokens[user])
          expected.insert({user, device});
      }
    }
    std::set<std::pair<UserId, DeviceId>> actual;
    take_pushes(i, actual, nullptr);
    for (const auto& [user, device] : expected) {
      if (!actual.contains({user, device})) {
        report.add(5,
                   "no push to offline user " + std::to_string(user) + " (device " +
                       std::to_string(device) + ") for " + std::to_string(r.channel) + "/" +
                       std::to_string(r.seq) +
                       (mention_of(r, user) == Mention::yes ? ", which mentions them" : ""),
                   i, "the append of the message, by user " + std::to_string(r.user));
      }
    }
    for (const auto& [user, device] : actual) {
      if (requested.contains(user)) {
        report.add(12,
                   "push to user " + std::to_string(user) + " (device " + std::to_string(device) +
                       ") for " + std::to_string(r.channel) + "/" + std::to_string(r.seq) +
                       ", in a chat that is a message request for them",
                   i, "the append of the message, by user " + std::to_string(r.user));
        continue;
      }
      if (!expected.contains({user, device}) && !allowed.contains({user, device})) {
        report.add(5,
                   "unexpected push to user " + std::to_string(user) + " (device " +
                       std::to_string(device) + ") for " + std::to_string(r.channel) + "/" +
                       std::to_string(r.seq) +
                       (model.online[user]                           ? ": the user is online"
                        : muted(model, user, r.channel, r.node_time) ? ": the user muted the chat"
                                                                     : ""),
                   i, "the append of the message, by user " + std::to_string(r.user));
      }
    }
  }

  const Run& run_;
  const CheckConfig& config_;
  std::vector<NodeModel> models_;
  std::size_t skip_ = 0;  // records before this one were read ahead with an earlier record
  // (node, channel, seq) -> the user its app named (0: none), for messages whose ack came.
  std::map<std::tuple<std::uint32_t, ChannelId, Seq>, UserId> mentions_;
  // (node, channel, seq) -> the node time the message was deleted for everyone.
  std::map<std::tuple<std::uint32_t, ChannelId, Seq>, TimeUs> deleted_at_;
  // (node, channel, seq) -> the node time of the message's first edit, which took its
  // mention away (rule 21: an edit's mentions replace the original's).
  std::map<std::tuple<std::uint32_t, ChannelId, Seq>, TimeUs> edited_at_;
  RequestModel requests_;  // which chats are message requests for whom (rule 22)
};

}  // namespace

std::unique_ptr<Invariant> push(const Run& run) {
  return std::make_unique<Push>(run);
}

}  // namespace parley::sim::invariants
