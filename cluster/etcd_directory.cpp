#include "cluster/etcd_directory.hpp"

#include <charconv>

namespace parley::cluster {

using host::GatewayInfo;

EtcdDirectory::EtcdDirectory(EtcdClient& client, std::string prefix)
    : client_(client), prefix_(std::move(prefix)) {}

void EtcdDirectory::put(std::int64_t lease, const GatewayInfo& gateway) {
  client_.txn({},
              {Op{Op::Kind::put,
                  prefix_ + gateway.name,
                  std::to_string(gateway.connections) + " " + gateway.url,
                  {},
                  lease}},
              {});
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
  for (const KeyValue& kv : client_.range(prefix_, EtcdClient::prefix_end(prefix_))) {
    const auto space = kv.value.find(' ');
    GatewayInfo gateway{kv.key.substr(prefix_.size()), {}, 0};
    const auto [end, error] = std::from_chars(
        kv.value.data(), kv.value.data() + std::min(space, kv.value.size()), gateway.connections);
    if (space == std::string::npos || error != std::errc() || end != kv.value.data() + space) {
      throw EtcdError("not a gateway entry: " + kv.key);
    }
    gateway.url = kv.value.substr(space + 1);
    out.push_back(std::move(gateway));
  }
  return out;  // etcd returns keys in order: by name
}

}  // namespace parley::cluster
