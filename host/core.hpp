// host/: the one place that owns the durability rule (engine/engine.hpp, "THE DURABILITY
// RULE"). The production node (net/node/), the simulator (sim/), the test harness and the
// demo all drive the engine through host::Core, so the loop the simulator tests is the loop
// the node runs.
//
// One batch, step by step:
//
//   core.begin(now);                 // open a store transaction; the batch runs at `now`
//   core.run(input) ...              // the engine handles inputs; effects are held back
//   core.call(read)                  // reads in between (const Engine&): never a write
//   Effects out = core.commit();     // the transaction commits (fsync on LMDB) ...
//   host::release(std::move(out), sink);  // ... and only then may effects leave the node
//
// A pipelined host (the node) seals instead of committing, so the next batch runs while this
// one syncs (storage/pipelined_store.hpp):
//
//   core.begin(now); core.run(input) ...; core.seal();   // returns at once
//   for (auto& batch : core.take_durable()) host::release(std::move(batch.effects), sink);
//
// Effects still leave only after their batch is durable, and in batch order.
// Either way a batch's receipts are coalesced first: at most one receipt frame per connection
// and channel (host/coalesce.hpp).
// The commit step is where a replicated host appends the batch to its log before applying
// it (issue 17): the shells call the same begin/run/commit/release and see no difference.
// If anything in a batch throws, the host calls abort() and then restart() (the simulator)
// or stops (the node): the engine's in-memory connection table may now describe state the
// disk does not have, and only a restart from the store is safe.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/engine.hpp"

namespace parley::host {

using engine::Effects;
using engine::TimeUs;

// How a host gathers inputs into batches (the node's --batch-max/--batch-wait-us and the
// simulator's [world] batch_max/batch_wait use it). Larger batches amortise one fsync over
// more inputs; the wait bounds the latency an input pays for that.
struct BatchPolicy {
  std::size_t max_inputs = 256;  // inputs per transaction
  TimeUs max_wait_us = 1'000;    // longest an input waits for its batch to fill
  // Least time between two commits' starts while work keeps arriving: each commit costs
  // the node its fsyncs and page writes, and larger commits share pages (bench/CHANGES.md,
  // "Fewer commits under load"). An input after a quiet spell (the last commit with inputs
  // started longer ago than this) is committed at once: no added latency.
  TimeUs commit_interval_us = 0;
  TimeUs tick_interval_us = 1'000'000;  // the engine needs a Tick at least this often
};

// When the next Tick is due: at most one per interval, whatever the batch cadence.
class TickCadence {
 public:
  explicit TickCadence(TimeUs interval_us) : interval_(interval_us) {}
  // True (and the next tick scheduled) when `now` reached the due time.
  bool due(TimeUs now) {
    if (now < next_) return false;
    next_ = now + interval_;
    return true;
  }

 private:
  TimeUs interval_;
  TimeUs next_ = 0;
};

class Core {
 public:
  // REQUIRES: `store` outlives the core. The engine is not usable before open().
  Core(engine::Store& store, engine::EngineConfig config);
  ~Core();

  // Opens the engine on the store in a transaction of its own (checks the format version,
  // restores presence as of `now`). Throws StoreError for a store this build cannot read.
  void open(TimeUs now);
  void open();  // presence counts from the first input's time (engine/engine.hpp)
  // A new engine from what the store holds: the restart after a crash or a failed batch.
  // Drops any open batch first.
  void restart(TimeUs now);

