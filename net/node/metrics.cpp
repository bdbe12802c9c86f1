#include "net/node/metrics.hpp"

#include <array>

namespace parley::net {
namespace {

constexpr std::array<std::uint64_t, 8> kBatchBounds{1, 2, 4, 16, 64, 256, 1024, 4096};
constexpr std::array<std::uint64_t, 8> kLatencyBoundsMicros{100,  250,  500,   1000,
                                                            2500, 5000, 10000, 100000};

void counter(std::string& out, const char* name, const char* help, std::uint64_t value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         " " + std::to_string(value) + "\n";
}

void histogram(std::string& out, const char* name, const char* help,
               const std::map<std::uint64_t, std::uint64_t>& buckets, std::uint64_t count,
               std::uint64_t sum, double scale) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " histogram\n";
  for (const auto& [bound, value] : buckets) {
    out += std::string(name) + "_bucket{le=\"" +
           std::to_string(static_cast<double>(bound) * scale) + "\"} " + std::to_string(value) +
           "\n";
  }
  out += std::string(name) + "_bucket{le=\"+Inf\"} " + std::to_string(count) + "\n";
  out += std::string(name) + "_sum " + std::to_string(static_cast<double>(sum) * scale) + "\n";
  out += std::string(name) + "_count " + std::to_string(count) + "\n";
}

}  // namespace

void Metrics::count_error(const std::string& code) {
  std::lock_guard lock(mutex_);
  ++errors_[code];
}

void Metrics::count_commit(std::uint64_t inputs, std::uint64_t micros) {
  commits += 1;
  committed_inputs += inputs;
  commit_micros_total += micros;
  std::lock_guard lock(mutex_);
  for (std::uint64_t bound : kBatchBounds) {
    if (inputs <= bound) ++batch_buckets_[bound];
  }
  for (std::uint64_t bound : kLatencyBoundsMicros) {
    if (micros <= bound) ++latency_buckets_[bound];
  }
}

