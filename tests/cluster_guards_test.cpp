// Start-up guards that keep replicas equal (docs/cluster.md, "Guards";
// net/node/cluster_guards.hpp): a store and a mode that do not match, and engine settings that
// differ from the cluster's, stop the node with 78 and say why, before it applies or serves
// anything.
#include <fstream>

#include "tests/cluster_harness.hpp"

namespace parley::testing {
namespace {

std::string endpoints_of(const EtcdCluster& etcd) {
  std::string endpoints;
  for (const auto& endpoint : etcd.endpoints())
    endpoints += (endpoints.empty() ? "" : ",") + endpoint;
  return endpoints;
}

// Runs `parley serve` on `data` with `extra` until it exits by itself (30 s at most): its exit
// status and its log.
std::pair<int, std::string> serve_until_exit(const std::string& data,
                                             const std::vector<std::string>& extra) {
  TempDir dir("parley-guard");
  std::vector<std::string> command{PARLEY_BINARY, "serve",  "--listen",
                                   "127.0.0.1:0", "--data", data};
  command.insert(command.end(), extra.begin(), extra.end());
  const pid_t pid = spawn_process(command, dir.path() + "/log");
  int status = 0;
  for (int waited = 0; waited < 30'000 && waitpid(pid, &status, WNOHANG) == 0; waited += 20)
    std::this_thread::sleep_for(milliseconds(20));
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    status = -1;
  }
  std::ifstream in(dir.path() + "/log");
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1,
          std::string{std::istreambuf_iterator<char>(in), {}}};
}

TEST(ClusterGuards, AReplicasStoreIsRefusedAsASingleNodeAndASingleNodesAsAReplica) {
  EtcdCluster etcd;
  const std::vector<std::string> cluster_flags{"--etcd", endpoints_of(etcd), "--node-name",
                                               "n1",     "--lease-ttl-s",    "2"};
  // A replica's store: a user signed up through the log.
  auto replica = std::make_unique<NodeProcess>(cluster_flags);
  const std::string replica_data = replica->dir() + "/data";
  ASSERT_TRUE(poll_for([&] { return discover({replica->port()}); })) << replica->log();
  const auto signed_up = replica->http().request("POST", "/v1/signup",
                                                 R"({"name":"alice","password":"correct horse"})");
  ASSERT_EQ(signed_up.status, 201) << signed_up.body;
  ASSERT_EQ(replica->stop(SIGTERM), 0);
  const auto [alone, alone_log] = serve_until_exit(replica_data, {});
  EXPECT_EQ(alone, 78) << alone_log;
  EXPECT_NE(alone_log.find("this store is a cluster replica's"), std::string::npos) << alone_log;
  // The same store under another cluster's prefix: that log is shorter than what it applied.
  std::vector<std::string> elsewhere = cluster_flags;
  elsewhere.insert(elsewhere.end(), {"--cluster-prefix", "/parley/other/"});
  const auto [other, other_log] = serve_until_exit(replica_data, elsewhere);
  EXPECT_EQ(other, 78) << other_log;
  EXPECT_NE(other_log.find("the store belongs to another cluster"), std::string::npos) << other_log;

  // A single node's store, with a user, given to a cluster.
  NodeProcess single;
  ASSERT_EQ(single.http()
                .request("POST", "/v1/signup", R"({"name":"bob","password":"correct horse"})")
                .status,
            201);
  ASSERT_EQ(single.stop(SIGTERM), 0);
  const auto [joined, joined_log] = serve_until_exit(single.dir() + "/data", cluster_flags);
  EXPECT_EQ(joined, 78) << joined_log;
  EXPECT_NE(joined_log.find("this store was written by a single node"), std::string::npos)
      << joined_log;

  // Both stores are untouched: each starts again in its own mode, with its user.
  replica->start();
  EXPECT_TRUE(poll_for([&] { return discover({replica->port()}); })) << replica->log();
  single.start();
  EXPECT_EQ(single.http()
                .request("POST", "/v1/login",
                         R"({"name":"bob","password":"correct horse","device_label":"t"})")
                .status,
            200)
      << single.log();
}

TEST(ClusterGuards, ANodeWithOtherEngineSettingsThanTheClustersRefusesToStart) {
  EtcdCluster etcd;
  const std::vector<std::string> flags{"--etcd", endpoints_of(etcd), "--lease-ttl-s", "2"};
  std::vector<std::string> first = flags;
  first.insert(first.end(), {"--node-name", "n1"});
  NodeProcess recorded(first);  // the first node records the cluster's settings
  ASSERT_TRUE(poll_for([&] { return discover({recorded.port()}); })) << recorded.log();

  TempDir data("parley-guard-data");
  std::vector<std::string> other = flags;
  other.insert(other.end(), {"--node-name", "n2", "--delivery-window", "600"});
  const auto [status, log] = serve_until_exit(data.path() + "/data", other);
  EXPECT_EQ(status, 78) << log;
  EXPECT_NE(log.find("delivery_window=600 (the cluster: 500)"), std::string::npos) << log;
  EXPECT_FALSE(std::filesystem::exists(data.path() + "/data/data.mdb"))
      << "the store was opened before the check";

  // The same settings start.
  std::vector<std::string> same = flags;
  same.insert(same.end(), {"--node-name", "n3"});
  NodeProcess follower(same);
  EXPECT_TRUE(poll_for([&] { return get_json(follower.port(), "/v1/cluster"); })) << follower.log();
}

}  // namespace
}  // namespace parley::testing
