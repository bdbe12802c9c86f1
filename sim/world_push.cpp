// The simulated push gateway each node delivers its push intents to ([push_gateway]).
#include "sim/world_impl.hpp"

#include <algorithm>

namespace parley::sim::detail {

// One delivery attempt of `intent` from node `index`: the gateway answers after its latency;
// a failure is retried with doubling backoff and jitter; a success goes back to the engine.
void World::push_attempt(std::uint32_t index, const PushIntent& intent, std::uint32_t attempt) {
  const std::uint64_t generation = nodes_[index]->generation;
  at(now_ + scenario_.gateway_latency, [this, index, intent, attempt, generation] {
    Node& node = *nodes_[index];
    if (!node.up || node.generation != generation) return;  // restart refetches the outbox
    ++metrics_.push_attempts;
    const bool settled = now_ >= scenario_.duration;
    const auto failure_ppm = static_cast<std::uint64_t>(scenario_.gateway_failure_percent * 10'000);
    const bool fails = !settled && (gateway_down_ || rng_.chance_ppm(failure_ppm));
    if (fails) {
      TimeUs delay = 1'000'000;
      for (std::uint32_t i = 1; i < attempt && delay < 10'000'000; ++i)
        delay *= 2;
      delay = std::min<TimeUs>(delay, 10'000'000);
      at(now_ + delay / 2 + rng_.between(0, delay / 2),
         [this, index, intent, attempt] { push_attempt(index, intent, attempt + 1); });
      return;
    }
    if (delivered_pushes_.insert({shard_of(node), intent.id}).second) ++metrics_.pushes_delivered;
    Record r = node_record(node, RecordKind::gateway, node_time(node));
    r.user = intent.user;
    r.device = intent.device;
    r.seq = intent.id;
    record(r);
    node_input(node, PushResult{intent.id, PushOutcome::delivered});
  });
}

}  // namespace parley::sim::detail