std::string Metrics::render() const {
  std::string out;
  out += "# HELP parley_connections Open WebSocket connections\n# TYPE parley_connections gauge\n";
  out += "parley_connections " + std::to_string(connections.load()) + "\n";
  counter(out, "parley_connections_total", "WebSocket connections accepted",
          connections_total.load());
  counter(out, "parley_frames_in_total", "WebSocket frames received", frames_in.load());
  counter(out, "parley_frames_out_total", "WebSocket frames sent", frames_out.load());
  counter(out, "parley_messages_sent_total", "New messages stored and acked", messages_sent.load());
  counter(out, "parley_messages_delivered_total", "Inbox entries sent to devices",
          messages_delivered.load());
  counter(out, "parley_presence_changes_total", "Users going online or offline",
          presence_changes.load());
  counter(out, "parley_presence_events_total", "Presence frames sent to devices",
          presence_events.load());
  counter(out, "parley_typing_events_total", "Typing frames sent to devices", typing_events.load());
  counter(out, "parley_receipt_events_total", "Receipts told to devices, one per member entry",
          receipt_events.load());
  counter(out, "parley_push_intents_total", "Push intents written to the outbox",
          push_intents.load());
  counter(out, "parley_searches_total", "Searches answered from the search index", searches.load());
  counter(out, "parley_search_index_changes_total",
          "Texts put into or taken out of the search index", search_index_changes.load());
  counter(out, "parley_http_requests_total", "HTTP requests served", http_requests.load());
  counter(out, "parley_lmdb_commits_total",
          "LMDB write transactions (one fsync each); sealed batches share them",
          lmdb_commits.load());
  counter(out, "parley_lmdb_writes_total", "Puts and erases written by those transactions",
          lmdb_writes.load());
  counter(out, "parley_lmdb_commit_micros_total",
          "Time in the LMDB write transactions, writes and commit", lmdb_commit_micros.load());
  counter(out, "parley_lmdb_sync_micros_total",
          "Time in mdb_txn_commit alone: page writes and fdatasync", lmdb_sync_micros.load());
  counter(out, "parley_connections_refused_total",
          "TCP connections closed at once: their address, or the node, had too many open",
          connections_refused.load());
  counter(out, "parley_logins_throttled_total",
          "Sign-ups, logins and password changes refused with 429 (address or account throttle)",
          logins_throttled.load());
  counter(out, "parley_hash_queue_rejections_total",
          "Sign-ups, logins and password changes refused with 503: the hashing queue was full",
          hash_queue_rejections.load());
  counter(out, "parley_hash_jobs_skipped_total",
          "Password hashes not computed because the caller had hung up while it waited",
          hash_jobs_skipped.load());
  counter(out, "parley_forced_closes_total",
          "WebSockets torn down at once: replaced, revoked, or no close handshake in time",
          forced_closes.load());
  counter(out, "parley_slow_consumer_closes_total",
          "Connections closed because their outbound queue was full", slow_consumer_closes.load());
  counter(out, "parley_ping_timeouts_total",
          "WebSockets dropped: silent for ping_after_ms, then as long again after a ping",
          ping_timeouts.load());
  counter(out, "parley_rate_limited_total", "Frames refused by the per-connection rate limit",
          rate_limited.load());
  counter(out, "parley_queue_rejections_total",
          "Requests refused because the engine queue was full or too slow",
          queue_rejections.load());
  counter(out, "parley_reads_paused_total",
          "Times a WebSocket stopped reading because the engine queue was long",
          reads_paused.load());
  counter(out, "parley_push_delivered_total", "Push intents the gateway accepted (2xx)",
          push_delivered.load());
  counter(out, "parley_push_retries_total", "Push attempts to retry (5xx, timeout, refused)",
          push_retries.load());
  counter(out, "parley_push_dead_tokens_total", "Push tokens the gateway reported dead",
          push_dead_tokens.load());
  counter(out, "parley_push_rejected_total", "Push intents the gateway refused for good",
          push_rejected.load());
  counter(out, "parley_push_dropped_total", "Push intents not written: the outbox was full",
          push_dropped.load());
  out +=
      "# HELP parley_push_pending Push intents the delivery worker is holding\n"
      "# TYPE parley_push_pending gauge\nparley_push_pending " +
      std::to_string(push_pending.load()) + "\n";
  std::lock_guard lock(mutex_);
  histogram(out, "parley_commit_batch_inputs", "Inputs per group commit", batch_buckets_,
            commits.load(), committed_inputs.load(), 1.0);
  histogram(out, "parley_commit_seconds", "Group commit latency (fsync included)", latency_buckets_,
            commits.load(), commit_micros_total.load(), 1e-6);
  out +=
      "# HELP parley_errors_total Error frames and HTTP errors sent, by code\n"
      "# TYPE parley_errors_total counter\n";
  for (const auto& [code, count] : errors_) {
    out += "parley_errors_total{code=\"" + code + "\"} " + std::to_string(count) + "\n";
  }
  out +=
      "# HELP parley_cluster_leader 1 while this node leads its cluster\n"
      "# TYPE parley_cluster_leader gauge\n";
  out += "parley_cluster_leader " + std::to_string(cluster_leader.load()) + "\n";
  out +=
      "# HELP parley_cluster_applied_index The last log index this node applied\n"
      "# TYPE parley_cluster_applied_index gauge\n";
  out += "parley_cluster_applied_index " + std::to_string(cluster_applied_index.load()) + "\n";
  counter(out, "parley_cluster_leaderships_total", "Times this node won leadership",
          cluster_leaderships.load());
  counter(out, "parley_cluster_step_downs_total",
          "Times this node stopped serving as leader (a batch the log refused, or the lease lost)",
          cluster_step_downs.load());
  counter(out, "parley_cluster_appends_total", "Batches appended to the log as leader",
          cluster_appends.load());
  counter(out, "parley_cluster_append_micros_total", "Time in those appends",
          cluster_append_micros.load());
  counter(out, "parley_cluster_append_bytes_total", "Bytes of the log entries appended",
          cluster_append_bytes.load());
  counter(out, "parley_cluster_entries_applied_total", "Log entries applied as a follower",
          cluster_entries_applied.load());
  return out;
}

}  // namespace parley::net
