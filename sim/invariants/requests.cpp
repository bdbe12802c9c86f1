// Invariant 12, message requests (docs/engine.md, rule 22), from the scenario's contacts, the
// nodes' final stores and records, and the apps' own `unread` records: a chat that was a
// message request for a user from their first membership on (made by someone who was not
// their contact, never accepted, nothing of theirs sent there) never counts unread for them
// in what queryUnread told their app. That a request never pushes is checked with the
// pushes, by invariant 5 (push.cpp), which reports such a push under this invariant's
// number.
#include "sim/invariants/invariant.hpp"

#include <algorithm>

namespace parley::sim::invariants {

RequestModel::RequestModel(const Run& run) : run_(run) {
  using engine::MessageKind;
  for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
    for (const auto& [channel, log] : run_.nodes[node].channels) {
      for (const engine::MessageRecord& m : log.messages) {
        if (m.kind == MessageKind::text) {
          // The 1:1 chat's first message makes it: a request for the peer it was sent to.
          if (log.kind == engine::ChannelKind::direct && m.seq == 1) {
            for (UserId member : log.direct_members) {
              if (member != m.sender) set({node, channel, member}, 1, !contact(member, m.sender));
            }
          }
          set({node, channel, m.sender}, m.seq, false);  // a text of your own accepts
        } else if (m.kind == MessageKind::group_created || m.kind == MessageKind::member_added) {
          for (UserId member : m.users) {
            set({node, channel, member}, m.seq, member != m.sender && !contact(member, m.sender));
          }
        }
      }
    }
  }
}

bool RequestModel::contact(UserId user, UserId other) const {
  const auto& contacts = run_.config.contacts;
  if (user >= contacts.size()) return false;
  return std::binary_search(contacts[user].begin(), contacts[user].end(), other);
}

void RequestModel::note(const Record& record) {
  if (record.kind == RecordKind::answered && record.flag) {
    accepted_.insert({record.node, record.channel, record.user});
  }
}

bool RequestModel::request(std::uint32_t node, ChannelId channel, UserId user, Seq seq) const {
  if (accepted_.contains({node, channel, user})) return false;
  const auto found = flags_.find({node, channel, user});
  if (found == flags_.end()) return false;
  const auto& flags = found->second;
  const auto past = std::upper_bound(flags.begin(), flags.end(), std::pair<Seq, bool>{seq, true});
  return past != flags.begin() && std::prev(past)->second;
}

bool RequestModel::request_throughout(std::uint32_t node, ChannelId channel, UserId user) const {
  if (accepted_.contains({node, channel, user})) return false;
  const auto found = flags_.find({node, channel, user});
  if (found == flags_.end()) return false;
  return std::all_of(found->second.begin(), found->second.end(),
                     [](const auto& flag) { return flag.second; });
}

namespace {

class Requests final : public Invariant {
 public:
  explicit Requests(const Run& run) : run_(run), model_(run) {}

  void record(std::size_t index, Report& report) override {
    const Record& r = run_.history[index];
    model_.note(r);
    if (r.kind != RecordKind::unread || r.channel == 0 || r.seq == 0) return;
    if (!model_.request_throughout(run_.home_of(r.user), r.channel, r.user)) return;
    report.add(12,
               "user " + std::to_string(r.user) + " was told " + std::to_string(r.seq) +
                   " unread in channel " + std::to_string(r.channel) +
                   ", a message request for them that they never accepted",
               index, "the unread count the app was told");
  }

 private:
  const Run& run_;
  RequestModel model_;
};

}  // namespace

std::unique_ptr<Invariant> requests(const Run& run) {
  return std::make_unique<Requests>(run);
}

}  // namespace parley::sim::invariants
