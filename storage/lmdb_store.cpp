#include "storage/lmdb_store.hpp"

#include <lmdb.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

namespace parley::storage {

using engine::StoreError;
using engine::Table;

namespace {

MDB_val as_val(std::string_view bytes) {
  return MDB_val{bytes.size(), const_cast<char*>(bytes.data())};
}

std::string_view as_view(const MDB_val& val) {
  return {static_cast<const char*>(val.mv_data), val.mv_size};
}

[[noreturn]] void fail(const std::string& directory, const std::string& what, int code) {
  std::string reason = mdb_strerror(code);
  if (code == ENOSPC) reason = "the disk is full (" + reason + ")";
  throw StoreError("LMDB store " + directory + ": " + what + ": " + reason);
}

}  // namespace

struct LmdbStore::Impl {
  MDB_env* env = nullptr;
  MDB_txn* txn = nullptr;
  std::array<MDB_dbi, engine::kTableCount> dbis{};
};

std::string make_temp_directory(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw StoreError("cannot create a temporary directory " + pattern + ": " +
                     std::strerror(errno));
  }
  return pattern;
}

LmdbStore::LmdbStore(std::string directory, LmdbOptions options)
    : directory_(std::move(directory)), options_(options), impl_(std::make_unique<Impl>()) {
  std::error_code error;
  std::filesystem::create_directories(directory_, error);
  if (error) {
    throw StoreError("LMDB store " + directory_ +
                     ": cannot create the directory: " + error.message());
  }
  if (int rc = mdb_env_create(&impl_->env); rc != 0) fail(directory_, "mdb_env_create", rc);
  map_bytes_ = options_.initial_map_bytes;
  mdb_env_set_maxdbs(impl_->env, engine::kTableCount + 4);
  mdb_env_set_mapsize(impl_->env, map_bytes_);
  const unsigned durability = !options_.sync        ? MDB_NOSYNC | MDB_NOMETASYNC
                              : !options_.sync_meta ? MDB_NOMETASYNC
                                                    : 0u;
  const unsigned flags = MDB_NOTLS | durability;
  if (int rc = mdb_env_open(impl_->env, directory_.c_str(), flags, 0640); rc != 0) {
    mdb_env_close(impl_->env);
    impl_->env = nullptr;
    fail(directory_, "cannot open the environment", rc);
  }
  // A reopened environment may have grown beyond the initial size: adopt its size.
  MDB_envinfo info;
  mdb_env_info(impl_->env, &info);
  map_bytes_ = std::max(map_bytes_, info.me_mapsize);
  MDB_txn* txn = nullptr;
  if (int rc = mdb_txn_begin(impl_->env, nullptr, 0, &txn); rc != 0) {
    fail(directory_, "cannot begin the opening transaction", rc);
  }
  for (std::size_t t = 0; t < engine::kTableCount; ++t) {
    const std::string name(engine::table_name(static_cast<Table>(t)));
    if (int rc = mdb_dbi_open(txn, name.c_str(), MDB_CREATE, &impl_->dbis[t]); rc != 0) {
      mdb_txn_abort(txn);
      fail(directory_, "cannot open table " + name, rc);
    }
  }
  if (int rc = mdb_txn_commit(txn); rc != 0) fail(directory_, "cannot create the tables", rc);
}

LmdbStore::~LmdbStore() {
  if (impl_->txn != nullptr) mdb_txn_abort(impl_->txn);
  if (impl_->env != nullptr) mdb_env_close(impl_->env);
  if (options_.remove_on_close) {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }
}

bool LmdbStore::in_transaction() const {
  return impl_->txn != nullptr;
}

void LmdbStore::begin() {
  if (impl_->txn != nullptr) throw StoreError("begin() inside an open transaction");
  if (int rc = mdb_txn_begin(impl_->env, nullptr, 0, &impl_->txn); rc != 0) {
    impl_->txn = nullptr;
    fail(directory_, "cannot begin a transaction", rc);
  }
  redo_.clear();
}

