// host::ReplicatedLog in memory, with the same fencing rules as the etcd log
// (cluster/etcd_log.hpp), for tests and the simulator: deterministic, no clock, no I/O.
// Faults are injected by hand: a lease expires when expire() says so (the simulator decides
// when, from its own clock), and fail_next_append() makes the next append's outcome
// unknown to its caller, whether or not the entry landed.
//
// Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "host/replicated_log.hpp"

namespace parley::host {

class MemoryLog final : public ReplicatedLog {
 public:
  std::optional<Leadership> campaign(std::string_view candidate, std::int64_t ttl_seconds) override;
  bool keep_alive(const Leadership& leadership) override;
  void resign(const Leadership& leadership) override;
  std::optional<std::string> leader() override;

  AppendResult append(std::uint64_t token, std::uint64_t index, std::string_view bytes) override;
  std::vector<LogEntry> read(std::uint64_t from, std::size_t max) override;
  std::optional<LogEntry> entry(std::uint64_t index) override;
  std::uint64_t last_index() override;
  void trim_below(std::uint64_t index) override;
  void report_applied(std::string_view replica, std::uint64_t index) override;
  std::optional<std::uint64_t> slowest_applied() override;

  // ---- faults ----
  // The lease ends now, as if its TTL passed without a keep-alive: its leader is deposed.
  void expire(std::int64_t lease);
  // The next append throws LogUnavailable; `lands`: the append goes ahead first (the reply
  // was lost; if it is fenced or its index taken, nothing lands either), or not (the
  // request was).
  void fail_next_append(bool lands);
  // PLANTED BUG, for the simulator's test that its checker catches it (tests/
  // sim_cluster_test.cpp): with fencing off, an append checks only its index, not its
  // token, so a deposed leader's append can land.
  void set_fencing(bool on) { fencing_ = on; }
  // The token of the current leader (0: none): what the simulator's directory reads.
  std::uint64_t leader_token() const { return leader_ ? leader_->token : 0; }

 private:
  struct Leader {
    std::string name;
    std::int64_t lease = 0;
    std::uint64_t token = 0;
  };
  std::uint64_t revision_ = 0;  // grows with every change, like etcd's
  std::int64_t next_lease_ = 1;
  std::optional<Leader> leader_;
  std::map<std::uint64_t, LogEntry> entries_;
  std::uint64_t last_ = 0;  // the last index ever appended: trimming does not move it
  std::map<std::string, std::uint64_t, std::less<>> applied_;
  std::optional<bool> next_append_fails_;  // lands or not
  bool fencing_ = true;
};

}  // namespace parley::host
