// host::Directory on a real three-member etcd (cluster::EtcdDirectory) and in memory
// (host::MemoryDirectory): registration under a lease, load updates, the best gateway, and
// a gateway that stops renewing its lease leaving the directory by itself.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "cluster/etcd_directory.hpp"
#include "host/directory.hpp"
#include "tests/etcd_cluster.hpp"

namespace {

using namespace std::chrono_literals;
using parley::cluster::EtcdClient;
using parley::cluster::EtcdDirectory;
using parley::host::Directory;
using parley::host::GatewayInfo;
using parley::host::MemoryDirectory;
using parley::host::NodeRole;
using parley::host::parse_node_role;
using parley::testing::EtcdCluster;

class DirectoryTest : public ::testing::TestWithParam<std::string> {
 protected:
  DirectoryTest() {
    if (GetParam() == "etcd") {
      etcd = std::make_unique<EtcdCluster>();
      client = std::make_unique<EtcdClient>(etcd->endpoints(), 2s);
      directory = std::make_unique<EtcdDirectory>(*client, "/parley/test/gateways/");
    } else {
      directory = std::make_unique<MemoryDirectory>();
    }
  }

  // The lease ends without a keep-alive; returns once the gateway left the directory.
  void let_expire(std::int64_t lease, const std::string& name) {
    if (auto* memory = dynamic_cast<MemoryDirectory*>(directory.get()))
      return memory->expire(lease);
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline && listed(name))
      std::this_thread::sleep_for(100ms);
  }

  bool listed(const std::string& name) {
    for (const auto& gateway : directory->gateways())
      if (gateway.name == name) return true;
    return false;
  }

  std::unique_ptr<EtcdCluster> etcd;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<Directory> directory;
};

TEST_P(DirectoryTest, TheBestGatewayHasTheFewestConnections) {
  EXPECT_FALSE(directory->best_gateway().has_value());
  const GatewayInfo a{"gw-a", "ws://127.0.0.1:8081/v1/ws", 10};
  const GatewayInfo b{"gw-b", "ws://127.0.0.1:8082/v1/ws", 3};
  const std::int64_t lease_a = directory->register_gateway(a, 30);
  directory->register_gateway(b, 30);
  EXPECT_EQ(directory->gateways(), (std::vector<GatewayInfo>{a, b}));
  EXPECT_EQ(directory->best_gateway(), b);

  directory->update(lease_a, GatewayInfo{"gw-a", a.url, 1});
  EXPECT_EQ(directory->best_gateway()->name, "gw-a");
  directory->update(lease_a, GatewayInfo{"gw-a", a.url, 3});
  EXPECT_EQ(directory->best_gateway()->name, "gw-a") << "a tie goes to the first name";
}

TEST_P(DirectoryTest, AReplicaOnlyNodeIsListedWithItsRoleButNeverTheBestGateway) {
  const GatewayInfo replica{"r1", "ws://127.0.0.1:8081/v1/ws", 0, NodeRole::replica};
  const GatewayInfo gateway{"g1", "wss://chat.example.com/v1/ws", 50, NodeRole::gateway,
                            "10.0.0.7:8082"};
  directory->register_gateway(replica, 30);
  EXPECT_FALSE(directory->best_gateway().has_value()) << "a replica serves no client";
  directory->register_gateway(gateway, 30);
  EXPECT_EQ(directory->gateways(), (std::vector<GatewayInfo>{gateway, replica}))
      << "each role and peer address survives the round trip";
  EXPECT_EQ(directory->best_gateway(), gateway) << "more connections, but the only gateway";
  EXPECT_TRUE(gateway.serves_clients());
  EXPECT_FALSE(gateway.has_store());
  EXPECT_FALSE(replica.serves_clients());
  EXPECT_TRUE(replica.has_store());
}

// Entries written by older nodes: "CONNECTIONS URL" and "CONNECTIONS URL ROLE".
TEST_P(DirectoryTest, EntriesWithoutARoleOrAPeerAddressStillDecode) {
  if (GetParam() != std::string("etcd")) GTEST_SKIP() << "the format is etcd's";
  client->txn(
      {},
      {{parley::cluster::Op::Kind::put, "/parley/test/gateways/old", "3 ws://a:1/v1/ws", {}, 0},
       {parley::cluster::Op::Kind::put,
        "/parley/test/gateways/older-replica",
        "4 ws://b:2/v1/ws replica",
        {},
        0}},
      {});
  EXPECT_EQ(
      directory->gateways(),
      (std::vector<GatewayInfo>{{"old", "ws://a:1/v1/ws", 3, NodeRole::both, ""},
                                {"older-replica", "ws://b:2/v1/ws", 4, NodeRole::replica, ""}}));
}

TEST(NodeRole, ParsesItsThreeNamesOnly) {
  for (const NodeRole role : {NodeRole::both, NodeRole::gateway, NodeRole::replica})
    EXPECT_EQ(parse_node_role(to_string(role)), role);
  EXPECT_FALSE(parse_node_role("leader").has_value());
  EXPECT_FALSE(parse_node_role("").has_value());
  EXPECT_FALSE(parse_node_role("Gateway").has_value());
}

TEST_P(DirectoryTest, AGatewayLeavesWhenItsLeaseEnds) {
  const std::int64_t lease_a = directory->register_gateway({"gw-a", "ws://a/v1/ws", 0}, 2);
  const std::int64_t lease_b = directory->register_gateway({"gw-b", "ws://b/v1/ws", 5}, 30);
  EXPECT_TRUE(directory->keep_alive(lease_b));

  let_expire(lease_a, "gw-a");
  EXPECT_FALSE(listed("gw-a")) << "a gateway that stopped renewing its lease is gone";
  EXPECT_FALSE(directory->keep_alive(lease_a));
  EXPECT_EQ(directory->best_gateway()->name, "gw-b");

  directory->deregister(lease_b);
  EXPECT_TRUE(directory->gateways().empty());
}

TEST_P(DirectoryTest, ARegistrationReplacesTheGatewaysOldEntry) {
  directory->register_gateway({"gw-a", "ws://old/v1/ws", 7}, 30);
  directory->register_gateway({"gw-a", "ws://new/v1/ws", 0}, 30);
  ASSERT_EQ(directory->gateways().size(), 1u);
  EXPECT_EQ(directory->gateways().front().url, "ws://new/v1/ws");
}

INSTANTIATE_TEST_SUITE_P(Directories, DirectoryTest, ::testing::Values("etcd", "memory"),
                         [](const auto& test) { return test.param; });

}  // namespace
