// SearchIndex on SQLite FTS5 (search_index.hpp). Two tables: `docs`, one row per text
// message (its coordinates and latest text), and `fts`, an external-content FTS5 index of
// docs.text kept in step by triggers, as the SQLite FTS5 documentation's "external content
// tables" section describes (https://www.sqlite.org/fts5.html#external_content_tables).
#include "search/search_index.hpp"

#include "engine/utf8.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <utility>

namespace parley::search {
namespace {

constexpr const char* kSchema = R"sql(
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS docs(
  id INTEGER PRIMARY KEY,
  channel INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sender INTEGER NOT NULL,
  time INTEGER NOT NULL,
  text TEXT NOT NULL,
  chan TEXT NOT NULL,
  UNIQUE(channel, seq));
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(
  text, chan, content = 'docs', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2');
CREATE TRIGGER IF NOT EXISTS docs_inserted AFTER INSERT ON docs BEGIN
  INSERT INTO fts(rowid, text, chan) VALUES (new.id, new.text, new.chan);
END;
CREATE TRIGGER IF NOT EXISTS docs_deleted AFTER DELETE ON docs BEGIN
  INSERT INTO fts(fts, rowid, text, chan) VALUES ('delete', old.id, old.text, old.chan);
END;
CREATE TRIGGER IF NOT EXISTS docs_updated AFTER UPDATE ON docs BEGIN
  INSERT INTO fts(fts, rowid, text, chan) VALUES ('delete', old.id, old.text, old.chan);
  INSERT INTO fts(rowid, text, chan) VALUES (new.id, new.text, new.chan);
END;
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TEMP TABLE windows(channel INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
CREATE INDEX temp.windows_by_channel ON windows(channel, lo);
)sql";

// Text before the first match kept in a snippet, '…' included.
constexpr std::size_t kLeadBytes = 96;

// The snippet's highlight marks: bytes that valid UTF-8, and so no stored text, ever holds
// (a control character as a mark was ambiguous: a text may hold one).
constexpr char kOpen = '\xFF';
constexpr char kClose = '\xFE';

// The page's messages, best first. CROSS JOIN: the FTS match drives and docs is looked up
// by rowid. The snippet comes from the same cursor: a second MATCH per hit would decode a
// common word's whole doclist again for each (five times slower at 1M messages).
constexpr const char* kSearch = R"sql(
SELECT d.channel, d.seq, d.sender, d.time, snippet(fts, 0, CAST(x'FF' AS TEXT), CAST(x'FE' AS TEXT), '…', 16)
FROM fts
CROSS JOIN docs AS d ON d.id = fts.rowid
WHERE fts MATCH ?1
  AND EXISTS (SELECT 1 FROM temp.windows AS w
              WHERE w.channel = d.channel AND d.seq BETWEEN w.lo AND w.hi)
ORDER BY bm25(fts, 1.0, 0.0), d.time DESC, d.seq DESC, d.channel
LIMIT ?2 OFFSET ?3
)sql";

// SQLite integers are signed: ids and seqs past 2^63 - 1 (never handed out) read as the top.
std::int64_t as_int(std::uint64_t value) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(value, INT64_MAX));
}

// Splits a snippet at the highlight marks, within kMaxSnippetBytes: FTS5 cuts a snippet at
// 16 tokens, but a token or the text between two can be as long as the message (a long run
// of CJK, symbols or spaces), so the text before the first match keeps only its end and the
// parts stop, cut on a code point with '…', where the bound is reached.
std::vector<Part> parts_of(std::string_view marked) {
  constexpr std::string_view kEllipsis = "…";
  std::vector<Part> parts;
  std::size_t room = kMaxSnippetBytes - kEllipsis.size();  // the closing '…' always fits
  bool cut = false;
  bool match = false;
  std::string_view rest = marked;
  const auto add = [&](std::string_view text) {
    if (text.empty() || cut) return;
    if (parts.empty() && !match && text.size() > kLeadBytes) {  // a long way to the first match
      std::string kept(kEllipsis);
      kept += engine::utf8_suffix_bytes(text, kLeadBytes - kEllipsis.size());
      room -= kept.size();
      parts.push_back(Part{std::move(kept), false});
      return;
    }
    if (text.size() <= room) {
      parts.push_back(Part{std::string(text), match});
      room -= text.size();
      return;
    }
    const std::string_view head = engine::utf8_prefix_bytes(text, room);
    if (!head.empty()) parts.push_back(Part{std::string(head), match});
    parts.push_back(Part{std::string(kEllipsis), false});
    cut = true;
  };
  while (!rest.empty()) {
    const std::size_t mark = rest.find_first_of(std::string_view("\xFF\xFE", 2));
    add(rest.substr(0, mark));
    if (mark == std::string_view::npos) break;
    match = rest[mark] == kOpen;
    rest.remove_prefix(mark + 1);
  }
  return parts;
}

