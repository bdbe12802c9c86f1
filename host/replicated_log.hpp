// The replicated log a cluster's shard runs on (docs/cluster.md; the design brief is
// CLUSTER.md): an ordered sequence of opaque entries at indexes 1, 2, 3..., appended by one
// leader at a time. Leadership is won by campaigning and carries a fencing token: an append
// names the index it fills and the token it holds, and lands only if that token still leads
// and the index is still free. A deposed leader's append therefore fails, whatever it
// believes; the leader that replaced it cannot be overwritten.
//
// Implementations: cluster/etcd_log.hpp (etcd v3) and host/memory_log.hpp (in memory, for
// tests and the simulator). The single node has no log at all
// (host::Core over its LMDB store).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::host {

// The log's service could not be reached in time. For an append the outcome is unknown:
// the entry may have landed. ReplicatedLog::entry(index) tells.
class LogUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct LogEntry {
  std::uint64_t index = 0;  // from 1
  std::uint64_t token = 0;  // the leadership token of the leader that appended it
  std::string bytes;
  bool operator==(const LogEntry&) const = default;
};

struct Leadership {
  std::uint64_t token = 0;  // the fencing token: greater than every earlier leader's
  std::int64_t lease = 0;   // the lease that keeps it; when it expires, leadership ends
};

enum class AppendResult {
  appended,
  fenced,       // the token no longer leads: this leader was deposed; append nothing more
  index_taken,  // the index is not the next one: it holds an entry already (this leader's,
                // after an unknown outcome, or an earlier leader's), or lies beyond the end
};

class ReplicatedLog {
 public:
  virtual ~ReplicatedLog() = default;

  // Becomes the leader if no one is, with a lease of ttl_seconds that keep_alive renews.
  // Nothing when another candidate leads (leader() names it). Throws LogUnavailable.
  virtual std::optional<Leadership> campaign(std::string_view candidate,
                                             std::int64_t ttl_seconds) = 0;
  // Renews the lease; false when it expired or was revoked (leadership is lost).
  virtual bool keep_alive(const Leadership& leadership) = 0;
  // Gives leadership up at once (its lease is revoked).
  virtual void resign(const Leadership& leadership) = 0;
  // The current leader's name, if any.
  virtual std::optional<std::string> leader() = 0;

  // Appends `bytes` at `index` if `token` still leads and `index` is the last index ever
  // appended + 1 (a trimmed index is not free). index_taken otherwise. Throws
  // LogUnavailable when the outcome is unknown.
  virtual AppendResult append(std::uint64_t token, std::uint64_t index, std::string_view bytes) = 0;
  // Entries from `from` on, in index order, at most `max`.
  virtual std::vector<LogEntry> read(std::uint64_t from, std::size_t max) = 0;
  virtual std::optional<LogEntry> entry(std::uint64_t index) = 0;
  // The highest index ever appended (0: none).
  virtual std::uint64_t last_index() = 0;
  // Removes the entries below `index`, but never the last one (its index is the next
  // append's minus one).
  virtual void trim_below(std::uint64_t index) = 0;

  // ---- trimming by the slowest replica (docs/cluster.md, "Trimming") ----
  // Records that `replica` has applied every entry up to `index`.
  virtual void report_applied(std::string_view replica, std::uint64_t index) = 0;
  // The smallest index any replica reported (nothing: none did). A leader trims below it
  // + 1: entries every replica that reported has applied. A replica that has not reported
  // yet is not counted: a new replica reports 0 before the leader's next trim, or starts
  // from a snapshot.
  virtual std::optional<std::uint64_t> slowest_applied() = 0;
};

}  // namespace parley::host
