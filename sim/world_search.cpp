// Search in the simulator (docs/search.md): each node keeps an index of its own, in memory,
// fed by the same effects and answered by the same code (search/feed.hpp) as the production
// node's, gone with a crash and filled from the store at each start. Apps search now and
// then; every hit is recorded as a `read` of its message, so invariant 3 (members only)
// holds it to the asker's membership windows and invariant 11 (edits and deletes) to
// deleted text, as it does history pages.
#include <limits>

#include "search/feed.hpp"
#include "sim/world_impl.hpp"

namespace parley::sim::detail {

void World::open_index(Node& node) {
  node.search_index = std::make_unique<search::SearchIndex>(":memory:");
  search::fill_from_store(*node.search_index, [&](MessageId after) {
    return node.core->read(
        [&](const Engine& engine) { return engine.messages_after(after, search::kFillPage); });
  });
  const bool unfed = options_.planted_bug == PlantedBug::follower_index_unfed;  // PLANTED BUG
  if (node.replica && !node.replica_sink_set && !unfed) {
    node.replica_sink_set = true;
    // A follower applies the log without releasing anything: only its index learns.
    node.replica->on_follower_effects([this, &node](Effects&& effects) {
      for (Effect& effect : effects) {
        if (search::changes_index(effect)) release_search(node, effect);
      }
    });
  }
}

// IndexText, UnindexText and SearchRequested of a released batch, in order.
void World::release_search(Node& node, Effect& effect) {
  if (!node.search_index) return;  // the process is down
  if (const auto* text = std::get_if<IndexText>(&effect)) {
    search::apply(*node.search_index, *text);
  } else if (const auto* gone = std::get_if<UnindexText>(&effect)) {
    if (options_.planted_bug == PlantedBug::search_keeps_deleted) return;  // PLANTED BUG
    search::apply(*node.search_index, *gone);
  } else if (auto* asked = std::get_if<SearchRequested>(&effect)) {
    if (options_.planted_bug == PlantedBug::search_unscoped) {
      for (SearchWindow& window : asked->windows) {  // PLANTED BUG
        window.from = 1;
        window.to = std::numeric_limits<std::int64_t>::max();
      }
    }
    to_client(asked->connection, search::answer(*node.search_index, *asked));
  }
}

// Apps search every so often, on an online device, for a word of the simulated texts
// (World::random_text: runs of a, b, e, o and é between spaces and symbols); the last word
// of a query is a prefix, so one letter finds every word it starts.
void World::schedule_search(UserId u) {
  const auto mean =
      static_cast<TimeUs>(static_cast<double>(kMinute) / scenario_.searches_per_user_per_minute);
  at(std::max(now_, kTrafficStart) + rng_.gap(mean), [this, u] {
    if (now_ >= scenario_.duration) return;
    const User& user = users_[u];
    const std::size_t d = user.devices[rng_.below(user.devices.size())];
    if (devices_[d].state == DeviceState::online) {
      static constexpr const char* kWords[] = {"a", "b", "e", "o", "ab", "eo", "ba", "oe"};
      request(d, "search", client::Search{0, kWords[rng_.below(8)], 0, 20});
    }
    schedule_search(u);
  });
}

void World::on_search_results(std::size_t d, const server::SearchResults& results,
                              const std::string& purpose) {
  if (purpose != "search") return;
  ++metrics_.searches;
  for (const server::SearchHit& hit : results.hits) {
    Record r = device_record(d, RecordKind::read);
    r.peer = hit.sender;
    r.channel = hit.channel;
    r.seq = hit.seq;
    r.detail = "text";
    r.flag = hit.snippet.empty();  // no text at all: what a tombstone would show
    r.text = "search";
    record(std::move(r));
    ++metrics_.search_hits;
  }
}

}  // namespace parley::sim::detail
