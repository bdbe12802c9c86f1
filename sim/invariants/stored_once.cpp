// Invariant 2, exactly once, as the stores hold it: no node stores a user's client_msg_id
// twice (a resend is answered with the original, never appended again).
#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {
namespace {

class StoredOnce final : public Invariant {
 public:
  explicit StoredOnce(const Run& run) : run_(run) {}

  void finish(Report& report) override {
    for (std::uint32_t node = 0; node < run_.nodes.size(); ++node) {
      std::set<std::pair<UserId, std::string>> seen;
      for (const auto& [channel, log] : run_.nodes[node].channels) {
        for (const auto& message : log.messages) {
          if (message.kind != engine::MessageKind::text) continue;
          if (!seen.insert({message.sender, message.client_msg_id}).second) {
            report.add(2,
                       "client_msg_id " + message.client_msg_id + " of user " +
                           std::to_string(message.sender) + " is stored twice (again as " +
                           std::to_string(channel) + "/" + std::to_string(message.seq) + ")",
                       SIZE_MAX);
          }
        }
      }
    }
  }

 private:
  const Run& run_;
};

}  // namespace

std::unique_ptr<Invariant> stored_once(const Run& run) {
  return std::make_unique<StoredOnce>(run);
}

}  // namespace parley::sim::invariants
