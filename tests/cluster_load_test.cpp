// `parley load --discover` against a three-node cluster on a real etcd (docs/load.md,
// "Through a cluster"; docs/cluster.md, "Tested"): 60 connections spread over the gateways
// /v1/discover names send 1:1 traffic while, one after the other and each restarted, the
// leader node is killed (SIGKILL), then a node that is only a gateway at that moment, then
// etcd's raft leader. Connections that die reconnect through discovery with their cursor and
// resend unacked sends under their clientMsgId. After the drain, the load's own accounting
// must show every acked message delivered exactly once to its recipient, in inbox order,
// with no gap, and the three replicas must reach one applied index with one digest.
// Nothing is timed: the faults follow the load's progress, and the outcome is counted.
#include <fstream>

#include "tests/cluster_harness.hpp"

namespace parley::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// Whether the load has started its send phase (its progress lines on stderr say so).
bool sending(const std::string& log_path) {
  const std::string log = read_file(log_path);
  return log.find("] send ") != std::string::npos || log.find("] drain ") != std::string::npos;
}

TEST(ClusterLoad, ParleyLoadThroughDiscoveryLosesAndDoublesNothingAcrossKills) {
  EtcdCluster etcd;
  Cluster cluster(etcd);
  const auto first_leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(first_leader) << "no leader within 30 s" << cluster.logs();
  // The load asks a follower; when that node is killed, the gateways it named before.
  const std::size_t asked = (*first_leader + 1) % cluster.size();
  ASSERT_TRUE(poll_for([&] { return get_json(cluster.port(asked), "/v1/discover"); }));

  TempDir dir("parley-cluster-load");
  const std::string out = dir.path() + "/load.json";
  const std::string err = dir.path() + "/load.log";
  const pid_t load = spawn_process(
      {"/bin/sh", "-c",
       std::string("exec ") + PARLEY_BINARY +
           " load --server 127.0.0.1:" + std::to_string(cluster.port(asked)) +
           " --discover --connections 60 --rate 150 --duration 24 --idle 0 --drain 60 >" + out},
      err);
  ASSERT_TRUE(poll_for([&] { return sending(err) ? std::optional<bool>(true) : std::nullopt; }))
      << read_file(err);

  const auto pause = [](int ms) { std::this_thread::sleep_for(milliseconds(ms)); };
  pause(4000);
  const auto leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(leader) << cluster.logs();
  cluster.kill(*leader);
  pause(4000);
  cluster.restart(*leader);
  pause(3000);
  // A node that does not lead now: a gateway for the connections discovery gave it.
  const auto now_leading = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(now_leading) << cluster.logs();
  const std::size_t gateway = (*now_leading + 1) % cluster.size();
  cluster.kill(gateway);
  pause(3000);
  cluster.restart(gateway);
  pause(3000);
  const std::size_t etcd_leader = etcd.leader();
  ASSERT_LT(etcd_leader, EtcdCluster::kMembers);
  etcd.kill(etcd_leader);
  pause(3000);
  etcd.start(etcd_leader);

  int status = 0;
  waitpid(load, &status, 0);
  const std::string report_text = read_file(out);
  ASSERT_FALSE(report_text.empty()) << read_file(err);
  const auto report = parse(report_text);
  const auto count = [&](const char* key) { return report.at(key).to_number<std::uint64_t>(); };
  std::printf(
      "parley load through discovery: sent %llu, delivered %llu, %llu duplicate acks, "
      "%llu reconnects\n",
      static_cast<unsigned long long>(count("sent")),
      static_cast<unsigned long long>(count("delivered")),
      static_cast<unsigned long long>(count("duplicate_acks")),
      static_cast<unsigned long long>(count("reconnects")));
  EXPECT_GT(count("sent"), 1000u);
  EXPECT_EQ(count("acked"), count("sent")) << "every message acked once";
  EXPECT_EQ(count("delivered"), count("expected_deliveries")) << "every acked message delivered";
  EXPECT_EQ(count("redelivered"), 0u) << "no message delivered twice";
  EXPECT_EQ(count("out_of_order"), 0u) << "inbox entries in order, gap-free";
  EXPECT_EQ(count("errors"), 0u) << report_text;
  EXPECT_GT(count("reconnects"), 0u) << "the kills reached no connection: the test tests nothing";
  EXPECT_TRUE(report.at("complete").as_bool()) << report_text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(err);

  const auto statuses = poll_for([&]() -> std::optional<std::vector<NodeStatus>> {
    auto round = converged(cluster);
    if (!round) return std::nullopt;
    for (const NodeStatus& node : *round)
      if (node.digest != round->front().digest) return std::nullopt;
    return round;
  });
  ASSERT_TRUE(statuses) << "the replicas did not reach one state" << cluster.logs();
  EXPECT_EQ(statuses->size(), cluster.size());
}

}  // namespace
}  // namespace parley::testing
