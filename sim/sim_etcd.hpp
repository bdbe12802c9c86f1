// The simulated etcd a clustered world runs on (docs/scenarios.md, "[cluster]"): the
// linearizable log of host::MemoryLog (the etcd log's fencing rules: cluster/etcd_log.hpp)
// behind a model of what the simulator's faults do to etcd, and one client per node
// (SimEtcdClient) through which that node's replica and elector reach it.
//
// The model, on etcd's clock (the simulator's global time):
//   - etcd answers while a quorum of its members is up and no etcd leader election is under
//     way; otherwise every request throws host::LogUnavailable;
//   - a lease ends when its TTL passes without a renewal; while etcd has no leader no lease
//     ends, and a new etcd leader renews every lease (as etcd's lessor does on promotion);
//   - a node cut off from etcd (`etcd_partition`) gets LogUnavailable for everything; a node
//     whose renewals are lost (`lease_skew`) gets LogUnavailable from keep_alive only.
// Deterministic: no clock of its own, no randomness (the world draws the election times).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "host/memory_log.hpp"

namespace parley::sim {

using TimeUs = std::int64_t;

class SimEtcd {
 public:
  SimEtcd(std::uint32_t members, TimeUs lease_ttl);

  host::MemoryLog& log() { return log_; }
  // Whether `node` gets an answer from etcd at `now`.
  bool answers(std::uint32_t node, TimeUs now);
  // The node the directory names as leader (the log's leader), when etcd answers at all.
  std::optional<std::uint32_t> leader_node(TimeUs now);

  // ---- leases, on etcd's clock ----
  void lease_granted(std::int64_t lease, TimeUs now);
  void lease_renewed(std::int64_t lease, TimeUs now);
  // Ends every lease whose TTL passed without a renewal (while etcd has a leader).
  void expire_due(TimeUs now);

  // ---- faults ----
  void cut_off(std::uint32_t node, bool cut);
  void lose_keep_alives(std::uint32_t node, bool lose);
  bool loses_keep_alives(std::uint32_t node) const { return keep_alives_lost_.contains(node); }
  // A member stops for good until revive(). Killing etcd's leader member, or giving etcd
  // back a quorum, starts an election that ends `election` later. Returns a description.
  std::string kill(std::optional<std::uint32_t> member, TimeUs now, TimeUs election);
  void revive(std::uint32_t member, TimeUs now, TimeUs election);
  std::uint32_t leader_member() const { return leader_member_; }
  // The end of a run: every member up, every node reaches etcd, no election under way.
  void heal_all(TimeUs now);

 private:
  bool has_quorum() const;
  void start_election(TimeUs now, TimeUs election);

  host::MemoryLog log_;
  TimeUs lease_ttl_;
  std::vector<bool> members_up_;
  std::uint32_t leader_member_ = 0;
  TimeUs election_until_ = 0;
  std::optional<TimeUs> renew_all_at_;  // a new etcd leader renews every lease then
  std::map<std::int64_t, TimeUs> lease_deadline_;
  std::set<std::uint32_t> cut_off_;
  std::set<std::uint32_t> keep_alives_lost_;
};

// One node's client: host::ReplicatedLog on the simulated etcd, at the world's time.
class SimEtcdClient final : public host::ReplicatedLog {
 public:
  // REQUIRES: `etcd` and `now` outlive the client.
  SimEtcdClient(SimEtcd& etcd, std::uint32_t node, const TimeUs& now);

  std::optional<host::Leadership> campaign(std::string_view candidate,
                                           std::int64_t ttl_seconds) override;
  bool keep_alive(const host::Leadership& leadership) override;
  void resign(const host::Leadership& leadership) override;
  std::optional<std::string> leader() override;
  host::AppendResult append(std::uint64_t token, std::uint64_t index,
                            std::string_view bytes) override;
  std::vector<host::LogEntry> read(std::uint64_t from, std::size_t max) override;
  std::optional<host::LogEntry> entry(std::uint64_t index) override;
  std::uint64_t last_index() override;
  void trim_below(std::uint64_t index) override;
  void report_applied(std::string_view replica, std::uint64_t index) override;
  std::optional<std::uint64_t> slowest_applied() override;

  // PLANTED BUG (tests/sim_cluster_test.cpp): from the first read at or past `index` on,
  // this node's reads skip one entry and number the rest one lower, so its replica applies
  // entry i + 1 as entry i: a follower that skips an index.
  void skip_an_index_from(std::uint64_t index) { skip_from_ = index; }

 private:
  host::MemoryLog& enter();  // throws LogUnavailable when etcd does not answer this node
  std::uint64_t shift() const { return shifted_ ? 1 : 0; }

  SimEtcd& etcd_;
  std::uint32_t node_;
  const TimeUs& now_;
  std::optional<std::uint64_t> skip_from_;
  bool shifted_ = false;
};

}  // namespace parley::sim