void LmdbStore::commit() {
  if (impl_->txn == nullptr) throw StoreError("commit() without a transaction");
  int rc = mdb_txn_commit(impl_->txn);
  impl_->txn = nullptr;
  if (rc == MDB_MAP_FULL) {
    // Committing needed pages the map lacks: grow, replay, and commit again.
    grow_and_replay();
    rc = mdb_txn_commit(impl_->txn);
    impl_->txn = nullptr;
  }
  redo_.clear();
  if (rc != 0) fail(directory_, "commit failed (nothing of this transaction is durable)", rc);
}

void LmdbStore::abort() {
  if (impl_->txn == nullptr) throw StoreError("abort() without a transaction");
  mdb_txn_abort(impl_->txn);
  impl_->txn = nullptr;
  redo_.clear();
}

namespace {

std::optional<std::string> get_in(MDB_txn* txn, MDB_dbi dbi, std::string_view key,
                                  const std::string& directory) {
  if (!engine::storable_key(key)) return std::nullopt;  // LMDB would refuse it (MDB_BAD_VALSIZE)
  MDB_val k = as_val(key);
  MDB_val v;
  const int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) fail(directory, "read failed", rc);
  return std::string(as_view(v));
}

}  // namespace

std::optional<std::string> LmdbStore::get(Table table, std::string_view key) const {
  if (impl_->txn == nullptr) throw StoreError("read outside a transaction");
  return get_in(impl_->txn, impl_->dbis[static_cast<std::size_t>(table)], key, directory_);
}

void LmdbStore::apply(const Write& write) {
  MDB_val k = as_val(write.key);
  const MDB_dbi dbi = impl_->dbis[static_cast<std::size_t>(write.table)];
  int rc = 0;
  if (write.value) {
    MDB_val v = as_val(*write.value);
    rc = mdb_put(impl_->txn, dbi, &k, &v, 0);
  } else {
    rc = mdb_del(impl_->txn, dbi, &k, nullptr);
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  if (rc == MDB_MAP_FULL) {
    grow_and_replay();  // replays this write too: it is already in the redo log
    return;
  }
  if (rc != 0) fail(directory_, "write failed", rc);
}

void LmdbStore::put(Table table, std::string_view key, std::string_view value) {
  if (impl_->txn == nullptr) throw StoreError("write outside a transaction");
  engine::require_storable(table, key);
  redo_.push_back(Write{table, std::string(key), std::string(value)});
  apply(redo_.back());
}

void LmdbStore::erase(Table table, std::string_view key) {
  if (impl_->txn == nullptr) throw StoreError("write outside a transaction");
  if (!engine::storable_key(key)) return;  // no such key can exist
  redo_.push_back(Write{table, std::string(key), std::nullopt});
  apply(redo_.back());
}

// LMDB can only resize with no transaction open, so the full one is aborted, the map
// doubled, and the transaction's writes replayed in order into a new one. Reads made
// before saw exactly the state the replay rebuilds.
void LmdbStore::grow_and_replay() {
  if (impl_->txn != nullptr) mdb_txn_abort(impl_->txn);
  impl_->txn = nullptr;
  std::unique_lock map_lock(map_mutex_);
  for (Reader* reader : readers_)
    reader->park();
  if (map_bytes_ >= options_.max_map_bytes) {
    fail(directory_,
         "the map reached its limit of " + std::to_string(options_.max_map_bytes) + " bytes",
         MDB_MAP_FULL);
  }
  map_bytes_ = std::min(map_bytes_ * 2, options_.max_map_bytes);
  ++map_growths_;
  if (int rc = mdb_env_set_mapsize(impl_->env, map_bytes_); rc != 0) {
    fail(directory_, "cannot grow the map to " + std::to_string(map_bytes_) + " bytes", rc);
  }
  if (int rc = mdb_txn_begin(impl_->env, nullptr, 0, &impl_->txn); rc != 0) {
    impl_->txn = nullptr;
    fail(directory_, "cannot begin a transaction after growing the map", rc);
  }
  const std::vector<Write> writes = std::move(redo_);
  redo_.clear();
  for (const Write& write : writes) {
    redo_.push_back(write);
    apply(redo_.back());
  }
}

namespace {

void scan_in(MDB_txn* txn, MDB_dbi dbi, std::string_view from, std::string_view to, bool reverse,
             const engine::Store::Visitor& visit, const std::string& directory_) {
  MDB_cursor* cursor = nullptr;
  if (int rc = mdb_cursor_open(txn, dbi, &cursor); rc != 0) {
    fail(directory_, "cannot open a cursor", rc);
  }
  struct Closer {
    MDB_cursor* cursor;
    ~Closer() { mdb_cursor_close(cursor); }
  } closer{cursor};
  MDB_val k;
  MDB_val v;
  const auto below_to = [&](std::string_view key) { return to.empty() || key < to; };
  if (!reverse) {
    k = as_val(from);
    int rc = mdb_cursor_get(cursor, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0 && below_to(as_view(k))) {
      if (!visit(as_view(k), as_view(v))) return;
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) fail(directory_, "scan failed", rc);
    return;
  }
  // Reverse: start at the last key below `to`.
  int rc = 0;
  if (to.empty()) {
    rc = mdb_cursor_get(cursor, &k, &v, MDB_LAST);
  } else {
    k = as_val(to);
    rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cursor, &k, &v, MDB_LAST)
                            : mdb_cursor_get(cursor, &k, &v, MDB_PREV);
  }
  while (rc == 0 && as_view(k) >= from) {
    if (!visit(as_view(k), as_view(v))) return;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_PREV);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) fail(directory_, "scan failed", rc);
}

}  // namespace

