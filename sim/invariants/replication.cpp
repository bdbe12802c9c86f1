// Invariants 7 and 8, a clustered world's log and replicas ([cluster]; docs/invariants.md):
//
//  7. Fencing: log entries are appended once each, at 1, 2, 3, ... in order, and only by the
//     leader of the newest token granted so far: once a token is granted, no append carries
//     an older one (a deposed leader's append never lands).
//  8. Replicas agree: replicas that applied the same log index hold the same state (equal
//     digests of every table), and after the run every replica applied the whole log.
//
// Both read only the `leader`, `logged` and `replica` records a clustered world writes: a
// single node's run has none and passes trivially.
#include <map>

#include "sim/invariants/invariant.hpp"

namespace parley::sim::invariants {
namespace {

class Fencing final : public Invariant {
 public:
  explicit Fencing(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::leader && r.flag) {
      newest_ = std::max(newest_, r.seq);
    } else if (r.kind == RecordKind::logged) {
      const std::uint64_t token = r.inbox_seq;
      if (token < newest_) {
        report.add(7,
                   "node " + std::to_string(r.node) + " appended log entry " +
                       std::to_string(r.seq) + " with token " + std::to_string(token) +
                       " after token " + std::to_string(newest_) +
                       " was granted: a deposed leader's append landed",
                   i);
      }
      if (r.seq != last_ + 1) {
        report.add(7,
                   "log entry " + std::to_string(r.seq) + " appended after entry " +
                       std::to_string(last_) + ": each index once, in order",
                   i);
      }
      last_ = std::max(last_, r.seq);
    }
  }

 private:
  const Run& run_;
  std::uint64_t newest_ = 0;  // the newest token granted so far
  std::uint64_t last_ = 0;    // the last index appended
};

class ReplicasAgree final : public Invariant {
 public:
  explicit ReplicasAgree(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    if (r.kind == RecordKind::logged) last_logged_ = std::max(last_logged_, r.seq);
    if (r.kind != RecordKind::replica || r.text != "state") return;
    const auto [it, first] = states_.try_emplace(r.seq, State{r.inbox_seq, r.node});
    if (!first && it->second.digest != r.inbox_seq) {
      report.add(8,
                 "replica " + std::to_string(r.node) + " at log index " + std::to_string(r.seq) +
                     " holds other state than replica " + std::to_string(it->second.node) +
                     " at the same index",
                 i);
    }
    if (r.flag) finals_.emplace_back(i, r.seq);
  }

  void finish(Report& report) override {
    for (const auto& [index, applied] : finals_) {
      if (applied >= last_logged_) continue;
      const Record& r = run_.history[index];
      report.add(8,
                 "replica " + std::to_string(r.node) + " ended at log index " +
                     std::to_string(applied) + " of " + std::to_string(last_logged_),
                 index);
    }
  }

 private:
  struct State {
    std::uint64_t digest = 0;
    std::uint32_t node = 0;
  };
  const Run& run_;
  std::map<std::uint64_t, State> states_;                      // by applied index: the first seen
  std::vector<std::pair<std::size_t, std::uint64_t>> finals_;  // (record, applied index)
  std::uint64_t last_logged_ = 0;
};

}  // namespace

std::unique_ptr<Invariant> fencing(const Run& run) {
  return std::make_unique<Fencing>(run);
}
std::unique_ptr<Invariant> replicas_agree(const Run& run) {
  return std::make_unique<ReplicasAgree>(run);
}

}  // namespace parley::sim::invariants
