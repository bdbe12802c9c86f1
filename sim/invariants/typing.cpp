// Invariant 9, typing indicators (docs/engine.md, rule 18), from the typing events each node
// sent, at the engine's time, and the stops it was asked for:
// - nobody is told about their own typing (not even on another device);
// - while a (channel, typist)'s start is shown, the next start fanout comes 2 s
//   (limits::kTypingMinGapUs) or more after it; after a stop, starts go out while an
//   allowance of two per 2 s lasts;
// - one fanout tells each device once.
// A message from the typist in that channel, a new engine (a crash, a restart, a new
// cluster leader) or 6 s without a start start afresh. A fanout is every start record of
// one (node, channel, typist) at one engine time. Starts nobody was told of are missing from
// the history, which only makes the check more lenient, never wrong.
#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "engine/types.hpp"

namespace parley::sim::invariants {
namespace {

class Typing final : public Invariant {
 public:
  explicit Typing(const Run& run) : run_(run) {}

  void record(std::size_t i, Report& report) override {
    const Record& r = run_.history[i];
    switch (r.kind) {
      case RecordKind::leader:
        // A clustered world has one shard, and a leader record names the replica, not the
        // shard the typing records name: a new leader (its engine rebuilt) starts afresh.
        typists_.clear();
        return;
      case RecordKind::crash:
      case RecordKind::restart:
        std::erase_if(typists_,
                      [&](const auto& entry) { return std::get<0>(entry.first) == r.node; });
        return;
      case RecordKind::append:
        typists_.erase({r.node, r.channel, r.user});
        return;
      case RecordKind::typing:
        if (r.flag) return start(i, r, report);
        if (auto found = typists_.find({r.node, r.channel, r.peer}); found != typists_.end()) {
          found->second.shown = false;  // a stop, told or asked for
        }
        return;
      default:
        return;
    }
  }

 private:
  using Key = std::tuple<std::uint32_t, ChannelId, UserId>;  // (node, channel, typist)
  static constexpr TimeUs kGap = engine::limits::kTypingMinGapUs;
  struct Typist {
    TimeUs at = 0;               // engine time of the last start fanout
    TimeUs allowance = 0;        // as of `at`, after that fanout's cost
    bool shown = true;           // no stop since
    std::vector<DeviceId> told;  // devices told in that fanout
  };

  void start(std::size_t i, const Record& r, Report& report) {
    const std::string what =
        "user " + std::to_string(r.peer) + " typing in channel " + std::to_string(r.channel);
    if (r.user == r.peer) {
      report.add(9,
                 "user " + std::to_string(r.user) + " was told of their own typing in channel " +
                     std::to_string(r.channel),
                 i);
    }
    const auto found = typists_.find({r.node, r.channel, r.peer});
    if (found == typists_.end() || r.node_time - found->second.at >= engine::limits::kTypingTtlUs) {
      typists_[{r.node, r.channel, r.peer}] = Typist{r.node_time, kGap, true, {r.device}};
      return;
    }
    Typist& typist = found->second;
    if (typist.at == r.node_time) {  // the same fanout
      if (std::find(typist.told.begin(), typist.told.end(), r.device) != typist.told.end()) {
        report.add(
            9,
            "device " + std::to_string(r.device) + " was told of " + what + " twice in one fanout",
            i);
      }
      typist.told.push_back(r.device);
      return;
    }
    const TimeUs elapsed = r.node_time - typist.at;
    const TimeUs allowance = std::min(typist.allowance + elapsed, 2 * kGap);
    if (typist.shown && elapsed < kGap) {
      report.add(9,
                 what + " was fanned out again " + std::to_string(elapsed / 1000) +
                     " ms after the last start, while it was shown (a refresh waits " +
                     std::to_string(kGap / 1000) + " ms)",
                 i);
    } else if (allowance < kGap) {
      report.add(9, what + " was fanned out again after a stop with no allowance left", i);
    }
    typist = Typist{r.node_time, std::max<TimeUs>(allowance - kGap, 0), true, {r.device}};
  }

  const Run& run_;
  std::map<Key, Typist> typists_;
};

}  // namespace

std::unique_ptr<Invariant> typing(const Run& run) {
  return std::make_unique<Typing>(run);
}

}  // namespace parley::sim::invariants
