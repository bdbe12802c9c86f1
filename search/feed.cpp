#include "search/feed.hpp"

#include <utility>

namespace parley::search {

void apply(SearchIndex& index, const engine::IndexText& text) {
  index.put(Document{text.channel, text.seq, text.sender, text.server_time, text.text});
}

void apply(SearchIndex& index, const engine::UnindexText& text) {
  index.erase(text.channel, text.seq);
}

engine::server::SearchResults answer(const SearchIndex& index,
                                     const engine::SearchRequested& search) {
  Query query;
  query.text = search.query;
  query.offset = search.offset;
  query.limit = search.limit;
  query.windows.reserve(search.windows.size());
  for (const engine::SearchWindow& window : search.windows)
    query.windows.push_back(Window{window.channel, window.from, window.to});
  Page page = index.search(query);
  // Paging ends at the deepest offset a search may ask for (limits::kMaxSearchOffset): past
  // it `more` would promise a page the engine refuses.
  const bool deeper = search.offset + page.hits.size() <= engine::limits::kMaxSearchOffset;
  engine::server::SearchResults results{search.request, {}, page.more && deeper};
  results.hits.reserve(page.hits.size());
  for (Hit& hit : page.hits) {
    engine::server::SearchHit out{hit.channel, hit.seq, hit.sender, hit.time, {}};
    out.snippet.reserve(hit.snippet.size());
    for (Part& part : hit.snippet)
      out.snippet.push_back({std::move(part.text), part.match});
    results.hits.push_back(std::move(out));
  }
  return results;
}

std::size_t fill_from_store(SearchIndex& index, const PageReader& next_page) {
  std::size_t indexed = 0;
  engine::MessageId after{0, 0};
  while (true) {
    engine::Engine::MessagePage page = next_page(after);
    if (page.messages.empty()) break;
    index.begin();
    for (const engine::MessageRecord& message : page.messages) {
      if (message.kind != engine::MessageKind::text || message.deleted) continue;
      index.put(Document{message.channel, message.seq, message.sender, message.server_time,
                         message.text});
      ++indexed;
    }
    index.commit();
    after = page.last;
  }
  return indexed;
}

}  // namespace parley::search
