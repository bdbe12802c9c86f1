// What every host does with the engine's search effects (engine/engine.hpp: IndexText,
// UnindexText, SearchRequested), the same in the node and the simulator, so both answer a
// search from the same rules (docs/search.md).
#pragma once

#include <cstddef>
#include <functional>

#include "engine/engine.hpp"
#include "search/search_index.hpp"

namespace parley::search {

// Applies one index effect. Call them in the order the engine emitted them, after their
// batch committed (then a later SearchRequested sees them).
void apply(SearchIndex& index, const engine::IndexText& text);
void apply(SearchIndex& index, const engine::UnindexText& text);
// The same for any effect: applies IndexText and UnindexText, ignores the rest. Returns
// whether `effect` was one of the two.
bool apply(SearchIndex& index, const engine::Effect& effect);
// Whether `effect` changes an index (IndexText, UnindexText): what a host that does not
// hold the index itself (a queue to its worker) passes on.
bool changes_index(const engine::Effect& effect);

// The answer to a search the engine scoped: hits only inside its windows.
engine::server::SearchResults answer(const SearchIndex& index,
                                     const engine::SearchRequested& search);

// Puts every stored text message that is not deleted into `index` (its latest text), page
// by page: `next_page(after)` returns Engine::messages_after(after, n) read from the store
// (the caller decides where the read runs: the node's engine thread, between batches).
// Returns how many messages it indexed. For an empty index (a new or dropped one): it
// neither erases nor compares what is there.
using PageReader = std::function<engine::Engine::MessagePage(engine::MessageId after)>;
std::size_t fill_from_store(SearchIndex& index, const PageReader& next_page);
// How many messages fill_from_store asks for at once.
inline constexpr std::size_t kFillPage = 2'000;

}  // namespace parley::search
