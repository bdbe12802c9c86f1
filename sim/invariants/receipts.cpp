// Invariant 10, delivery and read receipts (docs/engine.md, rule 19), from the receipt events
// each node sent, against a model built from the clients' own records (never the engine's
// state). For each receipt record telling a device of `user` that member `peer` (the mover)
// is at delivered_seq (`seq`) and read_seq (`inbox_seq`, 0 when not shared) in `channel`:
// (a) read_seq <= delivered_seq when read_seq != 0: a read never precedes delivery;
// (b) delivered_seq <= the highest seq of the channel a device of the mover had received
//     (`delivered` records) or the mover had marked read (`marked` records) before it;
// (c) read_seq <= the highest seq the mover had marked read in the channel before it;
// (d) when the recipient is not the mover, the recipient had appended a text message of
//     their own in the channel (an `append` record) at or below max(delivered, read):
//     receipts go only to senders whose messages they concern;
// (e) what one recipient device is told about one (mover, channel) never goes backwards.
//
// Crashes, restarts and new cluster leaders reset nothing here: the positions are in the
// store (or the shard's log), and a batch a crash drops takes both its store writes and its
// records with it, so the positions a later engine tells are never below those an earlier
// one told. The client records are upper bounds: a MarkRead or an ack that never reached the
// engine (a drop, a crash) leaves a `marked` or `delivered` record that moved nothing, which
// only makes (b) and (c) more lenient, never wrong. A read_seq of 0 means "not shared" (either
// side has read receipts off), not "read nothing": (e) compares read positions only when
// both are shared.
//
// Keys: a user lives on one node (a cluster has one shard), and channel ids are per node, so
// (user, channel) names one channel of one node for the mover's and the recipient's records.
#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

namespace parley::sim::invariants {
namespace {

class Receipts final : public Invariant {
 public:
  explicit Receipts(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    switch (r.kind) {
      case RecordKind::delivered:
        raise(received_[{r.user, r.channel}], r.seq);
        return;
      case RecordKind::marked:
        raise(marked_[{r.user, r.channel}], r.seq);
        return;
      case RecordKind::append: {
        const auto [found, first] = first_sent_.try_emplace({r.user, r.channel}, r.seq);
        if (!first) found->second = std::min(found->second, r.seq);
        return;
      }
      case RecordKind::receipt:
        return check(i, r, report);
      default:
        return;
    }
  }

 private:
  using UserChannel = std::pair<UserId, ChannelId>;
  struct Told {
    Seq delivered = 0;
    Seq read = 0;  // the highest shared read position told (0: none yet)
  };

  static void raise(Seq& position, Seq seq) { position = std::max(position, seq); }

  static Seq at(const std::map<UserChannel, Seq>& positions, UserId user, ChannelId channel) {
    const auto found = positions.find({user, channel});
    return found == positions.end() ? 0 : found->second;
  }

  void check(std::size_t i, const Record& r, Report& report) {
    const UserId mover = r.peer;
    const Seq delivered = r.seq;
    const Seq read = r.inbox_seq;
    const std::string what = "device " + std::to_string(r.device) + " of user " +
                             std::to_string(r.user) + " was told user " + std::to_string(mover) +
                             " is at delivered " + std::to_string(delivered) + ", read " +
                             std::to_string(read) + " in channel " + std::to_string(r.channel);
    // (a) A read never precedes delivery.
    if (read != 0 && read > delivered) {
      report.add(10, what + ": read past delivered", i);
    }
    // (b) Delivered: what a device of the mover received, or the mover read.
    const Seq marked = at(marked_, mover, r.channel);
    const Seq received = std::max(at(received_, mover, r.channel), marked);
    if (delivered > received) {
      report.add(10,
                 what + ", but no device of user " + std::to_string(mover) +
                     " had received past seq " + std::to_string(received) +
                     " there, nor had they marked it read further",
                 i);
    }
    // (c) Read: what the mover marked read.
    if (read > marked) {
      report.add(10,
                 what + ", but user " + std::to_string(mover) +
                     " had marked the channel read only up to seq " + std::to_string(marked),
                 i);
    }
    // (d) Only to the mover's other devices and to senders the move concerns.
    if (r.user != mover) {
      const Seq first = at(first_sent_, r.user, r.channel);
      if (first == 0 || first > std::max(delivered, read)) {
        report.add(
            10,
            what + ", but user " + std::to_string(r.user) +
                (first == 0 ? " had sent no text message there"
                            : "'s first text message there is seq " + std::to_string(first)) +
                ": the receipt concerns no message of theirs",
            i);
      }
    }
    // (e) Never backwards, per recipient device and (mover, channel).
    Told& told = told_[{r.device, mover, r.channel}];
    if (delivered < told.delivered) {
      report.add(10,
                 what + ": the delivered position went back from " + std::to_string(told.delivered),
                 i);
    }
    if (read != 0 && read < told.read) {
      report.add(10, what + ": the read position went back from " + std::to_string(told.read), i);
    }
    raise(told.delivered, delivered);
    raise(told.read, read);
  }

  const Run& run_;
  std::map<UserChannel, Seq> received_;    // (mover, channel) -> highest seq a device received
  std::map<UserChannel, Seq> marked_;      // (mover, channel) -> highest seq marked read
  std::map<UserChannel, Seq> first_sent_;  // (sender, channel) -> lowest own text appended
  std::map<std::tuple<DeviceId, UserId, ChannelId>, Told> told_;  // (device, mover, channel)
};

}  // namespace

std::unique_ptr<Invariant> receipts(const Run& run) {
  return std::make_unique<Receipts>(run);
}

}  // namespace parley::sim::invariants
