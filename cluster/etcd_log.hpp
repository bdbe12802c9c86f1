// host::ReplicatedLog on etcd v3 (docs/cluster.md, "The log in etcd").
//
// Keys under PREFIX (e.g. "/parley/CLUSTER/shard/0/"):
//   PREFIX "leader"           the leader's name, attached to its lease; its create revision
//                             is the leadership token (etcd revisions only grow, so a later
//                             leader's token is greater)
//   PREFIX "log/" 20 digits   an entry: 8-byte big-endian token, then the entry's bytes
//                             (zero-padded decimal, so key order is index order)
//   PREFIX "last"             the last index ever appended (decimal): an append must follow
//                             it, so neither a trimmed index nor a gap can be filled
//   PREFIX "applied/" NAME    the last index replica NAME applied (decimal)
//
// An append is one etcd transaction: if the leader key's create revision is still the token
// and `last` is index - 1, put the entry and move `last`. Fencing is therefore etcd's
// linearizable compare, not a clock: a leader paused past its lease cannot append when it
// wakes up. Entries are read by range reads from an index (never by trusting a watch: etcd
// #18089).
#pragma once

#include <chrono>
#include <string>

#include "cluster/etcd_client.hpp"
#include "host/replicated_log.hpp"

namespace parley::cluster {

class EtcdLog final : public host::ReplicatedLog {
 public:
  EtcdLog(EtcdClient& client, std::string prefix);

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
  // Keeps the last entry whatever `index` says, so that the next index stays known.
  void trim_below(std::uint64_t index) override;
  // With a hold (set_trim_hold), the report lives under a lease of that TTL, renewed by the
  // reports every third of the hold: a replica gone for longer stops holding back trimming (a node
  // that left the cluster for good would otherwise keep every entry, until etcd's space quota
  // refuses every write). Without one, a report stays until it is deleted.
  void report_applied(std::string_view replica, std::uint64_t index) override;
  std::optional<std::uint64_t> slowest_applied() override;

  // How long a replica's last report holds back trimming (seconds; 0: for ever).
  void set_trim_hold(std::int64_t seconds) { trim_hold_s_ = seconds; }

  std::string entry_key(std::uint64_t index) const;

 private:
  host::LogEntry decode(const KeyValue& kv) const;
  static std::uint64_t parse_index(const KeyValue& kv);

  EtcdClient& client_;
  std::string prefix_;
  std::string leader_key_;
  std::string last_key_;
  std::string log_prefix_;
  std::string applied_prefix_;
  std::int64_t trim_hold_s_ = 0;
  std::int64_t report_lease_ = 0;  // the lease of this replica's report (with a hold)
  std::chrono::steady_clock::time_point lease_renewed_;
};

}  // namespace parley::cluster
