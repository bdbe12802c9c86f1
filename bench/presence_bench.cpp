// Tick cost against the number of tracked devices (issue 3): a tick must cost the same at
// 10k and 1M devices, because it only looks at deadlines that came due.
#include <benchmark/benchmark.h>

#include "engine/presence.hpp"

namespace {

using namespace parley::engine;

constexpr TimeUs kTimeout = 30'000'000;

// Every device heartbeated at a distinct time in the last timeout; ticks a second apart
// find nothing due.
void BM_TickNothingDue(benchmark::State& state) {
  const auto devices = static_cast<DeviceId>(state.range(0));
  PresenceTracker tracker(kTimeout);
  for (DeviceId device = 1; device <= devices; ++device) {
    tracker.alive(device, device, static_cast<TimeUs>(device % 1000));
  }
  std::vector<PresenceChange> changes;
  const TimeUs now = 1000;  // far below the first deadline
  for (auto _ : state) {
    tracker.expire(now, changes);
    benchmark::DoNotOptimize(changes.data());
  }
  state.counters["tracked"] = static_cast<double>(tracker.tracked_devices());
}
BENCHMARK(BM_TickNothingDue)->Arg(10'000)->Arg(1'000'000);

// Steady state: every iteration one device heartbeats and one tick finds exactly one
// deadline due (a device that heartbeated since, so it is rescheduled, not expired).
void BM_TickOneDue(benchmark::State& state) {
  const auto devices = static_cast<DeviceId>(state.range(0));
  PresenceTracker tracker(kTimeout);
  // Deadlines one microsecond apart, device d due at kTimeout + d.
  for (DeviceId device = 1; device <= devices; ++device) {
    tracker.alive(device, device, static_cast<TimeUs>(device));
  }
  std::vector<PresenceChange> changes;
  TimeUs now = kTimeout;
  DeviceId next = 1;
  for (auto _ : state) {
    tracker.alive(next, next, now);  // the device due next was seen just now
    ++now;
    tracker.expire(now, changes);
    next = next == devices ? 1 : next + 1;
  }
  if (!changes.empty()) state.SkipWithError("a heartbeating device expired");
  state.counters["tracked"] = static_cast<double>(tracker.tracked_devices());
}
BENCHMARK(BM_TickOneDue)->Arg(10'000)->Arg(1'000'000);

}  // namespace
