// The engine thread: one thread runs the engine over the store in group-commit batches, on
// host::Core (host/core.hpp), which owns the durability rule. The node's I/O threads and
// the engine thread meet in two places only: the loop's bounded task queue (I/O -> engine),
// and asio::post onto a session's executor (engine -> I/O), after the batch has committed.
//
// The commit is pipelined (storage/pipelined_store.hpp): the loop seals a batch and goes on
// to the next while the store's committer thread syncs it; when the committer reports a
// durable commit, the loop releases the effects and HTTP answers of every batch it covers,
// in batch order. At most kMaxSealedBatches wait for their commit: past that the loop stops
// taking tasks, the queue fills, and new requests are refused as `overloaded`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/clock.hpp"
#include "engine/engine.hpp"
#include "host/core.hpp"
#include "net/node/shared.hpp"

namespace parley::net {

class ClusterMember;
class WsSession;

// What a task sees: the batch open on the core, and where to put what must wait for the
// commit. A task reads the engine (const) and writes only by running inputs, so that every
// durable change the node makes is an engine::Input a log could carry (host/core.hpp);
// the effects of those inputs join the batch and leave the node only after the commit.
class Txn {
 public:
  Txn(host::Core& core, engine::TimeUs batch_now, std::vector<std::function<void()>>& replies)
      : now(batch_now), after_commit(replies), core_(core) {}

  const engine::TimeUs now;
  // Run on the engine thread once the batch has committed and its effects are released:
  // the HTTP answers.
  std::vector<std::function<void()>>& after_commit;

  // The engine's reads (users, devices, credentials, tokens, the push outbox) inside the
  // batch: what the batch's inputs so far have written.
  const engine::Engine& engine() const { return std::as_const(core_).engine(); }
  // An engine input at the batch's time. Its effects join the batch and are returned too
  // (valid until the next run): an account input's submitter reads its AccountResult
  // there, a Stateless one its answer (the SendEvent to connection 0).
  std::span<engine::Effect> run(const engine::Input& input) { return core_.run(input); }
  // Effects the node decides itself (a refusal at hello): not logged (host::Core::add_local).
  void add_local(engine::Effects effects) { core_.add_local(std::move(effects)); }

 private:
  host::Core& core_;  // inside its batch: tasks never begin or commit
};
using Task = std::function<void(Txn&)>;

class EngineLoop {
 public:
  // Opens the engine on `store` (presence restored from it counts from now, before any
  // input: an HTTP call in the first batch, a logout say, must see it). Throws what the
  // open throws: the node then cannot start.
  EngineLoop(Shared& shared, engine::Store& store);
  // A cluster node's loop: the engine is `cluster`'s replica over `store` (a store without
  // a pipeline). It leads while the elector holds leadership and follows the log otherwise
  // (docs/cluster.md, "Running a cluster").
  EngineLoop(Shared& shared, engine::Store& store, ClusterMember& cluster);

  // From any thread. False when the queue is full or too slow (its oldest task waited
  // longer than queue_delay_max_ms): the caller answers `overloaded`.
  bool post(Task task);

  // From an I/O thread, after a WebSocket frame was posted: true when the queue is so long
  // that the session should stop reading; the loop then calls `resume` (from the engine
  // thread) once the queue drained to half the threshold.
  bool pause_reading(std::function<void()> resume);

  // Commits what is queued, runs `last` on the engine thread, then the thread ends.
  void stop(std::function<void(EngineLoop&)> last);

  // From any thread (the store's committer): a commit became durable, or failed.
  void wake_for_durable();

  // The engine thread's body: batches until stop().
  void run();

  // From any thread: `read` runs on the engine thread between batches, in a read-only
  // store transaction, leader or follower (GET /v1/cluster's digest).
  void post_read(std::function<void(const engine::Engine&, engine::Store&)> read);

  // Before run() starts or after it returned, never while it runs: `read(const Engine&,
  // Store&)` in a read-only store transaction on the calling thread (the search index's
  // fill at start, its applied index at stop).
  template <typename F>
  decltype(auto) read_idle(F&& read) {
    return core_.read(
        [&](const engine::Engine& engine) -> decltype(auto) { return read(engine, store_); });
  }

