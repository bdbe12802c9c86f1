// What every part of the node shares: its settings, counters, login guards, connection
// limits and the engine loop. run_node (or InProcessNode) owns one Shared, and it outlives
// every session, engine task and hashing job that refers to it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/engine.hpp"
#include "net/node/config.hpp"
#include "net/node/login_guard.hpp"
#include "net/node/metrics.hpp"

namespace parley::net {

class ClusterMember;
class EngineLoop;
class SnapshotServer;
class PushWorker;
class SearchWorker;

// Microseconds on the monotonic clock (login throttling), and on the wall clock.
std::int64_t steady_now_us();
engine::TimeUs wall_clock_us();

// One line on stderr, "parley: TEXT".
void log_line(const std::string& text);

// Open connections per remote address. A slot is held by the session(s) of one connection
// and released when the last of them ends.
class AddressLimiter {
 public:
  using Slot = std::shared_ptr<void>;

  // Nothing when `address` already has `max` connections open, or the node `max_total`.
  Slot acquire(const std::string& address, std::size_t max, std::size_t max_total);

 private:
  void release(const std::string& key);
  std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> open_;
};

struct Shared {
  NodeConfig config;
  Metrics metrics;
  std::string discover_url;
  HashingQueue hashing{64};  // argon2id is slow on purpose: never on I/O or engine threads
  LoginThrottle throttle;
  std::atomic<engine::ConnectionId> next_connection{1};  // 0 is the engine's "no connection"
  std::string dummy_hash;  // verified against for unknown names, to keep login timing flat
  AddressLimiter limiter;
  std::size_t max_connections = SIZE_MAX;  // node-wide, from the descriptor limit
  EngineLoop* loop = nullptr;
  PushWorker* pushes = nullptr;    // null without --push-gateway
  SearchWorker* search = nullptr;  // null on a gateway (no store, no engine)
  // A cluster node's membership (null on a single node), and whether it serves clients
  // now: always on a single node; on a cluster node only while it leads, after its
  // takeover (net/node/engine_loop.cpp). Off, client calls are refused with not_leader.
  ClusterMember* cluster = nullptr;
  // A cluster node's copies of its store for peers behind a trim (net/node/snapshot.hpp).
  SnapshotServer* snapshots = nullptr;
  std::atomic<bool> serving{true};
};

}  // namespace parley::net
