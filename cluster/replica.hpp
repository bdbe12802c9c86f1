// One replica of a shard: the engine over its own store, kept equal to every other
// replica's by the log (docs/cluster.md, "Leader and followers"). Replay is the
// replication: each log entry is one batch (cluster/input_codec.hpp), applied through
// host::Core in index order, and the applied index is written in the same store
// transaction as the state it produced, so a restart neither applies an entry twice nor
// skips one.
//
//   leader:    lead_batch(token, inputs, now)  — run, append fenced at applied + 1, then
//              commit locally; only then are the effects returned (to be released)
//   follower:  catch_up(max)                   — apply entries after the applied index;
//              their effects are dropped (the leader's node released them)
//
// Not thread-safe: one thread drives a replica.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>

#include "engine/engine.hpp"
#include "host/core.hpp"
#include "host/replicated_log.hpp"

namespace parley::cluster {

// The entries after this replica's applied index were trimmed from the log: it cannot
// replay them, and must start from a peer's snapshot instead (docs/cluster.md).
class SnapshotNeeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The meta-table key of the applied log index (engine::codec::encode_counter).
inline constexpr std::string_view kAppliedIndexKey = "log_applied_index";
// ... and of the `now` of the batch at that index (engine::codec::encode_time): a new
// leader's clock starts past it, so engine time never runs backwards across leaders.
inline constexpr std::string_view kAppliedNowKey = "log_applied_now";

// The applied index a replica's store holds (0: none). Inside a transaction.
std::uint64_t applied_index_of(const engine::Store& store);

// Every table's every key and value hashed (FNV-1a 64, each field framed): replicas at the
// same applied index have equal digests. Reads the whole store: for checks and tests, not
// for a hot path. Inside a transaction.
std::uint64_t state_digest(const engine::Store& store);

class Replica {
 public:
  // REQUIRES: `store` and `log` outlive the replica. The engine runs with
  // `config.durable_sessions` on, whatever `config` says.
  Replica(engine::Store& store, host::ReplicatedLog& log, engine::EngineConfig config);

  void open(engine::TimeUs now);
  // The last log index this replica's store holds (0: none).
  std::uint64_t applied_index();

  // Follower: applies up to `max` entries after the applied index, each in its own
  // transaction at its own `now`. Returns how many. Throws CorruptEntry for an entry that
  // does not decode, SnapshotNeeded when the next entry was trimmed, and LogUnavailable
  // when the log cannot be read.
  std::size_t catch_up(std::size_t max);
  // Where a follower's effects go once each entry commits: nowhere by default (the leader's
  // node released them to clients), but a node keeps its derived state from them, its
  // search index (docs/search.md), so it holds every entry's texts when it takes over.
  void on_follower_effects(std::function<void(engine::Effects&&)> sink) {
    follower_sink_ = std::move(sink);
  }

  // Leader, holding `token`: what happened to a batch.
  struct Released {
    engine::Effects effects;  // durable on the log's quorum and in this store: release them
    std::uint64_t index = 0;
  };
  struct Deposed {};  // `token` no longer leads: nothing of the batch was stored or released
  struct Behind {};   // the next index was taken by an earlier leader: catch_up, then retry
  using Outcome = std::variant<Released, Deposed, Behind>;
  // Runs `inputs` at `now`, appends them at applied + 1 fenced by `token`, then commits them
  // with the new applied index. Throws LogUnavailable when the append's outcome is unknown:
  // nothing was released, and catch_up() applies the entry if it landed (clients resend
  // under the same client_msg_id and get the duplicate's ack).
  Outcome lead_batch(std::uint64_t token, std::span<const engine::Input> inputs,
                     engine::TimeUs now);

  // The same in steps, for a host whose batch forms input by input (the node's engine
  // loop): begin_batch(now), then inputs through core().run() (each is recorded for the
  // log entry; reads through core().call()), then finish_batch(token), which appends,
  // commits and returns what lead_batch would. Throws as lead_batch does.
  void begin_batch(engine::TimeUs now);
  // A batch that ran no input (only reads and local effects) appends nothing and takes no
  // index: Released{effects, the applied index}.
  Outcome finish_batch(std::uint64_t token);
  // About how many bytes the open batch's log entry will take: a host cuts its batches
  // well below etcd's request limit (1.5 MiB by default).
  std::size_t batch_bytes();
  // The size of the last log entry finish_batch encoded (bytes), for the node's metrics.
  std::size_t last_entry_bytes() const { return last_entry_bytes_; }
  // The `now` of the last batch this store applied (0: none).
  engine::TimeUs applied_now();
  // Drops the batch begun (nothing was appended or stored) and rebuilds the engine.
  void abandon_batch();

  // A new leader's first step, before it serves (docs/cluster.md, "Failover"): applies every
  // entry the log holds, then returns a Disconnected input for each connection its engine
  // still holds, in id order. Those are the previous leader's: their sockets died with it or
  // were closed when it stopped serving. The leader runs them as its first batches, logged
  // like any input, so every replica ends them at the same index. Throws as catch_up.
  std::vector<engine::Input> take_over();

  // Publishes this replica's applied index under `name` (ReplicatedLog::report_applied).
  void report_applied(std::string_view name);
  // Leader: removes the entries every replica reported applied.
  void trim_log();

  const engine::Engine& engine() const { return core_.engine(); }
  host::Core& core() { return core_; }

 private:
  // Inside a transaction.
  std::uint64_t read_applied_index() const;
  void write_applied_index(std::uint64_t index, engine::TimeUs now);
  // Drops the open batch and rebuilds the engine from the store: its memory may hold what
  // the store does not.
  void discard_batch(engine::TimeUs now);

  engine::Store& store_;
  host::ReplicatedLog& log_;
  host::Core core_;
  std::vector<engine::Input> batch_inputs_;  // the open batch's, as core_.run() saw them
  std::size_t batch_bytes_ = 0;              // of batch_inputs_[0, counted_)
  std::size_t counted_ = 0;
  std::size_t last_entry_bytes_ = 0;
  std::function<void(engine::Effects&&)> follower_sink_;
};

}  // namespace parley::cluster
