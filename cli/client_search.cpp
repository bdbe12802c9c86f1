// Search in `parley client` (docs/client.md): /search WORDS asks the node for the best ten
// messages you may read that hold every word (the last one as a prefix), /more shows the
// next ten. A hit prints as "#SEQ in CHAT, SENDER, TIME: ...snippet..." with the matched
// words in [brackets].
#include <algorithm>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace {
constexpr std::uint32_t kHitsPerPage = 10;
}

void TerminalClient::search(const std::string& words) {
  if (words.empty()) return client_error("usage: /search WORDS (then /more for the next hits)");
  search_query_ = words;
  search_offset_ = 0;
  search_request_ = request(client::Search{0, words, 0, kHitsPerPage});
}

void TerminalClient::search_more() {
  if (search_query_.empty() || !search_more_) return client_error("no more hits: /search WORDS");
  search_request_ = request(client::Search{0, search_query_, search_offset_, kHitsPerPage});
}

void TerminalClient::show_search_results(const server::SearchResults& results) {
  if (results.request != search_request_) return;
  if (results.hits.empty()) {
    say(search_offset_ == 0 ? "* nothing found for \"" + search_query_ + "\""
                            : "* no more hits for \"" + search_query_ + "\"");
    search_more_ = false;
    return;
  }
  say("* hits " + std::to_string(search_offset_ + 1) + "-" +
      std::to_string(search_offset_ + results.hits.size()) + " for \"" + search_query_ + "\":");
  for (const auto& hit : results.hits) {
    std::string snippet;
    for (const auto& part : hit.snippet)
      snippet += part.match ? "[" + part.text + "]" : part.text;
    // One line per hit: a message's own line breaks print as spaces.
    std::replace(snippet.begin(), snippet.end(), '\n', ' ');
    say("  #" + std::to_string(hit.seq) + " in " + channel_label(hit.channel) + ", " +
        name_of(hit.sender) + ", " + local_time(hit.server_time) + ": " + snippet);
  }
  search_offset_ += static_cast<std::uint32_t>(results.hits.size());
  search_more_ = results.more;
  if (results.more) say("* more hits: /more");
}

}  // namespace parley::cli::detail
