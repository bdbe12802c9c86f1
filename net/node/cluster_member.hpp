// A node's part in a cluster (docs/cluster.md, "Running a cluster"): its replica of the
// shard, and the elector thread that campaigns for leadership through etcd, keeps the
// lease alive, and keeps the node registered in the directory with its public URL.
//
// Threads: the elector thread owns its own etcd client; the engine thread owns the
// replica and its log's client. They share only atomics and the leader's URL (mutex).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "cluster/elector.hpp"
#include "cluster/etcd_client.hpp"
#include "cluster/etcd_directory.hpp"
#include "cluster/etcd_log.hpp"
#include "cluster/replica.hpp"
#include "net/node/config.hpp"

namespace parley::net {

class Metrics;

// A node URL from the directory, "ws://HOST:PORT/PATH", split: HOST and PORT (a number, 1 to
// 65535); nothing for anything else.
struct NodeAddress {
  std::string host;
  std::uint16_t port = 0;
  std::string authority() const { return host + ":" + std::to_string(port); }
};
std::optional<NodeAddress> parse_node_url(const std::string& url);
// "HOST:PORT" (a peer address) split the same way; nothing for anything else.
std::optional<NodeAddress> parse_node_address(const std::string& address);
// Where peers reach `node`: its peer address, or its URL's host and port (older entries).
std::optional<NodeAddress> peer_address_of(const host::GatewayInfo& node);
// "--etcd HOST:PORT,HOST:PORT": the endpoints; throws std::invalid_argument when none.
std::vector<std::string> split_endpoints(const std::string& list);

class ClusterMember {
 public:
  // Connects nothing yet. `store`: the node's replica of the shard; null for a gateway
  // (config.role), which campaigns for nothing and only keeps its directory entry and its
  // view of the leader. Throws std::invalid_argument for an empty endpoint list, an unknown
  // role, or a store given to a gateway (or not given to another role).
  ClusterMember(const NodeConfig& config, engine::Store* store, std::string public_url,
                Metrics& metrics);
  ~ClusterMember();
  ClusterMember(const ClusterMember&) = delete;
  ClusterMember& operator=(const ClusterMember&) = delete;

  void start();  // the elector thread
  void stop();   // resigns if leading, deregisters, joins

  // ---- the engine thread (never on a gateway: it runs no engine) ----
  cluster::Replica& replica() { return *replica_; }
  // The leadership token while this node leads, else 0 (the elector sets it).
  std::uint64_t token() const { return token_.load(); }
  // Leadership `token` is unusable (an append was fenced, failed or not known to land):
  // the elector resigns it, and campaigns again later.
  void step_down(std::uint64_t token);
  // Publishes the applied index (for trimming) at most once a second; the leader trims.
  void report_progress();
  // The replica is caught up with the log: only then does the elector campaign.
  void set_ready(bool ready) { ready_ = ready; }

  // ---- any thread ----
  const std::string& name() const { return name_; }
  host::NodeRole role() const { return role_; }
  // The leader's name and its public WebSocket URL, as last seen (empty: none known).
  std::string leader_name() const;
  std::string leader_url() const;
  // Where this node reaches the leader (relays): its peer address; nothing while none is
  // known.
  std::optional<NodeAddress> leader_peer() const;
  // Where a client should connect: a live node that serves clients (role both or gateway)
  // picked at random among those within 10% (and 10 connections) of the fewest connections;
  // the leader's URL when none is registered; "" while no node leads. And every such
  // gateway's URL, for clients to fall back on when theirs dies.
  std::string best_gateway_url() const;
  std::vector<std::string> gateway_urls() const;
  // `address` (an IP, as a socket reports it) is a cluster node's (any role): the host of a
  // peer address in the directory. Its
  // gateway's requests carry their client's address in X-Forwarded-For.
  bool is_peer(const std::string& address) const;

 private:
  void elect();  // the elector thread's body
  void elect_once();
  void campaign_once();  // one Elector round (not on a gateway)
  void register_self();  // this node's URL in the directory, under its own lease
  void refresh_leader();

  NodeConfig config_;
  host::NodeRole role_;
  std::string name_;
  std::string public_url_;
  Metrics& metrics_;
  // The engine thread's etcd client, log and replica.
  cluster::EtcdClient engine_client_;
  cluster::EtcdLog engine_log_;
  std::unique_ptr<cluster::Replica> replica_;
  std::int64_t last_report_us_ = 0;
  std::int64_t last_trim_us_ = 0;
  // The elector's.
  cluster::EtcdClient elector_client_;
  cluster::EtcdLog elector_log_;
  cluster::EtcdDirectory directory_;
  cluster::Elector elector_;  // the same rules the simulator runs (cluster/elector.hpp)
  std::int64_t directory_lease_ = 0;

  std::atomic<std::uint64_t> token_{0};
  std::atomic<std::uint64_t> step_down_{0};
  std::atomic<bool> ready_{false};
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::string leader_name_;
  std::string leader_url_;
  std::optional<NodeAddress> leader_peer_;
  std::vector<host::GatewayInfo> gateways_;  // the directory, as of the last round
  std::set<std::string> peers_;              // the hosts of the directory's peer addresses
  std::uint64_t published_connections_ = 0;  // the load the directory shows for this node
  std::int64_t published_at_us_ = 0;
  bool refresh_after_ = false;  // the elector's: refresh the leader's URL after registering
  std::thread thread_;
};

}  // namespace parley::net
