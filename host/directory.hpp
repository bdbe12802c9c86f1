// The cluster's service directory (docs/cluster.md, "Directory"): each gateway registers
// itself with its public URL and load under a lease, so it disappears by itself when the
// gateway dies; /v1/discover and the login answer name the best live one.
//
// Implementations: cluster/etcd_directory.hpp (etcd v3 leases) and MemoryDirectory below.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::host {

// What a cluster node does (`parley serve --role`, docs/cluster.md "Roles"): `both` holds
// client connections and a replica of the shard; a `gateway` only holds client connections
// (relayed to the leader) and has no store; a `replica` only holds the shard (it may lead)
// and is never named to clients by discovery.
enum class NodeRole : std::uint8_t { both, gateway, replica };
std::string_view to_string(NodeRole role);
// "both", "gateway" or "replica"; nothing for anything else.
std::optional<NodeRole> parse_node_role(std::string_view text);

// One node in the directory (every role registers: the leader's URL and the peers' addresses
// come from here too).
struct GatewayInfo {
  std::string name;  // unique per node
  std::string url;   // what clients connect to, e.g. ws://10.0.0.5:8080/v1/ws
  std::uint64_t connections = 0;
  NodeRole role = NodeRole::both;
  // HOST:PORT where the other nodes reach it (relays, snapshots), which behind a TLS proxy
  // is not `url`'s; empty: `url`'s host and port.
  std::string peer = "";
  bool operator==(const GatewayInfo&) const = default;
  // Discovery may name it to clients.
  bool serves_clients() const { return role != NodeRole::replica; }
  // It holds a replica of the shard (a store a peer can copy).
  bool has_store() const { return role != NodeRole::gateway; }
};

class Directory {
 public:
  virtual ~Directory() = default;
  // Registers (or re-registers) `gateway` under a new lease of ttl_seconds; returns it.
  // Throws LogUnavailable (host/replicated_log.hpp) when the directory cannot be reached.
  virtual std::int64_t register_gateway(const GatewayInfo& gateway, std::int64_t ttl_seconds) = 0;
  // Publishes a new load under the same lease; nothing when the lease expired.
  virtual void update(std::int64_t lease, const GatewayInfo& gateway) = 0;
  // Renews the lease; false when it expired (the gateway must register again).
  virtual bool keep_alive(std::int64_t lease) = 0;
  virtual void deregister(std::int64_t lease) = 0;
  // The live gateways, by name.
  virtual std::vector<GatewayInfo> gateways() = 0;

  // The gateway a new client should use: of the nodes that serve clients, the fewest
  // connections, then the first name.
  std::optional<GatewayInfo> best_gateway();
};

// In memory, for tests and the simulator: a lease ends when expire() says so.
class MemoryDirectory final : public Directory {
 public:
  std::int64_t register_gateway(const GatewayInfo& gateway, std::int64_t ttl_seconds) override;
  void update(std::int64_t lease, const GatewayInfo& gateway) override;
  bool keep_alive(std::int64_t lease) override;
  void deregister(std::int64_t lease) override;
  std::vector<GatewayInfo> gateways() override;

  void expire(std::int64_t lease) { deregister(lease); }

 private:
  std::int64_t next_lease_ = 1;
  std::map<std::int64_t, GatewayInfo> by_lease_;
};

}  // namespace parley::host
