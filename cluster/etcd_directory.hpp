// host::Directory on etcd v3 (docs/cluster.md, "Directory"): one key per node,
// PREFIX NAME = "CONNECTIONS URL ROLE[ PEER]" (ROLE: both, gateway or replica; PEER: the
// HOST:PORT other nodes reach it at), attached to the
// gateway's lease, so a gateway that dies (stops renewing) leaves the directory when its TTL runs
// out.
#pragma once

#include <string>

#include "cluster/etcd_client.hpp"
#include "host/directory.hpp"

namespace parley::cluster {

class EtcdDirectory final : public host::Directory {
 public:
  // prefix: e.g. "/parley/CLUSTER/gateways/".
  EtcdDirectory(EtcdClient& client, std::string prefix);

  std::int64_t register_gateway(const host::GatewayInfo& gateway,
                                std::int64_t ttl_seconds) override;
  void update(std::int64_t lease, const host::GatewayInfo& gateway) override;
  bool keep_alive(std::int64_t lease) override;
  void deregister(std::int64_t lease) override;
  std::vector<host::GatewayInfo> gateways() override;

 private:
  void put(std::int64_t lease, const host::GatewayInfo& gateway);

  EtcdClient& client_;
  std::string prefix_;
};

}  // namespace parley::cluster
