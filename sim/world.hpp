// The deterministic simulator: nodes running the real engine over a Store, simulated users'
// devices, a simulated network, and faults, all in one thread on a virtual clock.
//
// Same scenario + same seed => same history => same trace hash, on every run and machine:
// one seeded PRNG per world, an event queue ordered by (time, insertion order), ordered
// containers wherever iteration reaches the history, and no wall clock, thread or
// platform-dependent distribution.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sim/checker.hpp"
#include "sim/history.hpp"
#include "sim/scenario.hpp"

namespace parley::sim {

// A defect planted in a clustered world, for the tests that prove the checker catches it
// (tests/sim_cluster_test.cpp). Never set by `parley sim`.
enum class PlantedBug {
  none,
  release_before_append,  // the leader sends its batch's events before the log append
  unfenced_append,        // the simulated etcd checks an append's index but not its token
  follower_skips_index,   // replica 1 applies entry i + 1 as entry i, once
  relay_skips_replay,     // a gateway re-attaches without resending the unacked sends
  presence_sent_twice,    // a node sends each presence event twice (a re-announcement)
  typing_sent_twice,      // a node fans each typing event out twice (a repeat inside 3 s)
  read_receipt_early,     // a node sends each receipt (a Receipt, or an entry of a coalesced
                          // Receipts) with read_seq = delivered_seq (a read claimed at delivery)
  revision_sent_twice,    // a node sends each Deliver holding an edited or deleted entry twice
  deleted_text_served,    // a node gives deleted messages their text back in what it sends,
                          // quotes of them included
  mention_unpushed,       // a node drops the pushes of mentions to users who muted the chat
  outside_text_served,    // a node gives quotes and edits of messages outside the reader's
                          // membership windows a text
  request_pushed,         // a node pushes each message of a stranger's 1:1 chat to its
                          // recipient's devices as well (a message request that pushes)
  request_counted,        // a node counts a stranger's 1:1 chat unread in queryUnread
  search_unscoped,        // a node searches the whole of each channel the asker is or was
                          // in, not only their membership windows
  search_keeps_deleted,   // a node never takes a text deleted for everyone out of its index
  follower_index_unfed,   // a cluster follower's index learns nothing from the entries it
                          // applies (only a leader's releases and a restart's fill feed it)
};

struct SimOptions {
  // Where the nodes keep their stores: "memory", or "lmdb" in `lmdb_dir` (one environment per
  // node, created fresh).
  std::string store = "memory";
  std::string lmdb_dir;
  // With "lmdb": the most bytes each node's map may grow to (0: no limit below LMDB's own). A
  // store that fills up throws StoreError out of run_simulation, as a full disk stops a node.
  std::size_t lmdb_max_map_bytes = 0;
  // Called now and then with (simulated time, simulated end, engine inputs so far).
  std::function<void(TimeUs, TimeUs, std::uint64_t)> progress;
  PlantedBug planted_bug = PlantedBug::none;
};

struct Metrics {
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t duplicate_acks = 0;  // resends answered with the original
  std::uint64_t refused = 0;
  std::uint64_t delivered = 0;        // inbox entries received by devices
  std::uint64_t devices = 0;          // in the world ([[user]] may vary them per user)
  std::uint64_t largest_deliver = 0;  // most entries in one Deliver frame
  std::uint64_t history_pages = 0;    // history pages received by devices
  std::uint64_t history_reads = 0;    // messages in them
  std::uint64_t searches = 0;         // search results received by devices
  std::uint64_t search_hits = 0;      // hits in them
  std::uint64_t presence_events = 0;  // Presence events received by devices
  std::uint64_t typing_sent = 0;      // typing starts and stops the apps sent
  std::uint64_t typing_events = 0;    // Typing events received by devices
  std::uint64_t marks_sent = 0;       // MarkRead requests the apps sent (read_percent)
  std::uint64_t receipt_events = 0;   // receipts received by devices, one per member entry
  std::uint64_t edits_sent = 0;       // EditMessage requests the apps sent (edit_percent)
  std::uint64_t deletes_sent = 0;     // DeleteMessage requests the apps sent (delete_percent)
  std::uint64_t revisions = 0;        // `edited` and `deleted` entries received by devices
  std::uint64_t replies_sent = 0;     // sends with a reply_to (reply_percent)
  std::uint64_t mentions_sent = 0;    // group sends naming a friend (mention_percent)
  std::uint64_t mutes_sent = 0;       // MuteChannel requests, unmutes included (mute_percent)
  std::uint64_t stranger_sent = 0;    // 1:1 sends to a non-contact (stranger_percent)
  std::uint64_t accepts_sent = 0;     // AnswerRequest accepts the apps sent (accept_percent)
  // ... that told a connection what it had last been told already (a re-announcement)
  std::uint64_t presence_repeats = 0;
  std::uint64_t presence_changes = 0;
  std::uint64_t pushes = 0;            // intents written
  std::uint64_t pushes_delivered = 0;  // accepted by the simulated gateway (first time per id)
  std::uint64_t push_attempts = 0;
  std::uint64_t faults = 0;
  std::uint64_t crashes = 0;
  std::uint64_t commit_failures = 0;  // commits a fault failed (each stopped its node)
  std::uint64_t connects = 0;
  std::uint64_t engine_inputs = 0;
  std::uint64_t commits = 0;
  // [cluster] only:
  std::uint64_t log_appends = 0;                // entries appended to the log
  std::uint64_t log_bytes = 0;                  // their bytes
  std::uint64_t leader_changes = 0;             // leaderships won
  std::uint64_t step_downs = 0;                 // leaders that stopped serving (refused or lost)
  TimeUs longest_leaderless = 0;                // the longest stretch with no replica serving
  std::uint64_t reattaches = 0;                 // gateway upstreams lost and attached again
  std::uint64_t events = 0;                     // simulator events processed
  std::map<std::string, std::uint64_t> errors;  // error frames received, by code
  double p50_delivery_ms = 0;
  double p99_delivery_ms = 0;
  double max_delivery_ms = 0;
  TimeUs simulated = 0;
};

struct RunResult {
  std::uint64_t seed = 0;
  Metrics metrics;
  CheckResult check;
  std::vector<std::string> expectation_failures;
  std::uint64_t trace_hash = 0;
  History history;
};

// Runs `scenario` with `seed` (which replaces the scenario's own). Throws ScenarioError for
// a scenario the simulator cannot run (e.g. a group spanning nodes); an engine assertion
// (engine::InvariantViolation) or a store failure (engine::StoreError) during the run
// propagates too, and the caller reports the seed (`parley sim` exits 5).
RunResult run_simulation(const Scenario& scenario, std::uint64_t seed, const SimOptions& options);

}  // namespace parley::sim
