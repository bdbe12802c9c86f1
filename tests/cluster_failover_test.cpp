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
#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_log.hpp"
#include "tests/etcd_cluster.hpp"
#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using namespace parley::engine;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

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

std::string text_of(int index) {
  return "message " + std::to_string(index);
}

// Three cluster nodes on one etcd. Each NodeProcess keeps its data directory across a
// SIGKILL and start(); a restarted node listens on a new port, so callers ask live_ports().
class Cluster {
 public:
  explicit Cluster(const EtcdCluster& etcd) {
    std::string endpoints;
    for (const auto& endpoint : etcd.endpoints())
      endpoints += (endpoints.empty() ? "" : ",") + endpoint;
    for (int i = 1; i <= 3; ++i) {
      // A short lease keeps the failover (and the test) short; the nodes run the cheap
      // password hashes and the open login throttle NodeProcess adds.
      nodes_.push_back(std::make_unique<NodeProcess>(std::vector<std::string>{
          "--etcd", endpoints, "--node-name", "n" + std::to_string(i), "--lease-ttl-s", "2"}));
      alive_.push_back(true);
    }
  }

  std::size_t size() const { return nodes_.size(); }
  bool alive(std::size_t i) const { return alive_[i]; }
  std::uint16_t port(std::size_t i) const { return nodes_[i]->port(); }
  std::vector<std::uint16_t> live_ports() const {
    std::vector<std::uint16_t> out;
    for (std::size_t i = 0; i < size(); ++i)
      if (alive_[i]) out.push_back(port(i));
    return out;
  }
  void kill(std::size_t i) {
    nodes_[i]->stop(SIGKILL);
    alive_[i] = false;
  }
  // SIGTERM: the node's exit status.
  int terminate(std::size_t i) {
    alive_[i] = false;
    return nodes_[i]->stop(SIGTERM);
  }
  std::string log(std::size_t i) const { return nodes_[i]->log(); }
  void restart(std::size_t i) {
    nodes_[i]->start();
    alive_[i] = true;
  }
  // The tail of every node's log, for a failure message.
  std::string logs() const {
    std::string out;
    for (std::size_t i = 0; i < size(); ++i) {
      const std::string log = nodes_[i]->log();
      out += "\n--- n" + std::to_string(i + 1) + " ---\n" +
             log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<NodeProcess>> nodes_;
  std::vector<bool> alive_;
};

// Polls `found` every 100 ms until it gives a value, for up to 30 s (then an empty one):
// elections and catch-ups are waited for, never timed.
template <typename Found>
auto poll_for(Found found) -> decltype(found()) {
  const auto deadline = Clock::now() + seconds(30);
  for (;;) {
    if (auto value = found()) return value;
    if (Clock::now() >= deadline) return {};
    std::this_thread::sleep_for(milliseconds(100));
  }
}

// GET on a node; nothing when it does not answer (killed, or not listening yet).
std::optional<boost::json::object> get_json(std::uint16_t port, const std::string& target) {
  try {
    const auto result = net::HttpClient("127.0.0.1", port).request("GET", target);
    if (result.status != 200) return std::nullopt;
    return parse(result.body);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

// "ws://HOST:PORT/v1/ws" -> HOST and PORT; nothing for anything else.
std::optional<Endpoint> parse_ws_url(const std::string& url) {
  char host[64] = {};
  unsigned port = 0;
  if (std::sscanf(url.c_str(), "ws://%63[^:/]:%u/", host, &port) != 2 || port == 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return Endpoint{host, static_cast<std::uint16_t>(port)};
}

// The leader's WebSocket endpoint as the first live node that knows one names it; nothing
// while no live node knows a leader (they answer 503 not_leader).
std::optional<Endpoint> discover(const std::vector<std::uint16_t>& ports) {
  for (const std::uint16_t port : ports) {
    const auto json = get_json(port, "/v1/discover");
    const auto* url = json ? json->if_contains("websocket") : nullptr;
    if (url == nullptr || !url->is_string()) continue;
    if (auto endpoint = parse_ws_url(std::string(url->as_string()))) return endpoint;
  }
  return std::nullopt;
}

// POST to the leader, retried while leadership settles: a 503 (not_leader) changed nothing
// and a refused connection reached nobody. Any other answer is returned.
net::HttpResult post_to_leader(const Cluster& cluster, const std::string& target,
                               const std::string& body) {
  const auto answer = poll_for([&]() -> std::optional<net::HttpResult> {
    const auto leader = discover(cluster.live_ports());
    if (!leader) return std::nullopt;
    try {
      auto result = net::HttpClient(leader->host, leader->port).request("POST", target, body);
      if (result.status != 503) return result;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  });
  return answer.value_or(net::HttpResult{0, "no leader answered within 30 s"});
}

// POST to one node, whatever its role: a follower relays it to the leader. Retried while a
// 503 says no leader is known to that node yet (nothing was done).
net::HttpResult post_to_node(const Cluster& cluster, std::size_t node, const std::string& target,
                             const std::string& body) {
  const auto answer = poll_for([&]() -> std::optional<net::HttpResult> {
    try {
      auto result = net::HttpClient("127.0.0.1", cluster.port(node)).request("POST", target, body);
      if (result.status != 503) return result;
    } catch (const std::exception&) {
    }
    return std::nullopt;
  });
  return answer.value_or(net::HttpResult{0, "the node gave no answer but 503 within 30 s"});
}

// Through the leader, or with `via` through that node.
Account sign_up_and_log_in(const Cluster& cluster, const std::string& name,
                           std::optional<std::size_t> via = {}) {
  const std::string credentials = R"({"name":")" + name + R"(","password":"correct horse")";
  const auto post = [&](const std::string& target, const std::string& body) {
    return via ? post_to_node(cluster, *via, target, body) : post_to_leader(cluster, target, body);
  };
  const auto signed_up = post("/v1/signup", credentials + "}");
  EXPECT_EQ(signed_up.status, 201) << signed_up.body;
  const auto logged_in = post("/v1/login", credentials + R"(,"device_label":"test"})");
  EXPECT_EQ(logged_in.status, 200) << logged_in.body;
  if (logged_in.status != 200) return {};
  const auto json = parse(logged_in.body);
  return {json.at("user").to_number<UserId>(), json.at("device").to_number<DeviceId>(),
          std::string(json.at("token").as_string())};
}

// The node (by index) that says it leads (/v1/cluster), if one does.
std::optional<std::size_t> leader_index(const Cluster& cluster) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (!cluster.alive(i)) continue;
    const auto json = get_json(cluster.port(i), "/v1/cluster");
    const auto* role = json ? json->if_contains("role") : nullptr;
    if (role != nullptr && role->is_string() && role->as_string() == "leader") return i;
  }
  return std::nullopt;
}

// One device as an app runs it: a WebSocket to whichever node leads, rebuilt after any
// failure (re-discover, connect, hello with the cursor, resend what has no SendAck yet),
// acking every delivery so the cursor it sends in hello is what it has stored.
class ChatClient {
 public:
  // `via`: a node to connect through whatever it is (a follower relays to the leader as a
  // gateway); none: the leader /v1/discover names.
  ChatClient(const Cluster& cluster, Account account, std::optional<std::size_t> via = {})
      : cluster_(cluster), account_(std::move(account)), via_(via) {}

  // Hands message `index` to the client: sent now, or after the next reconnect.
  void send(int index, UserId peer) {
    const RequestId id = ++last_request_;
    requests_[id] = index;
    pending_[index] = id;
    peer_ = peer;
    write(client::Send{id, 0, peer, "m" + std::to_string(index), text_of(index)});
  }

  // Connects if needed, then handles what arrives within `wait_ms`. A failure drops the
  // connection; the next poll reconnects.
  void poll(int wait_ms) {
    if (!ws_ && !reconnect()) {
      std::this_thread::sleep_for(milliseconds(100));  // no leader yet: back off a little
      return;
    }
    try {
      // Bounded so that a steady stream cannot starve the other client.
      for (int i = 0; i < 100 && ws_; ++i) {
        auto event = ws_->receive(i == 0 ? wait_ms : 1);
        if (!event) break;
        handle(*event);
      }
    } catch (const std::exception& error) {
      drop(error.what());
    }
  }

  // Without a close handshake, which could not run beside the read poll() leaves pending;
  // the leader sees the disconnect all the same.
  void close() { drop("closed by the test"); }

  std::size_t in_flight() const { return pending_.size(); }

  std::map<int, server::SendAck> acks;  // by message index: the first ack
  // Every SendAck (duplicates included): when, and on which connection.
  std::vector<std::pair<Clock::time_point, int>> ack_times;
  std::vector<InboxEntry> entries;                // every delivery, in arrival order
  std::vector<Clock::time_point> delivery_times;  // of every Deliver frame
  int duplicates = 0;                             // acks with `duplicate` set
  int connections = 0;                            // established so far: the current one's number
  std::string last_error;

 private:
  bool reconnect() {
    const auto leader = via_ && cluster_.alive(*via_)
                            ? std::optional<Endpoint>(Endpoint{"127.0.0.1", cluster_.port(*via_)})
                            : discover(cluster_.live_ports());
    if (!leader) return false;
    try {
      ws_ = std::make_unique<net::WsClient>(leader->host, leader->port);
      ws_->connect(account_.token);  // a follower refuses the upgrade: 503 not_leader
      ws_->send(net::Hello{1, cursor_});
      const auto deadline = Clock::now() + seconds(5);
      while (ws_ && Clock::now() < deadline) {
        auto event = ws_->receive(100);
        if (!event) continue;
        if (std::holds_alternative<server::Welcome>(*event)) {
          ++connections;
          resend_pending();
          return true;
        }
        handle(*event);
      }
      drop("no welcome");
    } catch (const std::exception& error) {
      drop(error.what());
    }
    return false;
  }

  // Same client_msg_id, new request id: the server answers a stored one with the
  // original's ack, `duplicate` set.
  void resend_pending() {
    const auto unacked = pending_;
    for (const auto& [index, old_request] : unacked) {
      requests_.erase(old_request);
      send(index, peer_);
    }
  }

  void handle(const server::Event& event) {
    if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      for (const auto& entry : deliver->entries) {
        entries.push_back(entry);
        cursor_ = std::max(cursor_, entry.inbox_seq);
      }
      delivery_times.push_back(Clock::now());
      write(client::Ack{cursor_});
    } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
      const auto request = requests_.find(ack->request);
      if (request == requests_.end()) return;  // an ack to a request resent since
      const int index = request->second;
      ack_times.push_back({Clock::now(), connections});
      duplicates += ack->duplicate ? 1 : 0;
      const auto [first, inserted] = acks.emplace(index, *ack);
      if (!inserted) {
        EXPECT_EQ(first->second.seq, ack->seq) << "m" << index << " acked at two seqs";
      }
      pending_.erase(index);
    } else if (const auto* failure = std::get_if<server::Failure>(&event)) {
      // `overloaded` (a node shutting down or full) and `not_leader` (a node that stopped
      // leading) changed nothing: resend elsewhere.
      if (failure->code != ErrorCode::overloaded && failure->code != ErrorCode::not_leader) {
        ADD_FAILURE() << "request " << failure->request << ": " << to_string(failure->code) << " "
                      << failure->message;
      }
      drop("failure " + std::string(to_string(failure->code)));
    }
  }

  void write(const net::ClientFrame& frame) {
    if (!ws_) return;
    try {
      ws_->send(frame, net::Encoding::json);
    } catch (const std::exception& error) {
      drop(error.what());
    }
  }

  void drop(const std::string& why) {
    last_error = why;
    if (ws_) ws_->abort();
    ws_.reset();
  }

  const Cluster& cluster_;
  Account account_;
  std::unique_ptr<net::WsClient> ws_;
  InboxSeq cursor_ = 0;                // the last inbox entry received (and acked)
  RequestId last_request_ = 1;         // 1 is hello's
  std::map<RequestId, int> requests_;  // a send's request id -> message index
  std::map<int, RequestId> pending_;   // unacked message index -> its latest request id
  UserId peer_ = 0;
  std::optional<std::size_t> via_;
};

// Bob's inbox as he received it: every message exactly once, inbox and channel seqs gap-free
// and in order, each where its SendAck said it was stored.
void expect_each_message_once(const ChatClient& bob, const ChatClient& alice) {
  ASSERT_EQ(bob.entries.size(), static_cast<std::size_t>(kMessages));
  std::set<std::string> seen;
  std::set<std::string> expected;
  for (int i = 0; i < kMessages; ++i)
    expected.insert("m" + std::to_string(i));
  const Message& first = bob.entries.front().message;
  for (std::size_t i = 0; i < bob.entries.size(); ++i) {
    const InboxEntry& entry = bob.entries[i];
    const std::string& id = entry.message.client_msg_id;
    EXPECT_EQ(entry.inbox_seq, i + 1) << "inbox seqs distinct, in order, gap-free";
    EXPECT_EQ(entry.message.channel, first.channel);
    EXPECT_EQ(entry.message.seq, first.seq + i) << "channel seqs strictly increasing, gap-free";
    EXPECT_TRUE(seen.insert(id).second) << id << " stored twice";
    if (!expected.contains(id)) continue;
    const int index = std::stoi(id.substr(1));
    EXPECT_EQ(entry.message.text, text_of(index));
    const auto ack = alice.acks.find(index);
    if (ack != alice.acks.end()) {
      EXPECT_EQ(ack->second.seq, entry.message.seq) << id << ": acked at another seq";
    }
  }
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(seen, expected);
}

struct NodeStatus {
  std::uint64_t applied = 0;
  std::string role;
  std::string leader;
  std::string digest;
};

// One round of /v1/cluster on every node, if all three answered at one applied index and
// name one leader. The leader may still be appending (the clients' disconnects, say), so a
// round can straddle an append: the caller polls for a round that does not.
std::optional<std::vector<NodeStatus>> converged(const Cluster& cluster) {
  std::vector<NodeStatus> round;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const auto json = get_json(cluster.port(i), "/v1/cluster");
    if (!json) return std::nullopt;
    round.push_back({json->at("applied_index").to_number<std::uint64_t>(),
                     std::string(json->at("role").as_string()),
                     std::string(json->at("leader").as_string()),
                     std::string(json->at("state_digest").as_string())});
    if (round[i].applied != round[0].applied || round[i].leader != round[0].leader) {
      return std::nullopt;
    }
  }
  if (round[0].leader.empty()) return std::nullopt;
  return round;
}

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
    ASSERT_LT(Clock::now(), deadline)
        << "acked " << alice.acks.size() << ", bob received " << bob.entries.size()
        << "; alice: " << alice.last_error << "; bob: " << bob.last_error << cluster.logs();
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

  expect_each_message_once(bob, alice);
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