  // Engine thread only.
  std::unordered_map<engine::ConnectionId, std::shared_ptr<WsSession>> sessions;

 private:
  // The engine's clock: anchored on the wall clock at start, then advanced by the monotonic
  // clock only (engine/clock.hpp), so a wall-clock step never expires presence.
  engine::TimeUs clock();
  // Up to policy_.max_inputs queued tasks, after waiting for the queue to fill as the policy
  // allows. `stop_now`: the loop was stopped and nothing is left after these.
  std::vector<Task> next_batch(bool& stop_now);
  // Runs tasks (and a tick) in the open batch, opening one at `now` if none is.
  void run_tasks(std::vector<Task>& tasks, bool tick, engine::TimeUs now);
  // Seals the open batch: its commit starts while the next batch forms.
  void seal_batch();
  // How long until the open batch may seal with no commit in flight (<= 0: now):
  // policy_.commit_interval_us after the last seal of a batch with inputs.
  std::chrono::microseconds commit_interval_left() const;
  std::size_t pause_threshold() const;
  // Releases every sealed batch whose commit is durable: effects, then HTTP answers.
  void release_durable();
  void release(engine::Effects effects);
  // The search worker's share of released effects: index changes, then searches.
  void to_index(engine::Effect&& change);
  void ask_index(engine::SearchRequested&& search);
  // Blocks until the committer reports (or 200 ms pass).
  void wait_for_durable();
  void run_reads();
  // Nothing of the failed batch was released, and the engine's memory may now disagree
  // with the disk: the node stops (exit 70), and a restart rebuilds from the store.
  [[noreturn]] static void stop_on(const std::exception& error);

  // ---- a cluster node (engine_loop_cluster.cpp) ----
  void run_cluster(std::vector<Task>& tasks);
  // Runs `tasks` in as many batches as the log entry's size allows; stops at a refusal.
  void lead_batch(std::vector<Task>& tasks, bool tick, engine::TimeUs now);
  struct Sealed;
  // Appends and commits the open batch, then releases it; false when the log refused it.
  bool finish_batch(Sealed& batch, std::size_t inputs);
  // Leadership changed hands: take over with `token`, or (0) stop serving.
  void change_role(std::uint64_t token);
  void take_over(std::uint64_t token);
  void stop_serving(const std::string& why);
  void follow();

  struct Sealed {
    std::uint64_t ticket = 0;
    std::size_t inputs = 0;
    std::chrono::steady_clock::time_point sealed_at;
    std::vector<std::function<void()>> after_commit;
  };
  static constexpr std::size_t kMaxSealedBatches = 8;

  Shared& shared_;
  engine::Store& store_;
  ClusterMember* cluster_ = nullptr;
  host::BatchPolicy policy_;
  host::TickCadence cadence_;
  engine::TimeUs last_now_ = 0;
  engine::EngineClock engine_clock_;
  std::unique_ptr<host::Core> own_core_;  // a single node's; a cluster node's is its replica's
  host::Core& core_;
  std::uint64_t leading_ = 0;  // a cluster node: the token it serves under (0: following)
  std::chrono::milliseconds idle_wait_{200};
  std::vector<std::function<void(const engine::Engine&, engine::Store&)>> reads_;  // mutex_
  std::mutex mutex_;
  std::condition_variable wake_;
  struct Queued {
    Task task;
    std::chrono::steady_clock::time_point posted_at;
  };
  std::deque<Queued> queue_;
  std::vector<std::function<void()>> paused_;  // sessions waiting to read again
  Sealed forming_;  // engine thread: the open batch, when core_.in_batch()
  std::chrono::steady_clock::time_point last_seal_;  // engine thread
  std::deque<Sealed> sealed_;  // engine thread: sealed, waiting for their commit
  bool durable_signal_ = false;
  bool stopping_ = false;
  std::function<void(EngineLoop&)> last_;
};

}  // namespace parley::net
