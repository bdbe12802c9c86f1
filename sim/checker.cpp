// The checker: rebuilds who should receive each message from the committed channel
// sequences, then runs every invariant of sim/invariants/ (list.cpp) over the history.
#include "sim/checker.hpp"

#include <algorithm>
#include <set>

#include "sim/invariants/invariant.hpp"

namespace parley::sim {

using engine::MessageKind;
using invariants::MessageKey;

struct Checker::Recipients {
  // Who should receive each message: members at its seq (a removed member gets the event of
  // their own removal).
  invariants::RecipientsByKey by_key;
  std::map<UserId, std::vector<MessageKey>> expected_by_user;
  // The checker's `home`, indexed by user id (invariants::Run::home_by_user).
  std::vector<std::uint32_t> home_by_user;
};

namespace {

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
    case 7:
      return "7 (fencing: each log index appended once, in order, by the newest leader)";
    case 8:
      return "8 (replicas at the same log index hold the same state; all apply the whole log)";
    case 9:
      return "9 (typing: no echo to the typist, start fanouts throttled per chat and typist)";
    case 10:
      return "10 (receipts: no read before delivery or before it was marked, only to senders "
             "concerned, never backwards)";
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
  auto recipients = std::make_shared<Recipients>();
  // Dense up to a bound, so that odd user ids (tests) cannot make it huge; the rest is
  // looked up in `home_` (Run::home_of).
  constexpr UserId kDenseUsers = 1u << 24;
  for (const auto& [user, node] : home_) {
    if (user >= kDenseUsers) break;
    if (user >= recipients->home_by_user.size()) recipients->home_by_user.resize(user + 1, 0);
    recipients->home_by_user[user] = node;
  }
  for (std::uint32_t node = 0; node < nodes_.size(); ++node) {
    for (const auto& [channel, log] : nodes_[node].channels) {
      std::set<UserId> members(log.direct_members.begin(), log.direct_members.end());
      for (const auto& message : log.messages) {
        const MessageKey key{node, channel, message.seq};
        std::vector<UserId> receivers = log.kind == engine::ChannelKind::group
                                            ? apply_group_event(members, message)
                                            : std::vector<UserId>(members.begin(), members.end());
        for (UserId user : receivers)
          recipients->expected_by_user[user].push_back(key);
        recipients->by_key.emplace_back(key, std::move(receivers));
      }
    }
  }
  // Already in key order (nodes, channels and seqs are walked in order); sorted to be sure,
  // stably, so that Run::recipients finds the last of equal keys, as a map would hold.
  std::stable_sort(recipients->by_key.begin(), recipients->by_key.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  recipients_ = std::move(recipients);
}

CheckResult Checker::check(const History& history) const {
  CheckResult result;
  const invariants::Run run{config_,
                            nodes_,
                            devices_,
                            home_,
                            recipients_->home_by_user,
                            recipients_->by_key,
                            recipients_->expected_by_user,
                            history};
  invariants::Report report(history, result);
  for (const invariants::Pass& pass : invariants::all(run)) {
    for (std::size_t i = 0; i < history.size(); ++i) {
      for (const auto& invariant : pass)
        invariant->record(i, report);
    }
    for (const auto& invariant : pass)
      invariant->finish(report);
  }
  return result;
}

}  // namespace parley::sim