// The windows' channels as FTS5 terms ("c12 OR c40"): the index intersects the query's
// words with them, so a query costs what the asker's own chats hold, not the whole store.
std::string channel_terms(const std::vector<Window>& windows) {
  std::vector<ChannelId> channels;
  for (const Window& window : windows)
    channels.push_back(window.channel);
  std::sort(channels.begin(), channels.end());
  channels.erase(std::unique(channels.begin(), channels.end()), channels.end());
  std::string terms;
  for (ChannelId channel : channels) {
    if (!terms.empty()) terms += " OR ";
    terms += 'c' + std::to_string(channel);
  }
  return terms;
}

}  // namespace

std::optional<std::string> to_match_expression(const std::vector<std::string>& words) {
  if (words.empty()) return std::nullopt;
  std::string expression;
  for (std::size_t w = 0; w < words.size(); ++w) {
    if (w != 0) expression += ' ';
    expression += '"';
    for (char c : words[w]) {
      expression += c;
      if (c == '"') expression += '"';  // FTS5's escape inside a string
    }
    expression += '"';
  }
  expression += '*';  // the last word as typed so far
  return expression;
}

// ---- SQLite plumbing ----------------------------------------------------------------------

struct Statement {
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw SearchError(std::string("search index: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  Statement& bind(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  // True while a row is there to read.
  bool step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw SearchError(std::string("search index: ") + sqlite3_errmsg(db_));
  }
  void run() {
    while (step()) {
    }
    reset();
  }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string_view text(int column) const {
    const auto* data = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return {data == nullptr ? "" : data,
            static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

struct SearchIndex::Impl {
  explicit Impl(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
      const std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
      sqlite3_close(db);
      throw SearchError("search index " + path + ": " + why);
    }
    exec(kSchema);
    put_doc =
        std::make_unique<Statement>(db,
                                    "INSERT INTO docs(channel, seq, sender, time, text, chan) "
                                    "VALUES (?1, ?2, ?3, ?4, ?5, 'c' || ?1) "
                                    "ON CONFLICT(channel, seq) DO UPDATE SET text = excluded.text "
                                    "WHERE text IS NOT excluded.text");
    erase_doc = std::make_unique<Statement>(db, "DELETE FROM docs WHERE channel = ?1 AND seq = ?2");
    upto = std::make_unique<Statement>(db, "SELECT max(seq) FROM docs WHERE channel = ?1");
    count = std::make_unique<Statement>(db, "SELECT count(*) FROM docs");
    clear_windows = std::make_unique<Statement>(db, "DELETE FROM temp.windows");
    add_window = std::make_unique<Statement>(db, "INSERT INTO temp.windows VALUES (?1, ?2, ?3)");
    search = std::make_unique<Statement>(db, kSearch);
    get_mark = std::make_unique<Statement>(db, "SELECT value FROM meta WHERE key = 'mark'");
    put_mark = std::make_unique<Statement>(
        db, "INSERT INTO meta VALUES ('mark', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1");
    open_tokenizer();
  }
  ~Impl() {
    put_doc.reset();
    erase_doc.reset();
    upto.reset();
    count.reset();
    clear_windows.reset();
    add_window.reset();
    search.reset();
    get_mark.reset();
    put_mark.reset();
    if (tokenizer != nullptr) methods.xDelete(tokenizer);
    sqlite3_close(db);
  }
  void exec(const char* sql) const {
    char* error = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string why = error != nullptr ? error : "unknown error";
      sqlite3_free(error);
      throw SearchError("search index: " + why);
    }
  }

  // The fts table's tokenizer, found through the FTS5 API of this connection
  // (https://www.sqlite.org/fts5.html#custom_tokenizers), for a query's words.
  void open_tokenizer() {
    fts5_api* api = nullptr;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, nullptr) == SQLITE_OK) {
      sqlite3_bind_pointer(stmt, 1, static_cast<void*>(&api), "fts5_api_ptr", nullptr);
      sqlite3_step(stmt);
    }
    sqlite3_finalize(stmt);
    void* context = nullptr;
    const char* args[] = {"remove_diacritics", "2"};
    if (api == nullptr || api->xFindTokenizer(api, "unicode61", &context, &methods) != SQLITE_OK ||
        methods.xCreate(context, args, 2, &tokenizer) != SQLITE_OK) {
      throw SearchError("search index: SQLite's FTS5 unicode61 tokenizer is missing");
    }
  }

