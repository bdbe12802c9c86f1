// Failover of a three-node cluster under a live 1:1 chat (docs/cluster.md): a real etcd, three
// `parley serve --etcd ...` processes, and two clients that reconnect the way an app does —
// /v1/discover on any live node, hello with the cursor, resend every unacked send under its
// client_msg_id; bob goes through a follower, a gateway that relays him to the leader. Mid-chat,
// each restarted later: the leader node (SIGKILL), the etcd member the nodes ask first
// (SIGTERM), etcd's raft leader (SIGKILL), bob's gateway (SIGKILL); at the end a follower
// stops cleanly on SIGTERM. Bob
// keeps his one connection across the leader's death (the gateway re-attaches it). Every
// message must be stored exactly once, and the three replicas must end with the same state.
// Also here: a node behind the log's trimmed start copies a peer's store, then tails.
// The failover time is printed, never asserted: this machine is shared.
#include "tests/cluster_harness.hpp"

namespace parley::testing {
namespace {

// Messages handed to alice's client before each fault: the leader node killed, then
// restarted on its data directory; the etcd member every node asks first stopped (SIGTERM),
// then restarted; etcd's raft leader killed, then restarted; bob's gateway node killed, then
// restarted.
constexpr int kMessages = 90;
constexpr int kKillAt = 15;
constexpr int kRestartAt = 25;
constexpr int kStopEtcdAt = 32;
constexpr int kRestartStoppedEtcdAt = 40;
constexpr int kKillEtcdAt = 48;
constexpr int kRestartEtcdAt = 56;
constexpr int kKillGatewayAt = 64;
constexpr int kRestartGatewayAt = 72;
constexpr std::size_t kWindow = 4;  // sends in flight: the kill catches some unacked

TEST(ClusterFailover, KillingTheLeaderEtcdsLeaderAndAGatewayMidChatLosesAndDoublesNothing) {
  EtcdCluster etcd;
  Cluster cluster(etcd);
  ASSERT_TRUE(poll_for([&] { return discover(cluster.live_ports()); }))
      << "no leader within 30 s" << cluster.logs();
  // Bob goes through a follower, which relays his HTTP calls and his WebSocket to the leader
  // (a gateway): his connection must outlive the leader's death.
  const auto first_leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(first_leader) << cluster.logs();
  const std::size_t gateway = (*first_leader + 1) % cluster.size();
  const Account alice_account = sign_up_and_log_in(cluster, "alice");
  const Account bob_account = sign_up_and_log_in(cluster, "bob", gateway);
  ASSERT_FALSE(alice_account.token.empty() || bob_account.token.empty()) << cluster.logs();
  ChatClient alice(cluster, alice_account);
  ChatClient bob(cluster, bob_account, gateway);

  int next = 0;  // the next message to hand to alice's client
  std::optional<std::size_t> killed;
  bool restarted = false;
  bool etcd_stopped = false;
  bool stopped_etcd_restarted = false;
  std::optional<std::size_t> etcd_killed;
  bool etcd_restarted = false;
  bool gateway_killed = false;
  bool gateway_restarted = false;
  Clock::time_point killed_at;
  int connection_at_kill = 0;
  std::vector<std::pair<std::string, Clock::time_point>> faults;  // for the outage figures
  const auto deadline = Clock::now() + seconds(120);
  while (alice.acks.size() < kMessages || bob.entries.size() < kMessages) {
    ASSERT_LT(Clock::now(), deadline) << chat_progress(alice, bob, cluster);
    while (alice.in_flight() < kWindow && next < kMessages)
      alice.send(next++, bob_account.user);
    if (next >= kKillAt && !killed) {
      killed = poll_for([&] { return leader_index(cluster); });
      ASSERT_TRUE(killed) << "no node says it leads" << cluster.logs();
      cluster.kill(*killed);  // SIGKILL: no goodbye to clients, peers or etcd
      killed_at = Clock::now();
      faults.emplace_back("leader kill", killed_at);
      connection_at_kill = alice.connections;
    }
    if (next >= kRestartAt && killed && !restarted) {
      cluster.restart(*killed);  // the same data directory: it rejoins as a follower
      restarted = true;
    }
    if (next >= kStopEtcdAt && !etcd_stopped) {
      // A graceful stop of the member the nodes' clients ask first: it refuses what is in
      // flight as "the client connection is closing", which they must retry elsewhere.
      etcd.terminate(0);
      etcd_stopped = true;
      faults.emplace_back("etcd member stop", Clock::now());
    }
    if (next >= kRestartStoppedEtcdAt && etcd_stopped && !stopped_etcd_restarted) {
      etcd.start(0);
      stopped_etcd_restarted = true;
    }
    if (next >= kKillEtcdAt && !etcd_killed) {
      etcd_killed = etcd.leader();
      ASSERT_LT(*etcd_killed, EtcdCluster::kMembers) << "no etcd member says it leads";
      etcd.kill(*etcd_killed);  // the log goes on through the other two members
      faults.emplace_back("etcd leader kill", Clock::now());
    }
    if (next >= kRestartEtcdAt && etcd_killed && !etcd_restarted) {
      etcd.start(*etcd_killed);
      etcd_restarted = true;
    }
    if (next >= kKillGatewayAt && !gateway_killed) {
      // Until now bob kept the connection he opened through the gateway, across the leader's
      // death: the gateway re-attached it.
      if (*killed != gateway) {
        EXPECT_EQ(bob.connections, 1)
            << "bob's gateway did not keep his connection: " << bob.last_error << cluster.logs();
      }
      cluster.kill(gateway);  // bob reconnects through /v1/discover
      gateway_killed = true;
      faults.emplace_back("gateway kill", Clock::now());
    }
    if (next >= kRestartGatewayAt && gateway_killed && !gateway_restarted) {
      cluster.restart(gateway);
      gateway_restarted = true;
    }
    alice.poll(20);
    bob.poll(20);
  }
  bob.poll(300);  // anything stored twice would arrive now

  expect_each_message_once(bob, alice, kMessages);
  EXPECT_EQ(alice.acks.size(), static_cast<std::size_t>(kMessages));

  // The failover as alice saw it: from the kill to her first SendAck on a later connection
  // (acks the dead leader sent before dying may still be read from the old socket).
  const auto after = std::find_if(alice.ack_times.begin(), alice.ack_times.end(),
                                  [&](const auto& ack) { return ack.second > connection_at_kill; });
  if (after != alice.ack_times.end()) {
    const auto failover_ms =
        std::chrono::duration_cast<milliseconds>(after->first - killed_at).count();
    std::printf("failover seen by the client: %lld ms (%d duplicate acks, %d+%d connections)\n",
                static_cast<long long>(failover_ms), alice.duplicates, alice.connections,
                bob.connections);
    RecordProperty("failover_ms", static_cast<int>(failover_ms));
  }

  // Each fault's outage as the clients saw it: the longest wait for alice's next SendAck and
  // for bob's next delivery, from the fault until the next fault (bench/RESULTS.md takes
  // medians of these; printed, never asserted).
  faults.emplace_back("end", Clock::now());
  const auto longest_gap = [](const std::vector<Clock::time_point>& times, Clock::time_point from,
                              Clock::time_point to) {
    Clock::time_point previous = from;
    milliseconds longest{0};
    for (const Clock::time_point at : times) {
      if (at < from || at > to) continue;
      longest = std::max(longest, std::chrono::duration_cast<milliseconds>(at - previous));
      previous = at;
    }
    return static_cast<long long>(longest.count());
  };
  std::vector<Clock::time_point> alice_acks;
  for (const auto& [at, connection] : alice.ack_times)
    alice_acks.push_back(at);
  for (std::size_t i = 0; i + 1 < faults.size(); ++i) {
    std::printf("outage after %s: alice's acks %lld ms, bob's deliveries %lld ms\n",
                faults[i].first.c_str(),
                longest_gap(alice_acks, faults[i].second, faults[i + 1].second),
                longest_gap(bob.delivery_times, faults[i].second, faults[i + 1].second));
  }

  // The clients' disconnects are appended too; then every replica must hold the same.
  alice.close();
  bob.close();
  const auto statuses = poll_for([&] { return converged(cluster); });
  ASSERT_TRUE(statuses) << "the replicas did not reach one applied index in 30 s" << cluster.logs();
  for (std::size_t i = 0; i < statuses->size(); ++i) {
    const NodeStatus& status = (*statuses)[i];
    std::printf("n%zu: %s at %llu, digest %s\n", i + 1, status.role.c_str(),
                static_cast<unsigned long long>(status.applied), status.digest.c_str());
    EXPECT_EQ(status.digest.size(), 16u);
    EXPECT_EQ(status.digest, statuses->front().digest) << "n" << i + 1 << " diverged";
  }
  // No node stopped itself on the way (an etcd member going away is no reason to), and a
  // follower stops cleanly on SIGTERM.
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.log(i).find("fatal"), std::string::npos) << "n" << i + 1 << cluster.logs();
  }
  const auto leader = leader_index(cluster);
  const std::size_t follower = leader ? (*leader + 1) % cluster.size() : 0;
  EXPECT_EQ(cluster.terminate(follower), 0) << cluster.logs();
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

// Alice sends messages [from, to) to `peer` and waits for every ack (30 s at most).
void chat(ChatClient& alice, UserId peer, int from, int to) {
  for (int i = from; i < to; ++i)
    alice.send(i, peer);
  const auto deadline = Clock::now() + seconds(30);
  while (alice.in_flight() > 0 && Clock::now() < deadline)
    alice.poll(100);
}

// Every node at one applied index past `after` with one digest, polled for up to 30 s
// (/v1/cluster recomputes at most once a second: an earlier answer may come back meanwhile).
std::optional<std::vector<NodeStatus>> identical(const Cluster& cluster, std::uint64_t after) {
  return poll_for([&]() -> std::optional<std::vector<NodeStatus>> {
    auto round = converged(cluster);
    if (!round || round->front().applied <= after) return std::nullopt;
    for (const NodeStatus& node : *round)
      if (node.digest != round->front().digest) return std::nullopt;
    return round;
  });
}

// A node whose store lies below the log's trimmed start cannot replay the log: at start it
// copies a peer's store (GET /v1/cluster/snapshot, a follower first), then tails the log,
// and ends with the others' applied index and digest. Without the copy it stops (exit 75).
TEST(ClusterSnapshot, ANodeBehindATrimCopiesAPeersStoreThenTails) {
  EtcdCluster etcd;
  Cluster cluster(etcd);
  const auto leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(leader) << cluster.logs();
  const std::size_t behind = (*leader + 1) % cluster.size();
  const Account alice_account = sign_up_and_log_in(cluster, "alice");
  const Account bob_account = sign_up_and_log_in(cluster, "bob");
  ASSERT_FALSE(alice_account.token.empty() || bob_account.token.empty()) << cluster.logs();
  ChatClient alice(cluster, alice_account);
  chat(alice, bob_account.user, 0, 10);
  ASSERT_EQ(cluster.terminate(behind), 0) << cluster.logs();
  chat(alice, bob_account.user, 10, 30);
  // Trim what both running nodes applied, as the leader would if the stopped node's last
  // report did not hold it back. (/v1/cluster answers are up to a second old: wait that.)
  std::this_thread::sleep_for(milliseconds(1500));
  std::uint64_t trimmed_to = UINT64_MAX;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (i == behind) continue;
    const auto json = get_json(cluster.port(i), "/v1/cluster");
    ASSERT_TRUE(json) << cluster.logs();
    trimmed_to = std::min(trimmed_to, json->at("applied_index").to_number<std::uint64_t>());
  }
  cluster::EtcdClient client(etcd.endpoints(), milliseconds(2000));
  cluster::EtcdLog log(client, "/parley/cluster/shard/0/");
  log.trim_below(trimmed_to);
  ASSERT_EQ(log.entry(1), std::nullopt);
  chat(alice, bob_account.user, 30, 40);
  ASSERT_EQ(alice.in_flight(), 0u) << alice.last_error << cluster.logs();

