#include "search/feed.hpp"

#include <utility>
#include <variant>

namespace parley::search {

void apply(SearchIndex& index, const engine::IndexText& text) {
  index.put(Document{text.channel, text.seq, text.sender, text.server_time, text.text});
}

void apply(SearchIndex& index, const engine::UnindexText& text) {
  index.erase(text.channel, text.seq);
}

bool apply(SearchIndex& index, const engine::Effect& effect) {
  if (const auto* text = std::get_if<engine::IndexText>(&effect)) {
    apply(index, *text);
  } else if (const auto* gone = std::get_if<engine::UnindexText>(&effect)) {
    apply(index, *gone);
  } else {
    return false;
  }
  return true;
}

bool changes_index(const engine::Effect& effect) {
  return std::holds_alternative<engine::IndexText>(effect) ||
         std::holds_alternative<engine::UnindexText>(effect);
}

engine::server::SearchResults answer(const SearchIndex& index,
                                     const engine::SearchRequested& search) {
  const Query query{search.query, search.windows, search.offset, search.limit};
  Page page = index.search(query);
  // Paging ends at the deepest offset a search may ask for (limits::kMaxSearchOffset): past
  // it `more` would promise a page the engine refuses.
  const bool deeper = search.offset + page.hits.size() <= engine::limits::kMaxSearchOffset;
  return engine::server::SearchResults{search.request, std::move(page.hits), page.more && deeper};
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
