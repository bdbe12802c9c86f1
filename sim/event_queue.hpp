// The simulator's event queue: actions ordered by (time, insertion order), so that events at
// the same time run in the order they were scheduled and a seed replays exactly.
//
// Why not std::priority_queue<Event>: every sift moved whole events (the keys and a 32-byte
// std::function), and a run pops millions of them. Here the heap holds only small keys, four
// children per node (half the depth of a binary heap), and the actions stay where they were
// put: in a deque, whose elements never move, in slots that are reused once run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "engine/types.hpp"

namespace parley::sim::detail {

class EventQueue {
 public:
  using Action = std::function<void()>;

  bool empty() const { return heap_.empty(); }
  // REQUIRES: !empty().
  engine::TimeUs next_at() const { return heap_.front().at; }

  void push(engine::TimeUs at, Action action) {
    std::uint32_t slot = 0;
    if (free_.empty()) {
      slot = static_cast<std::uint32_t>(actions_.size());
      actions_.push_back(std::move(action));
    } else {
      slot = free_.back();
      free_.pop_back();
      actions_[slot] = std::move(action);
    }
    heap_.push_back(Key{at, next_order_++, slot});
    sift_up(heap_.size() - 1);
  }

  // Removes the earliest event and runs its action. The action may push more events: it
  // runs in its slot (deque elements stay put), and the slot is freed only afterwards.
  // REQUIRES: !empty().
  void run_next() {
    const std::uint32_t slot = heap_.front().slot;
    heap_.front() = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) {
      sift_down(0);
      // The next action was stored long ago (a heartbeat's, seconds of events back): start
      // loading it while this one runs.
      __builtin_prefetch(&actions_[heap_.front().slot]);
    }
    Action& action = actions_[slot];
    action();
    action = nullptr;  // drops what it captured now, not when the slot is reused
    free_.push_back(slot);
  }

 private:
  static constexpr std::size_t kArity = 4;
  struct Key {
    engine::TimeUs at;
    std::uint64_t order;
    std::uint32_t slot;
  };
  static bool before(const Key& a, const Key& b) {
    return a.at != b.at ? a.at < b.at : a.order < b.order;
  }

  void sift_up(std::size_t i) {
    const Key key = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / kArity;
      if (!before(key, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = key;
  }

  void sift_down(std::size_t i) {
    const Key key = heap_[i];
    const std::size_t size = heap_.size();
    while (true) {
      const std::size_t first = i * kArity + 1;
      if (first >= size) break;
      const std::size_t last = std::min(first + kArity, size);
      std::size_t best = first;
      for (std::size_t c = first + 1; c < last; ++c) {
        if (before(heap_[c], heap_[best])) best = c;
      }
      if (!before(heap_[best], key)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = key;
  }

  std::vector<Key> heap_;
  std::deque<Action> actions_;
  std::vector<std::uint32_t> free_;
  std::uint64_t next_order_ = 0;
};

}  // namespace parley::sim::detail
