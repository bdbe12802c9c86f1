// The production Store: one LMDB environment in a directory, one named sub-database per
// engine table. Keys and values are the engine's bytes (engine/records.cpp), so LMDB's
// byte order is the numeric order the engine scans in.
//
// One write transaction at a time, used from one thread. commit() is durable (fsync) unless
// the store was opened with `sync = false` (the simulator, which models crashes itself).
// Readers (reader()) read committed snapshots from another thread while the writer works:
// storage::PipelinedStore reads through one while its committer thread writes. When the map fills
// up mid-transaction, the store aborts, doubles the map and replays the transaction's writes, so
// the batch is never lost.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "engine/store.hpp"

namespace parley::storage {

struct LmdbOptions {
  std::size_t initial_map_bytes = 64ull << 20;
  // Growth stops here: past it a full map is a StoreError (the node stops cleanly).
  std::size_t max_map_bytes = 1ull << 40;
  bool sync = true;
  // With `sync`: false opens with MDB_NOMETASYNC, one fsync per commit instead of two (the
  // meta page is flushed with the next commit's). LMDB's documentation: "a system crash may
  // undo the last committed transaction. I.e. it preserves the ACI (atomicity, consistency,
  // isolation) but not D (durability)". For a cluster replica, whose D is the log's: the
  // undone batch is applied from the log again.
  bool sync_meta = true;
  // Delete the directory when the store is destroyed (temporary stores of tests and sims).
  bool remove_on_close = false;
};

class LmdbStore final : public engine::Store {
 public:
  // Creates `directory` if missing and opens (or creates) the environment in it. Throws
  // StoreError with the path and LMDB's reason if it cannot (unwritable, not a directory,
  // a lock held elsewhere...).
  LmdbStore(std::string directory, LmdbOptions options = {});
  ~LmdbStore() override;
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  void begin() override;
  void commit() override;
  void abort() override;
  bool in_transaction() const override;

  std::optional<std::string> get(engine::Table table, std::string_view key) const override;
  void put(engine::Table table, std::string_view key, std::string_view value) override;
  void erase(engine::Table table, std::string_view key) override;
  void scan(engine::Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& visit) const override;

  // A read-only view of the newest committed snapshot, for one thread other than the
  // writer's (LMDB's MDB_NOTLS read transactions). refresh() moves it to the newest commit;
  // a map growth (which must close every transaction of the process) parks it, and the next
  // read reopens it. REQUIRES: the store outlives the reader.
  class Reader {
   public:
    explicit Reader(LmdbStore& store);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;
    std::optional<std::string> get(engine::Table table, std::string_view key) const;
    void scan(engine::Table table, std::string_view from, std::string_view to, bool reverse,
              const Visitor& visit) const;
    void refresh();

   private:
    friend class LmdbStore;
    void* ensure_open() const;  // the MDB_txn*, renewed if parked
    void park();                // under the store's exclusive map lock

    LmdbStore& store_;
    mutable void* txn_ = nullptr;  // MDB_txn*
    mutable bool open_ = false;
  };

  // Writes a consistent copy of the last committed state into `directory` (which must exist
  // and be empty), compacted (mdb_env_copy2 with MDB_CP_COMPACT): a replica's snapshot for a
  // peer that cannot replay the log any more (docs/cluster.md, "Snapshots"). Runs in its own
  // read transaction: writers go on meanwhile. Throws StoreError.
  void copy_to(const std::string& directory) const;

  const std::string& directory() const { return directory_; }
  std::size_t map_bytes() const { return map_bytes_; }
  std::uint64_t map_growths() const { return map_growths_; }

 private:
  struct Impl;
  struct Write {
    engine::Table table;
    std::string key;
    std::optional<std::string> value;  // nothing: erase
  };
  void apply(const Write& write);
  void grow_and_replay();

  std::string directory_;
  LmdbOptions options_;
  std::unique_ptr<Impl> impl_;
  std::size_t map_bytes_ = 0;
  std::uint64_t map_growths_ = 0;
  // This transaction's writes, replayed into a fresh one after the map grows.
  std::vector<Write> redo_;
  // Readers hold it shared while they read; a map growth holds it exclusively, with every
  // reader parked, because LMDB remaps the file and no transaction may be open meanwhile.
  mutable std::shared_mutex map_mutex_;
  std::set<Reader*> readers_;
};

// A fresh, empty directory under the system's temporary directory.
std::string make_temp_directory(const std::string& prefix);

}  // namespace parley::storage
