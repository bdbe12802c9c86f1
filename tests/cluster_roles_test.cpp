// `parley serve --role` (docs/cluster.md, "Roles"): two replica-only nodes and one gateway
// on a real etcd. Discovery names only the gateway; the gateway holds no store and relays
// every client call; a replica that follows refuses clients instead of relaying them. Both
// chat clients go through the gateway while the leading replica is killed (SIGKILL) and
// restarted: each message is stored once and in order, both clients keep the one connection
// the gateway re-attaches, and the two replicas end with one state.
#include "tests/cluster_harness.hpp"

namespace parley::testing {
namespace {

constexpr std::size_t kGateway = 2;  // n3; n1 and n2 are replicas
constexpr int kMessages = 40;
constexpr int kKillAt = 12;
constexpr int kRestartAt = 24;
constexpr std::size_t kWindow = 4;

std::string ws_url(std::uint16_t port) {
  return "ws://127.0.0.1:" + std::to_string(port) + "/v1/ws";
}

// /v1/discover on `port` once it names a websocket and lists exactly one gateway.
std::optional<boost::json::object> settled_discovery(std::uint16_t port) {
  return poll_for([&]() -> std::optional<boost::json::object> {
    auto json = get_json(port, "/v1/discover");
    if (!json || !json->contains("gateways") || json->at("gateways").as_array().size() != 1) {
      return std::nullopt;
    }
    return json;
  });
}

TEST(ClusterRoles, AGatewayRelaysEveryClientWhileTheReplicasFailOver) {
  EtcdCluster etcd;
  Cluster cluster(etcd, {{"--role", "replica"}, {"--role", "replica"}, {"--role", "gateway"}});
  const auto first_leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(first_leader) << "no replica leads within 30 s" << cluster.logs();
  ASSERT_NE(*first_leader, kGateway) << "a gateway never campaigns";

  // Every node names the gateway, and only the gateway, to clients.
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const auto discovery = settled_discovery(cluster.port(i));
    ASSERT_TRUE(discovery) << "n" << i + 1 << " lists no single gateway" << cluster.logs();
    EXPECT_EQ(discovery->at("websocket").as_string(), ws_url(cluster.port(kGateway)));
    EXPECT_EQ(discovery->at("gateways").as_array().at(0).as_string(),
              ws_url(cluster.port(kGateway)));
    EXPECT_EQ(discovery->at("leader").as_string(), ws_url(cluster.port(*first_leader)));
  }
  const auto gateway_state = get_json(cluster.port(kGateway), "/v1/cluster");
  ASSERT_TRUE(gateway_state);
  EXPECT_EQ(gateway_state->at("role").as_string(), "gateway");
  EXPECT_EQ(gateway_state->at("serve_role").as_string(), "gateway");
  EXPECT_FALSE(gateway_state->contains("applied_index")) << "a gateway holds no replica";

  // Sign-up and login through the gateway (relayed to the leader).
  const Account alice_account = sign_up_and_log_in(cluster, "alice", kGateway);
  const Account bob_account = sign_up_and_log_in(cluster, "bob", kGateway);
  ASSERT_FALSE(alice_account.token.empty() || bob_account.token.empty()) << cluster.logs();

  // A following replica is no gateway: it refuses a client's call and WebSocket with
  // not_leader rather than relaying them.
  const std::size_t follower = 1 - *first_leader;
  const auto refused =
      net::HttpClient("127.0.0.1", cluster.port(follower))
          .request("POST", "/v1/login", R"({"name":"alice","password":"correct horse"})");
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_NE(refused.body.find("not_leader"), std::string::npos) << refused.body;
  net::WsClient direct("127.0.0.1", cluster.port(follower));
  try {
    direct.connect(bob_account.token);
    ADD_FAILURE() << "a following replica accepted a client's WebSocket";
  } catch (const net::ConnectionClosed& upgrade_refused) {
    EXPECT_EQ(upgrade_refused.code, 503) << upgrade_refused.reason;
    EXPECT_NE(upgrade_refused.reason.find("not_leader"), std::string::npos)
        << upgrade_refused.reason;
  }

  ChatClient alice(cluster, alice_account, kGateway);
  ChatClient bob(cluster, bob_account, kGateway);
  int next = 0;
  std::optional<std::size_t> killed;
  bool restarted = false;
  const auto deadline = Clock::now() + seconds(120);
  while (alice.acks.size() < kMessages || bob.entries.size() < kMessages) {
    ASSERT_LT(Clock::now(), deadline) << chat_progress(alice, bob, cluster);
    while (alice.in_flight() < kWindow && next < kMessages)
      alice.send(next++, bob_account.user);
    if (next >= kKillAt && !killed) {
      killed = poll_for([&] { return leader_index(cluster); });
      ASSERT_TRUE(killed) << "no replica says it leads" << cluster.logs();
      cluster.kill(*killed);
    }
    if (next >= kRestartAt && killed && !restarted) {
      cluster.restart(*killed);
      restarted = true;
    }
    alice.poll(20);
    bob.poll(20);
  }
  bob.poll(300);  // anything stored twice would arrive now
  ASSERT_TRUE(killed && restarted);
  const auto leader_after = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(leader_after) << cluster.logs();
  EXPECT_NE(*leader_after, *killed) << "the other replica took over from the killed leader";
  std::printf("leader n%zu killed; n%zu leads now; %d duplicate acks\n", *killed + 1,
              *leader_after + 1, alice.duplicates);

