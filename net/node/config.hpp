// The production node's settings: every `parley serve` flag, and the same keys in a TOML
// file (--config). docs/operations.md documents each.
#pragma once

#include <cstdint>
#include <string>

#include "engine/engine.hpp"
#include "host/core.hpp"
#include "net/node/auth.hpp"
#include "net/node/push_worker.hpp"

namespace parley::net {

struct NodeConfig {
  std::string listen = "127.0.0.1:8080";  // host:port; port 0 picks a free one
  std::string data = "./data";            // the LMDB environment's directory
  std::string public_url;                 // what /v1/discover advertises; default from listen
  std::string web_root;                   // static files served at / (the web client)
  std::string port_file;                  // write the bound port here once listening
  unsigned io_threads = 2;

  // Group commit and queues. batch.max_wait_us 0: batch whatever queued up during the last
  // commit; the engine ticks once a second.
  host::BatchPolicy batch{.max_inputs = 256,
                          .max_wait_us = 0,
                          .commit_interval_us = 2'000,
                          .tick_interval_us = 1'000'000};
  std::size_t queue_max = 65'536;  // engine inputs waiting; past it requests get `overloaded`
  // A request is refused (`overloaded`) when the oldest queued input has waited this long:
  // better refused now than acked seconds late.
  std::size_t queue_delay_max_ms = 500;
  std::size_t initial_map_mib = 64;
  std::size_t max_map_mib = 1 << 20;  // the store's growth stops here (1 TiB): see docs/storage.md

  // Connections.
  std::size_t max_frame_bytes = 1 << 20;         // larger frames close with 1009
  std::size_t outbound_frames_max = 4'096;       // per connection; past it: closed as too slow
  std::size_t outbound_bytes_max = 16ull << 20;  // per connection
  std::int64_t handshake_timeout_ms = 10'000;
  // A WebSocket silent this long is pinged, and dropped if still silent this long after the
  // ping: how soon the node lets go of a peer that vanished without closing (a phone out of
  // coverage). Beast's server default, 150 s; at least 100.
  std::int64_t ping_after_ms = 150'000;
  double rate_limit_per_second = 200;  // frames per second per connection
  double rate_limit_burst = 400;
  std::size_t max_http_body_bytes = 64 << 10;
  std::size_t max_connections_per_address = 0;  // HTTP and WebSocket, open at once; 0: sized
                                                // from the descriptor limit (run_node)

  // Accounts.
  std::int64_t token_ttl_hours = 24 * 30;
  // Sign-ups, logins and password changes per remote address per minute (also the burst);
  // see net/node/login_guard.hpp for the per-account delay after failures.
  double login_attempts_per_minute = 30;
  PasswordPolicy password;

  // Push delivery (docs/push.md).
  PushGatewayOptions push;

  // The engine.
  engine::EngineConfig engine;

  // The cluster (docs/cluster.md). Without etcd endpoints the node runs alone on its store.
  std::string etcd;       // "HOST:PORT,HOST:PORT,...": the etcd members; empty: a single node
  std::string node_name;  // unique in the cluster; default: the listen address
  // HOST:PORT where the other nodes reach this one (relays, snapshots); default: the listen
  // address. Needed when listening on 0.0.0.0 or ::, or when --public-url is a proxy's.
  std::string peer_address;
  // both, gateway or replica (host::NodeRole; docs/cluster.md, "Roles"): gateway holds
  // client connections only, with no store; replica holds the shard only.
  std::string role = "both";
  std::string cluster_prefix = "/parley/cluster/";  // this cluster's etcd keys
  std::int64_t lease_ttl_s = 3;  // leadership lease: a dead leader is replaced about this late
  std::int64_t etcd_timeout_ms = 2'000;  // per etcd request
  // A replica's applied-index report holds back the log's trimming for this long after its
  // last renewal (a node gone longer starts from a peer's snapshot when it returns).
  std::int64_t trim_hold_s = 600;
};

// Overlays the keys of the TOML file at `path` onto `config`. Throws std::runtime_error
// "PATH:LINE: ..." for a parse error, an unknown key or a value of the wrong type.
void load_config_file(const std::string& path, NodeConfig& config);

}  // namespace parley::net
