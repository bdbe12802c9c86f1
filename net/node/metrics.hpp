// The node's counters, rendered in the Prometheus text format at GET /metrics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace parley::net {

class Metrics {
 public:
  std::atomic<std::int64_t> connections{0};  // open WebSockets
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> messages_sent{0};       // new messages acked (not resends)
  std::atomic<std::uint64_t> messages_delivered{0};  // inbox entries sent to devices
  std::atomic<std::uint64_t> presence_changes{0};
  std::atomic<std::uint64_t> presence_events{0};  // Presence frames to devices
  std::atomic<std::uint64_t> typing_events{0};    // Typing frames to devices
  std::atomic<std::uint64_t> receipt_events{0};   // receipts told to devices, per member entry
  std::atomic<std::uint64_t> push_intents{0};
  std::atomic<std::uint64_t> searches{0};              // searches answered from the index
  std::atomic<std::uint64_t> search_index_changes{0};  // texts put in or taken out of it
  std::atomic<std::uint64_t> commits{0};
  std::atomic<std::uint64_t> committed_inputs{0};
  std::atomic<std::uint64_t> commit_micros_total{0};
  // The committer thread's LMDB transactions (storage::PipelinedStore::Stats): several
  // sealed batches share one; the sync time is mdb_txn_commit's (page writes and fsync).
  std::atomic<std::uint64_t> lmdb_commits{0};
  std::atomic<std::uint64_t> lmdb_writes{0};
  std::atomic<std::uint64_t> lmdb_commit_micros{0};
  std::atomic<std::uint64_t> lmdb_sync_micros{0};
  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> slow_consumer_closes{0};
  std::atomic<std::uint64_t> ping_timeouts{0};  // closed: silent, and a ping went unanswered
  std::atomic<std::uint64_t> rate_limited{0};
  std::atomic<std::uint64_t> queue_rejections{0};
  std::atomic<std::uint64_t> reads_paused{0};  // a WebSocket stopped reading: the queue was long
  std::atomic<std::uint64_t> connections_refused{0};    // over the per-address or node limit
  std::atomic<std::uint64_t> logins_throttled{0};       // 429: per-address or per-account
  std::atomic<std::uint64_t> hash_queue_rejections{0};  // 503: the hashing queue was full
  std::atomic<std::uint64_t> hash_jobs_skipped{0};      // the caller hung up before its hash
  std::atomic<std::uint64_t> forced_closes{0};  // sockets torn down without a close handshake
  std::atomic<std::uint64_t> push_delivered{0};
  std::atomic<std::uint64_t> push_retries{0};
  std::atomic<std::uint64_t> push_dead_tokens{0};
  std::atomic<std::uint64_t> push_rejected{0};
  std::atomic<std::uint64_t> push_dropped{0};  // outbox full: intent not written
  std::atomic<std::int64_t> push_pending{0};   // intents the delivery worker holds
  // The cluster (docs/cluster.md); all zero on a single node.
  std::atomic<std::int64_t> cluster_leader{0};            // 1 while this node leads
  std::atomic<std::uint64_t> cluster_applied_index{0};    // the last log index applied
  std::atomic<std::uint64_t> cluster_leaderships{0};      // times this node won leadership
  std::atomic<std::uint64_t> cluster_step_downs{0};       // batches refused: fenced, behind, lost
  std::atomic<std::uint64_t> cluster_appends{0};          // batches appended to the log
  std::atomic<std::uint64_t> cluster_append_micros{0};    // time in those appends
  std::atomic<std::uint64_t> cluster_append_bytes{0};     // their log entries' bytes
  std::atomic<std::uint64_t> cluster_entries_applied{0};  // log entries applied as follower

  void count_error(const std::string& code);
  // Records one commit of `inputs` inputs that took `micros`.
  void count_commit(std::uint64_t inputs, std::uint64_t micros);
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> errors_;
  // Batch sizes and commit latency as Prometheus histograms (upper bounds, cumulative).
  std::map<std::uint64_t, std::uint64_t> batch_buckets_;
  std::map<std::uint64_t, std::uint64_t> latency_buckets_;
};

}  // namespace parley::net
