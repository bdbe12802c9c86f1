// A small synchronous client of etcd's v3 API through its JSON gateway (POST /v3/kv/range,
// /v3/kv/txn, /v3/kv/deleterange, /v3/lease/grant|keepalive|revoke) over Beast HTTP/1.1.
// There is no packaged C++ etcd client in Debian (CLUSTER.md); the gateway needs nothing
// beyond Beast and Boost.JSON, which the node links already. Keys and values are bytes
// (base64 on the wire, libsodium's codec); revisions and lease ids are int64 (strings on the
// wire, as proto3's JSON mapping writes 64-bit numbers).
//
// Endpoints are tried in turn: a connection error, a timeout or an "unavailable" answer
// (no etcd leader) moves to the next one. When every endpoint failed, calls throw
// host::LogUnavailable — for a write the outcome is then unknown.
//
// Not thread-safe: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "host/replicated_log.hpp"

namespace parley::cluster {

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;  // 0: the key does not exist
  std::int64_t lease = 0;
};

// One comparison of a transaction: `target` of `key` compared with `number` (revisions,
// version) or `value`.
struct Compare {
  enum class Target { version, create_revision, mod_revision, value };
  enum class Result { equal, not_equal, greater, less };
  std::string key;
  Target target = Target::version;
  Result result = Result::equal;
  std::int64_t number = 0;
  std::string value;
};

// One operation of a transaction.
struct Op {
  enum class Kind { put, erase, range };
  Kind kind = Kind::put;
  std::string key;
  std::string value;       // put
  std::string range_end;   // erase, range: [key, range_end); empty: the key alone
  std::int64_t lease = 0;  // put: attach the key to this lease
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;                  // the store's revision after the transaction
  std::vector<std::vector<KeyValue>> ranges;  // one per range op of the branch taken
};

// etcd answered with an error that retrying elsewhere would not change (a bad request, a
// request over its size limit).
class EtcdError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class EtcdClient {
 public:
  // endpoints: "HOST:PORT" of etcd members (loopback only in tests). timeout: per request.
  EtcdClient(std::vector<std::string> endpoints, std::chrono::milliseconds timeout);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // Keys in [key, range_end) (the key alone when range_end is empty), in key order, or in
  // reverse key order when `descending`; at most `limit` (0: all).
  std::vector<KeyValue> range(std::string_view key, std::string_view range_end = {},
                              std::int64_t limit = 0, bool descending = false);
  TxnResult txn(const std::vector<Compare>& compares, const std::vector<Op>& success,
                const std::vector<Op>& failure);
  // Number of keys deleted.
  std::int64_t erase(std::string_view key, std::string_view range_end = {});

  std::int64_t lease_grant(std::int64_t ttl_seconds);
  // The lease's remaining TTL in seconds; 0 when it expired or was revoked.
  std::int64_t lease_keep_alive(std::int64_t lease);
  void lease_revoke(std::int64_t lease);

  // The answering member's raft status (POST /v3/maintenance/status).
  struct MemberStatus {
    std::uint64_t member_id = 0;
    std::uint64_t leader = 0;  // the member id of the raft leader; 0: none known
  };
  MemberStatus status();

  // The first key after every key that starts with `prefix` (etcd's "range_end" of a prefix).
  static std::string prefix_end(std::string_view prefix);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Puts `value` at `key` unless the key exists; returns the value the key holds after (ours,
// or the one put before). A read, then (when absent) one transaction. Throws as
// EtcdClient::txn.
std::string put_if_absent(EtcdClient& client, const std::string& key, const std::string& value);

}  // namespace parley::cluster