  expect_each_message_once(bob, alice, kMessages);
  EXPECT_EQ(alice.connections, 1) << "the gateway did not keep alice's connection: "
                                  << alice.last_error << cluster.logs();
  EXPECT_EQ(bob.connections, 1) << "the gateway did not keep bob's connection: " << bob.last_error
                                << cluster.logs();
  EXPECT_FALSE(std::filesystem::exists(cluster.dir(kGateway) + "/data/data.mdb"))
      << "a gateway opened a store";

  alice.close();
  bob.close();
  const auto statuses = poll_for([&] { return converged(cluster); });
  ASSERT_TRUE(statuses) << "the replicas did not reach one applied index" << cluster.logs();
  ASSERT_EQ(statuses->size(), 2u) << "two replicas answer, the gateway is skipped";
  EXPECT_EQ(statuses->at(0).digest, statuses->at(1).digest) << "the replicas diverged";
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    EXPECT_EQ(cluster.log(i).find("fatal"), std::string::npos) << "n" << i + 1 << cluster.logs();
  }
  EXPECT_EQ(cluster.terminate(kGateway), 0) << "the gateway stops cleanly" << cluster.logs();
}

// Behind a TLS proxy every node advertises the proxy's URL, without a port: the nodes reach
// each other at their peer addresses (the listen address by default), so a follower still
// relays its clients' calls and WebSockets to the leader.
TEST(ClusterRoles, NodesBehindATlsProxyReachEachOtherAtTheirPeerAddresses) {
  EtcdCluster etcd;
  const std::string proxy = "wss://chat.example.invalid/v1/ws";
  Cluster cluster(etcd, {{"--public-url", proxy}, {"--public-url", proxy}});
  const auto leader = poll_for([&] { return leader_index(cluster); });
  ASSERT_TRUE(leader) << cluster.logs();
  const std::size_t follower = 1 - *leader;
  const auto discovery = poll_for([&] { return get_json(cluster.port(follower), "/v1/discover"); });
  ASSERT_TRUE(discovery) << cluster.logs();
  EXPECT_EQ(discovery->at("websocket").as_string(), proxy) << "clients get the proxy's URL";

  const Account alice_account = sign_up_and_log_in(cluster, "alice", *leader);
  const Account bob_account = sign_up_and_log_in(cluster, "bob", follower);  // relayed
  ASSERT_FALSE(alice_account.token.empty() || bob_account.token.empty()) << cluster.logs();
  ChatClient alice(cluster, alice_account, *leader);
  ChatClient bob(cluster, bob_account, follower);  // a WebSocket relayed to the leader
  constexpr int kSent = 10;
  for (int i = 0; i < kSent; ++i)
    alice.send(i, bob_account.user);
  const auto deadline = Clock::now() + seconds(60);
  while ((alice.acks.size() < kSent || bob.entries.size() < kSent) && Clock::now() < deadline) {
    alice.poll(20);
    bob.poll(20);
  }
  bob.poll(300);
  expect_each_message_once(bob, alice, kSent);
  EXPECT_EQ(bob.connections, 1) << bob.last_error << cluster.logs();
}

// A role other than both needs a cluster; an unknown role is refused; a cluster node
// listening on every address needs --peer-address. Nothing starts.
TEST(ClusterRoles, ARoleWithoutEtcdOrAnUnknownRoleIsRefused) {
  for (const auto& [args, expected] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--listen", "127.0.0.1:0", "--role", "gateway"}, "--role gateway needs --etcd"},
           {{"--listen", "127.0.0.1:0", "--role", "replica"}, "--role replica needs --etcd"},
           {{"--listen", "127.0.0.1:0", "--role", "leader", "--etcd", "127.0.0.1:1"},
            "--role must be both, gateway or"},
           {{"--listen", "0.0.0.0:0", "--etcd", "127.0.0.1:1"}, "give --peer-address HOST:PORT"},
           {{"--listen", "127.0.0.1:0", "--etcd", "127.0.0.1:1", "--peer-address", "nohost"},
            "--peer-address wants HOST:PORT"}}) {
    TempDir dir;
    std::vector<std::string> command{PARLEY_BINARY, "serve", "--data", dir.path() + "/data"};
    command.insert(command.end(), args.begin(), args.end());
    const pid_t pid = spawn_process(command, dir.path() + "/log");
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 78) << args.at(3);
    std::ifstream in(dir.path() + "/log");
    const std::string log{std::istreambuf_iterator<char>(in), {}};
    EXPECT_NE(log.find(expected), std::string::npos) << log;
    EXPECT_FALSE(std::filesystem::exists(dir.path() + "/data/data.mdb")) << args.at(3);
  }
}

}  // namespace
}  // namespace parley::testing
