// Invariant 9, typing indicators (docs/engine.md, rule 18), from the typing events each node
// sent, at the engine's time:
// - nobody is told about their own typing (not even on another device);
// - a start is fanned out at most once per 2 s (limits::kTypingMinGapUs) per (channel, typist),
// unless a
//   stop, a message from the typist in that channel, or a new engine (a crash, a restart, a
//   new cluster leader) came in between; and one fanout tells each device once.
// A fanout is every start record of one (node, channel, typist) at one engine time.
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
      case RecordKind::crash:
      case RecordKind::restart:
      case RecordKind::leader:
        std::erase_if(fanouts_,
                      [&](const auto& entry) { return std::get<0>(entry.first) == r.node; });
        return;
      case RecordKind::append:
        fanouts_.erase({r.node, r.channel, r.user});
        return;
      case RecordKind::typing:
        if (!r.flag) {
          fanouts_.erase({r.node, r.channel, r.peer});  // a stop, told or asked
        } else {
          start(i, r, report);
        }
        return;
      default:
        return;
    }
  }

 private:
  using Key = std::tuple<std::uint32_t, ChannelId, UserId>;  // (node, channel, typist)
  struct Fanout {
    TimeUs at = 0;               // engine time
    std::vector<DeviceId> told;  // devices told in it
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
    const auto [found, first] = fanouts_.try_emplace({r.node, r.channel, r.peer});
    Fanout& fanout = found->second;
    if (!first && fanout.at == r.node_time) {
      if (std::find(fanout.told.begin(), fanout.told.end(), r.device) != fanout.told.end()) {
        report.add(
            9,
            "device " + std::to_string(r.device) + " was told of " + what + " twice in one fanout",
            i);
      }
      fanout.told.push_back(r.device);
      return;
    }
    if (!first && r.node_time - fanout.at < engine::limits::kTypingMinGapUs) {
      report.add(9,
                 what + " was fanned out again " +
                     std::to_string((r.node_time - fanout.at) / 1000) +
                     " ms after the last start (at most one per " +
                     std::to_string(engine::limits::kTypingMinGapUs / 1000) + " ms)",
                 i);
    }
    fanout = Fanout{r.node_time, {r.device}};
  }

  const Run& run_;
  std::map<Key, Fanout> fanouts_;
};

}  // namespace

std::unique_ptr<Invariant> typing(const Run& run) {
  return std::make_unique<Typing>(run);
}

}  // namespace parley::sim::invariants
