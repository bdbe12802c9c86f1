// Invariant 1, seen from the receiving end: every message a device receives is in its
// node's final store (nothing is delivered before it is durable).
#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {
namespace {

class DeliveredDurable final : public Invariant {
 public:
  explicit DeliveredDurable(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    const bool read = r.kind == RecordKind::read;
    if (!read && (r.kind != RecordKind::delivered || !receipts_.first(r))) return;
    if (run_.recipients({run_.home_of(r.user), r.channel, r.seq}) != nullptr) return;
    report.add(1,
               "device " + std::to_string(r.device) + (read ? " read " : " received ") +
                   std::to_string(r.channel) + "/" + std::to_string(r.seq) +
                   ", which is not in the store (" +
                   (read ? "a history page showed it" : "delivered before durable?") + ")",
               i);
  }

 private:
  const Run& run_;
  FirstReceipts receipts_;
};

}  // namespace

std::unique_ptr<Invariant> delivered_durable(const Run& run) {
  return std::make_unique<DeliveredDurable>(run);
}

}  // namespace parley::sim::invariants
