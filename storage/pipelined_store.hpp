// Pipelined group commit over LMDB: batch n+1 runs on the engine thread while batch n's
// transaction syncs on a committer thread, so a slow fsync no longer stops the node from
// reading, decoding and running what arrives meanwhile (issue 16: the engine thread used to
// sit in mdb_txn_commit while work queued up behind it).
//
// How: a transaction's writes go to an in-memory layer, not to LMDB. seal() hands the layer
// to the committer thread, which writes every layer sealed since its last commit in ONE
// LMDB write transaction and commits it with one fsync (the batches that arrive during a
// sync share the next one: the batch size follows the disk). Reads see the open layer, then
// the sealed layers not yet retired (newest first), then a committed LMDB snapshot
// (LmdbStore::Reader). Once a commit is durable, the engine thread retires its layers and
// moves the snapshot forward in one step, so no write is ever invisible.
//
// Durability is LMDB's own, unchanged: every LMDB commit is a normal synchronous one. What
// the pipeline changes is when the host may release effects: only once durable_ticket()
// covers the batch's ticket (host::Core::take_durable). A failed commit is sticky: it and
// every later ticket never become durable, and durable_ticket() throws its StoreError.
//
// Threads: begin/get/put/erase/scan/seal/commit/abort/durable_ticket on one thread (the
// engine's); the committer thread is the store's own. set_on_durable's callback runs on the
// committer thread.
#pragma once

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "engine/store.hpp"
#include "storage/lmdb_store.hpp"

namespace parley::storage {

class PipelinedStore final : public engine::Store {
 public:
  // The committer's work so far (read from any thread: a snapshot under the lock).
  struct Stats {
    std::uint64_t commits = 0;        // LMDB transactions (fsyncs)
    std::uint64_t layers = 0;         // sealed transactions written by them
    std::uint64_t writes = 0;         // puts and erases
    std::uint64_t commit_micros = 0;  // time inside the LMDB write transaction and commit
    std::uint64_t sync_micros = 0;    // of which mdb_txn_commit: page writes and fsync
    std::uint64_t max_commit_micros = 0;
  };

  // REQUIRES: `durable` outlives this store and is used through it only from now on.
  explicit PipelinedStore(LmdbStore& durable);
  // The same, owning the LMDB store (tests, the simulator's store kinds).
  explicit PipelinedStore(std::unique_ptr<LmdbStore> durable);
  // Waits for every sealed layer's commit, then stops the committer thread.
  ~PipelinedStore() override;
  PipelinedStore(const PipelinedStore&) = delete;
  PipelinedStore& operator=(const PipelinedStore&) = delete;

  void begin() override;
  // seal(), then wait until it is durable (throws its StoreError).
  void commit() override;
  void abort() override;
  bool in_transaction() const override { return open_ != nullptr; }
  std::uint64_t seal() override;
  std::uint64_t durable_ticket() override;

  std::optional<std::string> get(engine::Table table, std::string_view key) const override;
  void put(engine::Table table, std::string_view key, std::string_view value) override;
  void erase(engine::Table table, std::string_view key) override;
  void scan(engine::Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& visit) const override;

  // Called on the committer thread after each durable commit (or a failure): the host
  // wakes its engine thread to release what became durable.
  void set_on_durable(std::function<void()> callback);
  // Sealed transactions not yet retired (committing or waiting to).
  std::size_t in_flight() const { return sealed_.size(); }
  Stats stats() const;

 private:
  // One transaction's writes per table; an empty optional is an erase.
  struct Layer {
    std::uint64_t ticket = 0;
    std::array<std::map<std::string, std::optional<std::string>, std::less<>>, engine::kTableCount>
        tables;
    std::uint64_t writes = 0;
  };
  using LayerPtr = std::shared_ptr<const Layer>;

  void committer();
  // Returns the microseconds spent in the final commit (page writes and fsync).
  std::uint64_t commit_layers(const std::deque<LayerPtr>& layers);
  void retire_durable();
  std::uint64_t wait_durable(std::uint64_t ticket);
  // The newest value of `key` in the layers (open first), or nullptr when none touched it.
  const std::optional<std::string>* find_in_layers(engine::Table table, std::string_view key) const;

  std::unique_ptr<LmdbStore> owned_;
  LmdbStore& durable_;
  LmdbStore::Reader reader_;
  std::unique_ptr<Layer> open_;
  std::deque<LayerPtr> sealed_;  // engine thread: sealed and not yet retired, oldest first
  std::uint64_t next_ticket_ = 1;
  std::uint64_t retired_through_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable done_;
  std::deque<LayerPtr> to_commit_;  // handed to the committer
  std::uint64_t durable_through_ = 0;
  std::exception_ptr failure_;
  bool stopping_ = false;
  std::function<void()> on_durable_;
  Stats stats_;
  std::thread thread_;
};

}  // namespace parley::storage
