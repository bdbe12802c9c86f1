// Invariant 2, exactly once, in order, per device: inbox entries arrive gap-free and in
// order, no (channel, seq) twice, each channel's seqs increasing; and once the run settles,
// every device has every message its user should have.
#include "sim/invariants/invariant.hpp"

#include <algorithm>

namespace parley::sim::invariants {
namespace {

class DeliveryOrder final : public Invariant {
 public:
  explicit DeliveryOrder(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind != RecordKind::delivered) return;
    DeviceState& state = states_[r.device];
    // Built only for a report: most deliveries are fine.
    const auto id = [&] { return std::to_string(r.channel) + "/" + std::to_string(r.seq); };
    if (!state.received.insert({r.channel, r.seq}).second) {
      report.add(2, "device " + std::to_string(r.device) + " received " + id() + " twice", i);
      return;
    }
    if (r.inbox_seq != state.last_inbox + 1) {
      report.add(2,
                 "device " + std::to_string(r.device) + " got inbox entry " +
                     std::to_string(r.inbox_seq) + " after " + std::to_string(state.last_inbox) +
                     " (a gap or reordering)",
                 i);
    }
    state.last_inbox = std::max(state.last_inbox, r.inbox_seq);
    Seq& last = state.last_seq[r.channel];
    if (r.seq <= last) {
      report.add(2,
                 "device " + std::to_string(r.device) + " got " + id() + " after seq " +
                     std::to_string(last) + " of the same channel",
                 i);
    }
    last = std::max(last, r.seq);
  }

  void finish(Report& report) override {
    if (!run_.config.liveness) return;
    for (const DeviceRef& device : run_.devices) {
      const auto expected = run_.expected_by_user.find(device.user);
      if (expected == run_.expected_by_user.end()) continue;
      const DeviceState& state = states_[device.device];
      for (const MessageKey& key : expected->second) {
        if (!state.received.contains({key.channel, key.seq})) {
          report.add(2,
                     "device " + std::to_string(device.device) + " of user " +
                         std::to_string(device.user) + " never received " +
                         std::to_string(key.channel) + "/" + std::to_string(key.seq) +
                         " after the run settled",
                     SIZE_MAX);
          break;  // one per device is enough to act on
        }
      }
    }
  }

 private:
  struct DeviceState {
    InboxSeq last_inbox = 0;
    std::set<std::pair<ChannelId, Seq>> received;
    std::map<ChannelId, Seq> last_seq;
  };
  const Run& run_;
  IdMap<DeviceState> states_;  // by device
};

}  // namespace

std::unique_ptr<Invariant> delivery_order(const Run& run) {
  return std::make_unique<DeliveryOrder>(run);
}

}  // namespace parley::sim::invariants
