#include "net/node/cluster_guards.hpp"

#include <chrono>
#include <map>
#include <sstream>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_log.hpp"
#include "cluster/replica.hpp"
#include "net/node/cluster_member.hpp"

namespace parley::net {

using engine::Table;

StoreMode read_store_mode(engine::Store& store) {
  StoreMode mode;
  store.begin();
  mode.applied = cluster::applied_index_of(store);
  store.scan(Table::users, "", "", false, [&](std::string_view, std::string_view) {
    mode.has_users = true;
    return false;  // one is enough
  });
  store.abort();
  return mode;
}

std::string store_mode_mismatch(const StoreMode& mode, bool clustered) {
  const std::uint64_t applied = mode.applied;
  if (!clustered && applied > 0) {
    return "this store is a cluster replica's (it applied entry " + std::to_string(applied) +
           " of a cluster's log): as a single node it would take writes the cluster never "
           "sees. Start it with the cluster's --etcd and --cluster-prefix";
  }
  if (clustered && applied == 0 && mode.has_users) {
    return "this store was written by a single node (it holds users but no applied log "
           "index): a replica must start empty or from a peer's snapshot, or it holds what no "
           "other replica has. Give --data an empty directory";
  }
  return "";
}

std::string log_mismatch(cluster::EtcdClient& client, const NodeConfig& config,
                         std::uint64_t applied) {
  if (applied == 0) return "";
  cluster::EtcdLog log(client, config.cluster_prefix + "shard/0/");
  const std::uint64_t last = log.last_index();
  if (last >= applied) return "";
  return "this store applied entry " + std::to_string(applied) + " of a log, but the log under " +
         config.cluster_prefix + " ends at entry " + std::to_string(last) +
         ": the store belongs to another cluster (check --cluster-prefix and --etcd), or "
         "etcd lost its data. Start this node from an empty --data to join this cluster";
}

std::string engine_settings(const engine::EngineConfig& c) {
  // check_invariants changes nothing the engine does; durable_sessions is on for every
  // replica (cluster::Replica sets it).
  std::ostringstream out;
  out << "delivery_batch=" << c.delivery_batch << "\n"
      << "delivery_window=" << c.delivery_window << "\n"
      << "delivery_batch_bytes=" << c.delivery_batch_bytes << "\n"
      << "delivery_window_bytes=" << c.delivery_window_bytes << "\n"
      << "history_page_bytes=" << c.history_page_bytes << "\n"
      << "heartbeat_interval_us=" << c.heartbeat_interval_us << "\n"
      << "presence_timeout_us=" << c.presence_timeout_us << "\n"
      << "push_collapse_window_us=" << c.push_collapse_window_us << "\n"
      << "push_when=" << static_cast<int>(c.push_when) << "\n"
      << "push_outbox_max=" << c.push_outbox_max << "\n"
      << "edit_window_us=" << c.edit_window_us << "\n"
      << "delete_window_us=" << c.delete_window_us << "\n";
  return out.str();
}

namespace {

std::map<std::string, std::string> settings_by_name(const std::string& lines) {
  std::map<std::string, std::string> settings;
  std::istringstream in(lines);
  for (std::string line; std::getline(in, line);) {
    const auto equals = line.find('=');
    if (equals != std::string::npos) settings[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return settings;
}

// The settings both sides name with different values: "name=ours (the cluster: theirs)".
// A setting only one side names (added or removed by another release) is not compared, so
// nodes of two releases can run side by side while they agree on the rest.
std::string differences(const std::string& ours, const std::string& theirs) {
  const auto recorded = settings_by_name(theirs);
  std::string described;
  for (const auto& [name, value] : settings_by_name(ours)) {
    const auto other = recorded.find(name);
    if (other == recorded.end() || other->second == value) continue;
    described += (described.empty() ? "" : ", ") + name + "=" + value +
                 " (the cluster: " + other->second + ")";
  }
  return described;
}

}  // namespace

std::string engine_settings_mismatch(cluster::EtcdClient& client, const NodeConfig& config) {
  const std::string key = config.cluster_prefix + "engine_settings";
  const std::string ours = engine_settings(config.engine);
  const std::string different = differences(ours, cluster::put_if_absent(client, key, ours));
  if (different.empty()) return "";
  return "this node's engine settings differ from the cluster's (etcd " + key + "): " + different +
         ". Every replica must apply the log under the same rules: run every node with the "
         "same settings (one config file), or, to change them for the whole cluster, stop "
         "every node, delete the key and start them with the new settings";
}

}  // namespace parley::net
