// Full-text search over chat messages (docs/search.md): a derived index of every text
// message's latest text, kept in SQLite FTS5 (Debian's libsqlite3, FTS5 built in) beside a
// node's store, rebuilt from the store when missing. The engine never touches it: hosts feed
// it the texts each commit stored, edited or deleted, off the engine thread, and run the
// queries the engine scoped to what the asker may read (their membership windows).
//
// Why SQLite FTS5 rather than Xapian: one file with transactions, BM25 ranking and
// snippets built in, a tokenizer that folds case and diacritics (unicode61), no server, and
// Debian ships it with every parley dependency already; Xapian would add a second on-disk
// format and a C++ API to wrap for the same ranking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"

namespace parley::search {

using engine::ChannelId;
using engine::Seq;
using engine::TimeUs;
using engine::UserId;

// A text message as the index keeps it: its latest text (after edits).
struct Document {
  ChannelId channel = 0;
  Seq seq = 0;
  UserId sender = 0;
  TimeUs time = 0;  // when the node stored the message, µs since the Unix epoch
  std::string text;
};

// Seqs [from, to] of a channel the asker may read (a membership window, engine rule 8):
// the engine computes them (engine::SearchRequested) and the index takes them as they are.
using Window = engine::SearchWindow;

struct Query {
  std::string text;             // what the person typed (see words_of)
  std::vector<Window> windows;  // only messages inside one of these are found
  std::size_t offset = 0;       // hits to skip: the page starts after them
  std::size_t limit = 20;       // hits per page
};

// A hit as the protocol sends it (server::SearchHit): where, who, when, and a snippet of up
// to ~16 words around the best match, in parts marked `match` where a query term matched.
using Part = engine::server::SnippetPart;
using Hit = engine::server::SearchHit;

struct Page {
  std::vector<Hit> hits;  // best first: BM25 rank, then newest (time, then seq)
  bool more = false;      // more hits follow: ask again with offset + hits.size()
};

class SearchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The FTS5 MATCH expression for a query's words (SearchIndex::words_of, which keeps the
// first kMaxTerms): every word must occur, the last one as a prefix ("caf" finds "café");
// every word is quoted, so no input is read as FTS5 syntax. Nothing when there is no word.
inline constexpr std::size_t kMaxTerms = 16;
std::optional<std::string> to_match_expression(const std::vector<std::string>& words);

// A hit's snippet holds at most this many bytes of text (its parts together, '…' marks
// included): the text before the first match keeps only its last ~96 bytes, and the parts
// are cut on a code point with '…' where the bound is reached. FTS5 cuts a snippet at 16
// tokens, but one token can be a whole 99,999-code-point message.
inline constexpr std::size_t kMaxSnippetBytes = 512;

class SearchIndex {
 public:
  // Opens (creating it if missing) the index at `path`; ":memory:" for one in memory.
  // Throws SearchError.
  explicit SearchIndex(const std::string& path);
  ~SearchIndex();
  SearchIndex(const SearchIndex&) = delete;
  SearchIndex& operator=(const SearchIndex&) = delete;

  // Writes go in transactions: many puts per commit cost one sync.
  void begin();
  void commit();
  // Inserts the message, or replaces its text (an edit).
  void put(const Document& document);
  // Forgets the message (deleted for everyone). Nothing if it is not there.
  void erase(ChannelId channel, Seq seq);
  // The highest seq of `channel` indexed, 0 when none: what a rebuild resumes after.
  Seq indexed_upto(ChannelId channel) const;
  std::size_t size() const;
  // A word the host keeps beside the documents (its own transaction unless inside one):
  // the node writes "open" before it feeds the index and "closed" after a clean stop, so
  // an index it finds "open" missed what a crash cut off and is rebuilt (docs/search.md).
  // "" in a new index.
  std::string mark() const;
  void set_mark(std::string_view value);

  // The first kMaxTerms words of `typed` as the index's own tokenizer (unicode61,
  // remove_diacritics 2) splits and folds them: letters and digits of any script, split at
  // any other character, lower-cased, accents dropped ("Café—Ünter" gives "cafe", "unter").
  std::vector<std::string> words_of(std::string_view typed) const;
  // The page of hits; an empty page for a query with no word or no window.
  Page search(const Query& query) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::search
