#include "host/directory.hpp"

#include <algorithm>
#include <tuple>

namespace parley::host {

std::string_view to_string(NodeRole role) {
  switch (role) {
    case NodeRole::both:
      return "both";
    case NodeRole::gateway:
      return "gateway";
    case NodeRole::replica:
      return "replica";
  }
  return "both";
}

std::optional<NodeRole> parse_node_role(std::string_view text) {
  for (const NodeRole role : {NodeRole::both, NodeRole::gateway, NodeRole::replica}) {
    if (text == to_string(role)) return role;
  }
  return std::nullopt;
}

std::optional<GatewayInfo> Directory::best_gateway() {
  std::vector<GatewayInfo> live = gateways();
  std::erase_if(live, [](const GatewayInfo& node) { return !node.serves_clients(); });
  const auto best = std::min_element(live.begin(), live.end(), [](const auto& a, const auto& b) {
    return std::tie(a.connections, a.name) < std::tie(b.connections, b.name);
  });
  if (best == live.end()) return std::nullopt;
  return *best;
}

std::int64_t MemoryDirectory::register_gateway(const GatewayInfo& gateway, std::int64_t) {
  // A re-registration replaces the gateway's old entry, as a put of its key does in etcd.
  std::erase_if(by_lease_, [&](const auto& entry) { return entry.second.name == gateway.name; });
  const std::int64_t lease = next_lease_++;
  by_lease_[lease] = gateway;
  return lease;
}

void MemoryDirectory::update(std::int64_t lease, const GatewayInfo& gateway) {
  if (by_lease_.contains(lease)) by_lease_[lease] = gateway;
}

bool MemoryDirectory::keep_alive(std::int64_t lease) {
  return by_lease_.contains(lease);
}

void MemoryDirectory::deregister(std::int64_t lease) {
  by_lease_.erase(lease);
}

std::vector<GatewayInfo> MemoryDirectory::gateways() {
  std::vector<GatewayInfo> out;
  for (const auto& [lease, gateway] : by_lease_)
    out.push_back(gateway);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace parley::host
