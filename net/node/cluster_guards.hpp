// Start-up checks that keep a cluster's replicas equal (docs/cluster.md, "Guards"). Each
// returns why the node must not start ("" when it may); run_node then exits 78.
//
// - A store and a mode that do not match: a cluster replica's store (it holds an applied log
//   index) opened as a single node would take writes the log never sees; a single node's
//   store (users, no applied index) opened as a replica holds state no other replica has.
// - Engine settings that differ between nodes: replay is the replication, so every replica
//   must run the log's inputs under the same rules (delivery windows, presence timeout...).
//   The first node records its settings in etcd under PREFIX engine_settings; a node with
//   other settings refuses to start and names the differences.
#pragma once

#include <string>

#include "cluster/etcd_client.hpp"
#include "engine/engine.hpp"
#include "net/node/config.hpp"

namespace parley::net {

// What a store says of its mode: the applied log index (0: none) and whether it holds users.
// Inside no transaction: opens and aborts its own.
struct StoreMode {
  std::uint64_t applied = 0;
  bool has_users = false;
};
StoreMode read_store_mode(engine::Store& store);
std::string store_mode_mismatch(const StoreMode& mode, bool clustered);

// The settings replicas must share, one "name=value" per line, in a fixed order.
std::string engine_settings(const engine::EngineConfig& config);

// Compares this node's engine settings with the cluster's record in etcd (recording them
// when there is none yet). Throws host::LogUnavailable when etcd cannot be asked.
std::string engine_settings_mismatch(cluster::EtcdClient& client, const NodeConfig& config);

// A store that applied entry `applied` of a log whose last index is smaller belongs to
// another log: another cluster (another --cluster-prefix), or etcd's data was lost. Throws
// host::LogUnavailable when etcd cannot be asked.
std::string log_mismatch(cluster::EtcdClient& client, const NodeConfig& config,
                         std::uint64_t applied);

}  // namespace parley::net
