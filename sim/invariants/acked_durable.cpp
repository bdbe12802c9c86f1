// Invariant 1, no acked message is lost: every ack names a message that is in its sender's
// node's final store, with that sender and client_msg_id; and once the run settles, every
// send was acked or refused.
#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {
namespace {

class AckedDurable final : public Invariant {
 public:
  explicit AckedDurable(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::sent) unanswered_.emplace(std::pair{r.user, r.text}, i);
    if (r.kind == RecordKind::refused) unanswered_.erase({r.user, r.text});
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
  const Run& run_;
  std::map<std::pair<UserId, std::string>, std::size_t> unanswered_;  // -> its `sent` record
};

}  // namespace

std::unique_ptr<Invariant> acked_durable(const Run& run) {
  return std::make_unique<AckedDurable>(run);
}

}  // namespace parley::sim::invariants