  sqlite3* db = nullptr;
  fts5_tokenizer methods{};
  Fts5Tokenizer* tokenizer = nullptr;
  std::unique_ptr<Statement> put_doc, erase_doc, upto, count, clear_windows, add_window, search,
      get_mark, put_mark;
};

SearchIndex::SearchIndex(const std::string& path) : impl_(std::make_unique<Impl>(path)) {}
SearchIndex::~SearchIndex() = default;

void SearchIndex::begin() {
  impl_->exec("BEGIN");
}
void SearchIndex::commit() {
  impl_->exec("COMMIT");
}

void SearchIndex::put(const Document& document) {
  impl_->put_doc->bind(1, as_int(document.channel))
      .bind(2, as_int(document.seq))
      .bind(3, as_int(document.sender))
      .bind(4, document.time)
      .bind(5, document.text)
      .run();
}

void SearchIndex::erase(ChannelId channel, Seq seq) {
  impl_->erase_doc->bind(1, as_int(channel)).bind(2, as_int(seq)).run();
}

Seq SearchIndex::indexed_upto(ChannelId channel) const {
  Statement& upto = *impl_->upto;
  upto.bind(1, as_int(channel));
  const Seq seq = upto.step() ? static_cast<Seq>(upto.integer(0)) : 0;
  upto.reset();
  return seq;
}

std::string SearchIndex::mark() const {
  Statement& get = *impl_->get_mark;
  std::string value = get.step() ? std::string(get.text(0)) : std::string();
  get.reset();
  return value;
}

void SearchIndex::set_mark(std::string_view value) {
  impl_->put_mark->bind(1, value).run();
}

std::size_t SearchIndex::size() const {
  Statement& count = *impl_->count;
  const auto rows = count.step() ? static_cast<std::size_t>(count.integer(0)) : 0;
  count.reset();
  return rows;
}

std::vector<std::string> SearchIndex::words_of(std::string_view typed) const {
  std::vector<std::string> words;
  const auto take = [](void* sink, int, const char* token, int bytes, int, int) {
    auto& taken = *static_cast<std::vector<std::string>*>(sink);
    if (taken.size() == kMaxTerms) return SQLITE_DONE;  // stops the tokenizer
    taken.emplace_back(token, static_cast<std::size_t>(bytes));
    return SQLITE_OK;
  };
  impl_->methods.xTokenize(impl_->tokenizer, &words, FTS5_TOKENIZE_QUERY, typed.data(),
                           static_cast<int>(typed.size()), take);
  return words;
}

Page SearchIndex::search(const Query& query) const {
  Page page;
  const auto words = to_match_expression(words_of(query.text));
  if (!words || query.windows.empty() || query.limit == 0) return page;
  const std::string expression =
      "text : (" + *words + ") AND chan : (" + channel_terms(query.windows) + ")";
  impl_->exec("SAVEPOINT search");
  impl_->clear_windows->run();
  for (const Window& window : query.windows) {
    impl_->add_window->bind(1, as_int(window.channel))
        .bind(2, as_int(window.from))
        .bind(3, as_int(window.to))
        .run();
  }
  Statement& search = *impl_->search;
  // One more than the page: whether more follow.
  search.bind(1, expression)
      .bind(2, static_cast<std::int64_t>(query.limit + 1))
      .bind(3, static_cast<std::int64_t>(query.offset));
  while (search.step()) {
    if (page.hits.size() == query.limit) {
      page.more = true;
      break;
    }
    page.hits.push_back(
        Hit{static_cast<ChannelId>(search.integer(0)), static_cast<Seq>(search.integer(1)),
            static_cast<UserId>(search.integer(2)), search.integer(3), parts_of(search.text(4))});
  }
  search.reset();
  impl_->exec("RELEASE search");
  return page;
}

}  // namespace parley::search