void LmdbStore::scan(Table table, std::string_view from, std::string_view to, bool reverse,
                     const Visitor& visit) const {
  if (impl_->txn == nullptr) throw StoreError("read outside a transaction");
  scan_in(impl_->txn, impl_->dbis[static_cast<std::size_t>(table)], from, to, reverse, visit,
          directory_);
}

LmdbStore::Reader::Reader(LmdbStore& store) : store_(store) {
  std::unique_lock map_lock(store_.map_mutex_);
  store_.readers_.insert(this);
}

LmdbStore::Reader::~Reader() {
  std::unique_lock map_lock(store_.map_mutex_);
  store_.readers_.erase(this);
  if (txn_ != nullptr) mdb_txn_abort(static_cast<MDB_txn*>(txn_));
}

void LmdbStore::Reader::park() {
  if (open_) mdb_txn_reset(static_cast<MDB_txn*>(txn_));
  open_ = false;
}

void* LmdbStore::Reader::ensure_open() const {
  if (open_) return txn_;
  if (txn_ == nullptr) {
    MDB_txn* txn = nullptr;
    if (int rc = mdb_txn_begin(store_.impl_->env, nullptr, MDB_RDONLY, &txn); rc != 0) {
      fail(store_.directory_, "cannot begin a read transaction", rc);
    }
    txn_ = txn;
  } else if (int rc = mdb_txn_renew(static_cast<MDB_txn*>(txn_)); rc != 0) {
    fail(store_.directory_, "cannot renew a read transaction", rc);
  }
  open_ = true;
  return txn_;
}

void LmdbStore::Reader::refresh() {
  std::shared_lock map_lock(store_.map_mutex_);
  park();
}

std::optional<std::string> LmdbStore::Reader::get(Table table, std::string_view key) const {
  std::shared_lock map_lock(store_.map_mutex_);
  return get_in(static_cast<MDB_txn*>(ensure_open()),
                store_.impl_->dbis[static_cast<std::size_t>(table)], key, store_.directory_);
}

void LmdbStore::Reader::scan(Table table, std::string_view from, std::string_view to, bool reverse,
                             const Visitor& visit) const {
  std::shared_lock map_lock(store_.map_mutex_);
  scan_in(static_cast<MDB_txn*>(ensure_open()), store_.impl_->dbis[static_cast<std::size_t>(table)],
          from, to, reverse, visit, store_.directory_);
}

void LmdbStore::copy_to(const std::string& directory) const {
  // The map must not be resized under the copy's read transaction.
  std::shared_lock map_lock(map_mutex_);
  if (int rc = mdb_env_copy2(impl_->env, directory.c_str(), MDB_CP_COMPACT); rc != 0) {
    fail(directory_, "cannot copy the environment to " + directory, rc);
  }
}

}  // namespace parley::storage
