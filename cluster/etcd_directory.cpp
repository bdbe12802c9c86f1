#include "cluster/etcd_directory.hpp"

#include <charconv>
#include <sstream>

namespace parley::cluster {

using host::GatewayInfo;

EtcdDirectory::EtcdDirectory(EtcdClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

namespace {

// "CONNECTIONS URL ROLE PEER": ROLE both, gateway or replica; PEER the node's HOST:PORT for
// its peers (absent when empty). Entries of older nodes have only the first two or three.
std::string encode(const GatewayInfo& node) {
  std::string value = std::to_string(node.connections) + " " + node.url + " " +
                      std::string(host::to_string(node.role));
  if (!node.peer.empty()) value += " " + node.peer;
  return value;
}

GatewayInfo decode(const std::string& name, const std::string& value) {
  GatewayInfo node{name, {}, 0};
  std::istringstream fields(value);
  std::string connections;
  std::string role;
  fields >> connections >> node.url >> role >> node.peer;
  const auto [end, error] = std::from_chars(
      connections.data(), connections.data() + connections.size(), node.connections);
  const auto parsed = role.empty() ? host::NodeRole::both : host::parse_node_role(role);
  if (error != std::errc() || end != connections.data() + connections.size() || node.url.empty() ||
      !parsed) {
    throw EtcdError("not a directory entry: " + name);
  }
  node.role = *parsed;
  return node;
}

}  // namespace

void EtcdDirectory::put(std::int64_t lease, const GatewayInfo& gateway) {
  client_.txn({}, {Op{Op::Kind::put, prefix_ + gateway.name, encode(gateway), {}, lease}}, {});
}

std::int64_t EtcdDirectory::register_gateway(const GatewayInfo& gateway, std::int64_t ttl_seconds) {
  const std::int64_t lease = client_.lease_grant(ttl_seconds);
  put(lease, gateway);
  return lease;
}

void EtcdDirectory::update(std::int64_t lease, const GatewayInfo& gateway) {
  put(lease, gateway);
}

bool EtcdDirectory::keep_alive(std::int64_t lease) {
  return client_.lease_keep_alive(lease) > 0;
}

void EtcdDirectory::deregister(std::int64_t lease) {
  client_.lease_revoke(lease);
}

std::vector<GatewayInfo> EtcdDirectory::gateways() {
  std::vector<GatewayInfo> out;
  for (const KeyValue& kv : client_.range(prefix_, EtcdClient::prefix_end(prefix_)))
    out.push_back(decode(kv.key.substr(prefix_.size()), kv.value));
  return out;  // etcd returns keys in order: by name
}

}  // namespace parley::cluster
