// The harness of the cluster tests with real processes (tests/cluster_*_test.cpp): a real
// etcd (tests/etcd_cluster.hpp), `parley serve --etcd ...` nodes kept across kills and
// restarts, clients that reconnect the way an app does (/v1/discover on any live node, hello
// with the cursor, resend every unacked send under its client_msg_id), and the checks every
// such test makes: each message stored once, in order; the replicas end with one state.
// Nothing here is timed: elections and catch-ups are polled for, up to 30 s.
#pragma once

#include <cstdio>
#include <map>
#include <optional>
#include <set>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_log.hpp"
#include "tests/etcd_cluster.hpp"
#include "tests/node_process.hpp"

namespace parley::testing {

using namespace parley::engine;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
inline std::string text_of(int index) {
  return "message " + std::to_string(index);
}

// Cluster nodes n1, n2, ... on one etcd, node i with `extra[i]` besides the cluster flags
// (default: three nodes of role both). Each NodeProcess keeps its data directory across a
// SIGKILL and start(); a restarted node listens on a new port, so callers ask live_ports().
class Cluster {
 public:
  explicit Cluster(const EtcdCluster& etcd,
                   const std::vector<std::vector<std::string>>& extra = {{}, {}, {}}) {
    std::string endpoints;
    for (const auto& endpoint : etcd.endpoints())
      endpoints += (endpoints.empty() ? "" : ",") + endpoint;
    for (std::size_t i = 0; i < extra.size(); ++i) {
      // A short lease keeps the failover (and the test) short; the nodes run the cheap
      // password hashes and the open login throttle NodeProcess adds.
      std::vector<std::string> args{
          "--etcd", endpoints, "--node-name", "n" + std::to_string(i + 1), "--lease-ttl-s", "2"};
      args.insert(args.end(), extra[i].begin(), extra[i].end());
      nodes_.push_back(std::make_unique<NodeProcess>(std::move(args)));
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
  const std::string& dir(std::size_t i) const { return nodes_[i]->dir(); }
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
inline std::optional<boost::json::object> get_json(std::uint16_t port, const std::string& target) {
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
inline std::optional<Endpoint> parse_ws_url(const std::string& url) {
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
inline std::optional<Endpoint> discover(const std::vector<std::uint16_t>& ports) {
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
inline net::HttpResult post_to_leader(const Cluster& cluster, const std::string& target,
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
inline net::HttpResult post_to_node(const Cluster& cluster, std::size_t node,
                                    const std::string& target, const std::string& body) {
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
inline Account sign_up_and_log_in(const Cluster& cluster, const std::string& name,
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
inline std::optional<std::size_t> leader_index(const Cluster& cluster) {
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
    if (std::exchange(resend_due_, false)) resend_pending();
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
      // `overloaded` (a queue past its delay bound, as a new leader's can be while it catches
      // up on a busy machine, or a node shutting down) changed nothing: resend on this
      // connection at the next poll, as an app backs off. `not_leader` (a node that stopped
      // leading) changed nothing either: resend elsewhere.
      if (failure->code == ErrorCode::overloaded) {
        resend_due_ = true;
        return;
      }
      if (failure->code != ErrorCode::not_leader) {
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
  bool resend_due_ = false;  // an `overloaded` refusal: resend the unacked at the next poll
};

// Bob's inbox as he received it: every message exactly once, inbox and channel seqs gap-free
// and in order, each where its SendAck said it was stored.
inline void expect_each_message_once(const ChatClient& bob, const ChatClient& alice, int messages) {
  ASSERT_EQ(bob.entries.size(), static_cast<std::size_t>(messages));
  std::set<std::string> seen;
  std::set<std::string> expected;
  for (int i = 0; i < messages; ++i)
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

// Where a chat stands, for a failure message: acks, deliveries, each client's last error
// and the tail of every node's log.
inline std::string chat_progress(const ChatClient& alice, const ChatClient& bob,
                                 const Cluster& cluster) {
  return "acked " + std::to_string(alice.acks.size()) + ", bob received " +
         std::to_string(bob.entries.size()) + "; alice: " + alice.last_error +
         "; bob: " + bob.last_error + cluster.logs();
}

struct NodeStatus {
  std::uint64_t applied = 0;
  std::string role;
  std::string leader;
  std::string digest;
};

// One round of /v1/cluster on every replica (gateways hold none), if all answered at one
// applied index and name one leader. The leader may still be appending (the clients'
// disconnects, say), so a round can straddle an append: the caller polls for a round that
// does not.
inline std::optional<std::vector<NodeStatus>> converged(const Cluster& cluster) {
  std::vector<NodeStatus> round;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const auto json = get_json(cluster.port(i), "/v1/cluster");
    if (!json) return std::nullopt;
    if (json->at("role").as_string() == "gateway") continue;
    round.push_back({json->at("applied_index").to_number<std::uint64_t>(),
                     std::string(json->at("role").as_string()),
                     std::string(json->at("leader").as_string()),
                     std::string(json->at("state_digest").as_string())});
    if (round.back().applied != round[0].applied || round.back().leader != round[0].leader) {
      return std::nullopt;
    }
  }
  if (round.empty()) return std::nullopt;
  if (round[0].leader.empty()) return std::nullopt;
  return round;
}

}  // namespace parley::testing