  cluster.restart(behind);
  const auto caught_up = identical(cluster, trimmed_to);
  ASSERT_TRUE(caught_up) << cluster.logs();
  EXPECT_NE(cluster.log(behind).find("cluster: copied "), std::string::npos) << cluster.log(behind);
  // ... and it tails the log from the copy on.
  chat(alice, bob_account.user, 40, 50);
  ASSERT_EQ(alice.in_flight(), 0u) << alice.last_error << cluster.logs();
  const auto tailed = identical(cluster, caught_up->front().applied);
  ASSERT_TRUE(tailed) << cluster.logs();
}

// A node that runs alone has no snapshots to give.
TEST(ClusterSnapshot, ASingleNodeHasNone) {
  NodeProcess alone;
  const auto answer =
      net::HttpClient("127.0.0.1", alone.port()).request("GET", "/v1/cluster/snapshot");
  EXPECT_EQ(answer.status, 404) << answer.body;
}

// `parley client` follows discovery: connected to the leader, which is then killed, it asks
// the gateways it learned at start where to go, reconnects with its cursor and gets every
// message exactly once.
TEST(ClusterClient, TheTerminalClientReconnectsThroughDiscoveryWhenItsNodeDies) {
  EtcdCluster etcd;
  Cluster cluster(etcd);
  const auto leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(leader) << cluster.logs();
  const Account alice_account = sign_up_and_log_in(cluster, "alice");
  const Account bob_account = sign_up_and_log_in(cluster, "bob");
  ASSERT_FALSE(alice_account.token.empty() || bob_account.token.empty()) << cluster.logs();
  ChatClient alice(cluster, alice_account);
  chat(alice, bob_account.user, 0, 5);

  const TempDir dir("parley-client-test");
  const std::string out = dir.path() + "/out.jsonl";
  const std::string err = dir.path() + "/err.log";
  const std::string command =
      std::string(PARLEY_BINARY) +
      " client --server 127.0.0.1:" + std::to_string(cluster.port(*leader)) +
      " --name bob --password 'correct horse' --script --linger-ms 60000" + " <" + "/dev/null >" +
      out + " 2>" + err;
  const pid_t client = spawn_process({"/bin/sh", "-c", "exec " + command}, dir.path() + "/sh.log");
  const auto read = [](const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const auto received = [&](int index) {
    const std::string text = read(out);
    const std::string needle = "\"text\":\"" + text_of(index) + "\"";
    std::size_t count = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
      ++count;
    return count;
  };
  ASSERT_TRUE(poll_for([&] { return received(4) == 1; })) << read(out) << read(err);

  cluster.kill(*leader);
  chat(alice, bob_account.user, 5, 10);
  ASSERT_EQ(alice.in_flight(), 0u) << alice.last_error << cluster.logs();
  const bool all = poll_for([&] { return received(9) >= 1; });
  ::kill(client, SIGKILL);
  ::waitpid(client, nullptr, 0);
  ASSERT_TRUE(all) << read(out) << read(err) << cluster.logs();
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(received(i), 1u) << "message " << i << "\n" << read(out);
  EXPECT_NE(read(err).find("reconnected to"), std::string::npos) << read(err);
}

}  // namespace
}  // namespace parley::testing
