// The engine's time, from two clock readings its host takes: the wall clock (what the
// machine says the date is) and a monotonic clock (an elapsed-time counter that NTP and the
// administrator cannot step).
//
// The engine measures every timeout (presence, push collapse) as a difference of its `now`,
// so `now` must advance at the rate real time does and never jump: a wall clock stepped 30 s
// forward would expire every user's presence at once. EngineClock anchors on the wall
// clock at the first reading (so timestamps stay dates) and then advances only by the
// monotonic clock's elapsed time, never going backwards. A later wall-clock step or skew
// changes nothing until the host starts a new EngineClock (a restart re-anchors on the wall).
//
// Pure: the host passes the readings in; production and the simulator share this code.
#pragma once

#include <algorithm>

#include "engine/types.hpp"

namespace parley::engine {

class EngineClock {
 public:
  // The engine time for readings taken together now: the wall time of the first reading
  // plus the monotonic time elapsed since it, and never less than any earlier result.
  TimeUs now(TimeUs wall_us, TimeUs monotonic_us) {
    if (!anchored_) {
      anchored_ = true;
      wall_anchor_ = wall_us;
      monotonic_anchor_ = monotonic_us;
      last_ = wall_us;
      return last_;
    }
    last_ = std::max(last_, wall_anchor_ + (monotonic_us - monotonic_anchor_));
    return last_;
  }

 private:
  bool anchored_ = false;
  TimeUs wall_anchor_ = 0;
  TimeUs monotonic_anchor_ = 0;
  TimeUs last_ = 0;
};

}  // namespace parley::engine
