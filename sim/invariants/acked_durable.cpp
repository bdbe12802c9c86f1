// Invariant 1, no acked message is lost: every ack names a message that is in its sender's
// node's final store, with that sender and client_msg_id; a send refused as invalid left
// nothing in the store; and once the run settles, every send was acked or refused.
#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <tuple>

namespace parley::sim::invariants {
namespace {

class AckedDurable final : public Invariant {
 public:
  explicit AckedDurable(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::sent) unanswered_.emplace(std::pair{r.user, r.text}, i);
    if (r.kind == RecordKind::refused) {
      unanswered_.erase({r.user, r.text});
      refused_stored(i, report);
    }
    if (r.kind != RecordKind::acked) return;
    unanswered_.erase({r.user, r.text});
    const std::uint32_t node = run_.home_of(r.user);
    const auto channel = run_.nodes[node].channels.find(r.channel);
    const bool present = channel != run_.nodes[node].channels.end() && r.seq >= 1 &&
                         r.seq <= channel->second.messages.size();
    if (!present) {
      report.add(1,
                 "acked message " + std::to_string(r.channel) + "/" + std::to_string(r.seq) +
                     " is not in the store",
                 i);
      return;
    }
    const auto& stored = channel->second.messages[r.seq - 1];
    if (stored.sender != r.user || stored.client_msg_id != r.text) {
      report.add(1,
                 "acked " + r.text + " as " + std::to_string(r.channel) + "/" +
                     std::to_string(r.seq) + " but the store holds " + stored.client_msg_id +
                     " from user " + std::to_string(stored.sender),
                 i);
    }
  }

  void finish(Report& report) override {
    if (!run_.config.liveness) return;
    for (const auto& [key, index] : unanswered_) {
      report.add(1, "send " + key.second + " was never acked nor refused after the run settled",
                 index);
    }
  }

 private:
  // A send refused for what it holds or where it goes is refused for good: nothing of it may
  // be stored. Other refusals (not_leader during a failover, overloaded, a connection-level
  // code) say nothing of the content, and the same send may still land (an append whose
  // outcome was unknown, then found in the log), so they are not checked.
  void refused_stored(std::size_t i, Report& report) {
    const Record& r = run_.history[i];
    static constexpr std::array<std::string_view, 9> kFinal = {
        "message_empty",         "message_too_long", "invalid_utf8",
        "invalid_client_msg_id", "bad_request",      "unknown_user",
        "unknown_channel",       "not_a_member",     "blocked"};
    if (std::find(kFinal.begin(), kFinal.end(), r.detail) == kFinal.end()) return;
    if (stored_.empty()) {
      for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
        for (const auto& [channel, log] : run_.nodes[node].channels) {
          for (const auto& message : log.messages)
            stored_.insert({node, message.sender, message.client_msg_id});
        }
      }
      stored_.insert({UINT32_MAX, 0, ""});  // built, even for empty stores
    }
    if (stored_.contains({run_.home_of(r.user), r.user, r.text})) {
      report.add(1, "send " + r.text + " was refused (" + r.detail + ") but is in the store", i);
    }
  }

  const Run& run_;
  std::set<std::tuple<std::uint32_t, UserId, std::string>> stored_;   // (node, sender, id)
  std::map<std::pair<UserId, std::string>, std::size_t> unanswered_;  // -> its `sent` record
};

}  // namespace

std::unique_ptr<Invariant> acked_durable(const Run& run) {
  return std::make_unique<AckedDurable>(run);
}

}  // namespace parley::sim::invariants