  // ---- one batch -------------------------------------------------------------------------
  // Opens a store transaction for a batch running at `now`. REQUIRES: no batch is open.
  void begin(TimeUs now);
  bool in_batch() const { return in_batch_; }
  TimeUs batch_time() const { return now_; }
  // Runs one input at the batch's time. Its effects join the batch's (held back until the
  // commit) and are also returned, for hosts that trace them and for the submitter of an
  // account input (its AccountResult), who may move an answer it consumes out of it (the
  // node's HTTP answers, which its release then skips); the view is valid until the next
  // run(), provision() or add_local().
  std::span<engine::Effect> run(const engine::Input& input);
  // With a log set, run() also appends each input to it: what a replicated leader appends
  // to the shard's log (cluster::Replica). nullptr stops it. REQUIRES: `log` outlives its use.
  void record_inputs(std::vector<engine::Input>* log) { input_log_ = log; }
  // A read inside the batch: `fn(const Engine&, TimeUs now)`, returned as is (a token's
  // record, a user's devices). It sees what the batch's inputs wrote so far. Every durable
  // change is an Input (run), so that a log of inputs can carry it: call cannot write.
  template <typename F>
  decltype(auto) call(F&& fn) const {
    require_batch();
    return fn(std::as_const(*engine_), now_);
  }
  // A write outside the input stream, `fn(Engine&, TimeUs now)`: FOR TEST WORLDS ONLY (the
  // simulator's provisioning, tests/harness.hpp user()/device(), cli/demo.cpp). A replicated
  // log carries inputs only, so a host whose batches a log must reproduce (the node) never
  // calls it. If `fn` returns Effects, they join the batch's and are not returned; anything
  // else is returned as is.
  template <typename F>
  decltype(auto) provision(F&& fn) {
    require_batch();
    using Result = std::invoke_result_t<F, engine::Engine&, TimeUs>;
    if constexpr (std::is_same_v<Result, Effects>) {
      hold(fn(*engine_, now_));
    } else {
      return fn(*engine_, now_);
    }
  }
  // Effects the host decides itself, not the engine (the node's refusal of a revoked token
  // at WebSocket hello): they join the batch's and leave with it, after the commit. NOT
  // LOGGED: nothing durable may follow from them (a replica replaying the log never sees
  // them).
  void add_local(Effects effects) {
    require_batch();
    hold(std::move(effects));
  }
  // Commits the batch and returns its effects: only now may they leave the node. If the
  // commit throws (StoreError: disk full, I/O), the transaction is aborted, the effects are
  // dropped and the error rethrown; the host must restart() or stop. REQUIRES: no sealed
  // batch waits for its release (they would leave after this one).
  Effects commit();
  // Drops the open batch, if any: nothing of it was committed or released (a crash).
  // Sealed batches not yet durable are dropped too: their effects are never released.
  void abort();

  // ---- pipelined: seal now, release when durable -------------------------------------------
  // Ends the batch without waiting for its commit; its effects wait in the core. Returns
  // the batch's ticket (engine::Store::seal). On a store without a pipeline it is durable
  // at once. If sealing throws, the batch is aborted and the error rethrown.
  std::uint64_t seal();
  struct DurableBatch {
    std::uint64_t ticket = 0;
    Effects effects;
  };
  // Every sealed batch whose commit is now durable, oldest first, with its effects: only
  // now may they leave the node. Rethrows the StoreError of a failed commit (then no later
  // batch will ever be durable: the host must stop or restart).
  std::vector<DurableBatch> take_durable();
  // Sealed batches whose effects wait for their commit.
  std::size_t sealed_batches() const { return sealed_.size(); }

  // Begin, run every input, commit: one batch, for hosts without a commit in flight.
  Effects run_batch(std::span<const engine::Input> inputs, TimeUs now);

  // A read outside any batch: `fn(const Engine&)` inside a transaction that is then
  // aborted. REQUIRES: no batch is open.
  template <typename F>
  decltype(auto) read(F&& fn) {
    ReadTransaction transaction(*this);
    return fn(std::as_const(*engine_));
  }

  // The engine itself, for test worlds that drive it by hand (tests, benchmarks); hosts
  // write through run() only.
  engine::Engine& engine() { return *engine_; }
  const engine::Engine& engine() const { return *engine_; }
  std::uint64_t batches() const { return batches_; }
  std::uint64_t inputs() const { return inputs_; }

 private:
  struct ReadTransaction {
    explicit ReadTransaction(Core& core);
    ~ReadTransaction();
    engine::Store& store;
  };
  void require_batch() const;
  void hold(Effects effects);

  engine::Store& store_;
  engine::EngineConfig config_;
  std::unique_ptr<engine::Engine> engine_;
  bool in_batch_ = false;
  TimeUs now_ = 0;
  Effects batch_effects_;
  std::vector<engine::Input>* input_log_ = nullptr;
  std::deque<DurableBatch> sealed_;
  std::uint64_t batches_ = 0;
  std::uint64_t inputs_ = 0;
};

}  // namespace parley::host
