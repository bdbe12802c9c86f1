// Authorization and abuse against a real node: every rule refused with its documented error
// and nothing changed; floods bounded while well-behaved clients are served; a store that
// cannot grow stops the node cleanly and loses nothing acked.
#include <boost/asio.hpp>
#include <set>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using namespace parley::engine;

ErrorCode failure_code(const server::Event& event) {
  const auto* failure = std::get_if<server::Failure>(&event);
  EXPECT_NE(failure, nullptr) << "expected an error";
  return failure ? failure->code : ErrorCode::bad_request;
}

class Authorization : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"alice", "bob", "eve"})
      sign_up(node, name);
    alice = log_in(node, "alice");
    bob = log_in(node, "bob");
    eve = log_in(node, "eve");
  }
  NodeProcess node;
  Account alice, bob, eve;
};

TEST_F(Authorization, OutsidersCannotReadOrPostAndChangeNothing) {
  Device a(node, alice);
  Device e(node, eve);
  const ChannelId pair = a.send_message(0, bob.user, "secret", "just for bob").channel;
  RequestId id = e.next_request();
  e.send(client::Send{id, pair, 0, "intrude", "let me in"});
  EXPECT_EQ(failure_code(e.reply(id)), ErrorCode::not_a_member);
  id = e.next_request();
  e.send(client::History{id, pair, 0, 50});
  EXPECT_EQ(failure_code(e.reply(id)), ErrorCode::not_a_member);
  // Nothing was stored: alice's next message is seq 2.
  EXPECT_EQ(a.send_message(pair, 0, "next", "still private").seq, 2u);
  e.settle(200);
  EXPECT_TRUE(e.entries.empty()) << "eve never receives the pair's messages";
}

TEST_F(Authorization, OnlyTheAdminChangesMembershipAndRemovedMembersReadNoFurther) {
  Device a(node, alice);
  Device b(node, bob);
  RequestId id = a.next_request();
  a.send(client::CreateGroup{id, "club", {bob.user}});
  const ChannelId group = std::get<server::GroupCreated>(a.reply(id)).channel;
  id = b.next_request();
  b.send(client::AddMember{id, group, eve.user});
  EXPECT_EQ(failure_code(b.reply(id)), ErrorCode::not_admin);
  id = b.next_request();
  b.send(client::RemoveMember{id, group, alice.user});
  EXPECT_EQ(failure_code(b.reply(id)), ErrorCode::not_admin);
  id = a.next_request();
  a.send(client::RemoveMember{id, group, bob.user});
  EXPECT_TRUE(std::holds_alternative<server::Ok>(a.reply(id)));
  a.send_message(group, 0, "after", "said after bob left");
  id = b.next_request();
  b.send(client::History{id, group, 0, 100});
  const auto page = std::get<server::HistoryPage>(b.reply(id));
  for (const auto& message : page.messages)
    EXPECT_NE(message.text, "said after bob left");
  id = b.next_request();
  b.send(client::Send{id, group, 0, "back", "can I post?"});
  EXPECT_EQ(failure_code(b.reply(id)), ErrorCode::not_a_member);
}

TEST_F(Authorization, PresenceOfNonFriendsIsNotVisible) {
  Device e(node, eve);
  const RequestId id = e.next_request();
  e.send(client::QueryPresence{id, {alice.user}});
  EXPECT_EQ(failure_code(e.reply(id)), ErrorCode::not_visible);
}

TEST_F(Authorization, TokensAndDevicesBelongToTheirUser) {
  // Logging in "as" another user's device is refused.
  const auto stolen = node.http().request(
      "POST", "/v1/login",
      R"({"name":"eve","password":"correct horse","device":)" + std::to_string(alice.device) + "}");
  EXPECT_EQ(stolen.status, 400);
  EXPECT_NE(stolen.body.find("unknown_device"), std::string::npos);
  // A revoked token no longer works, for HTTP or WebSocket.
  EXPECT_EQ(node.http().request("POST", "/v1/logout", "", eve.token).status, 200);
  EXPECT_EQ(node.http().request("GET", "/v1/contacts", "", eve.token).status, 401);
  net::WsClient ws("127.0.0.1", node.port());
  try {
    ws.connect(eve.token);
    ADD_FAILURE() << "a revoked token must be refused";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 401);
  }
  // A push token registers for the connection's own device only: bob's registration never
  // touches alice's devices (the frame cannot name a device).
  Device b(node, bob);
  const RequestId id = b.next_request();
  b.send(client::RegisterPushToken{id, "fcm", "bob-token"});
  EXPECT_TRUE(std::holds_alternative<server::Ok>(b.reply(id)));
}

TEST(Abuse, FloodFromOneAddressIsBoundedWhileOthersAreServed) {
  NodeProcess node({"--max-connections-per-address", "20", "--handshake-timeout-ms", "500"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  // 60 connections from 127.0.0.3, half of them slow-loris (a partial request, then silence).
  boost::asio::io_context io;
  std::vector<boost::asio::ip::tcp::socket> flood;
  for (int i = 0; i < 60; ++i) {
    boost::asio::ip::tcp::socket socket(io);
    socket.open(boost::asio::ip::tcp::v4());
    socket.bind({boost::asio::ip::make_address("127.0.0.3"), 0});
    boost::system::error_code ec;
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), node.port()}, ec);
    if (!ec && i % 2 == 0)
      boost::asio::write(socket, boost::asio::buffer(std::string("GET /v1/pro")), ec);
    flood.push_back(std::move(socket));
  }
  // Meanwhile alice and bob, from 127.0.0.1, chat as usual.
  Device a(node, alice);
  Device b(node, bob);
  for (int i = 0; i < 20; ++i)
    a.send_message(0, bob.user, "m" + std::to_string(i), "still here");
  b.receive_until(20);
  EXPECT_EQ(b.entries.size(), 20u);
  const auto metrics = node.http().request("GET", "/metrics").body;
  const std::string name = "\nparley_connections_refused_total ";
  const auto at = metrics.find(name);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoi(metrics.substr(at + name.size())), 40) << metrics;
  // The slow-loris connections are dropped after the handshake timeout, freeing slots.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  boost::asio::ip::tcp::socket late(io);
  late.open(boost::asio::ip::tcp::v4());
  late.bind({boost::asio::ip::make_address("127.0.0.3"), 0});
  late.connect({boost::asio::ip::make_address("127.0.0.1"), node.port()});
  boost::asio::write(late,
                     boost::asio::buffer(std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")));
  char reply[12] = {};
  boost::asio::read(late, boost::asio::buffer(reply, sizeof reply));
  EXPECT_EQ(std::string(reply, 12), "HTTP/1.1 200");
}

TEST(Abuse, AStoreThatCannotGrowStopsTheNodeCleanlyAndLosesNothingAcked) {
  // The map may not grow past 1 MiB: a stand-in for a full disk that a test can arrange.
  NodeProcess node({"--initial-map-mib", "1", "--max-map-mib", "1", "--rate-limit-burst", "5000"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  std::vector<std::string> acked;
  {
    Device a(node, alice);
    const std::string big(20'000, 'z');
    // One message at a time, each acked before the next, until the node stops.
    try {
      for (int i = 0; i < 200; ++i) {
        const std::string id = "fill-" + std::to_string(i);
        const RequestId request = a.next_request();
        a.send(client::Send{request, 0, bob.user, id, big + id});
        std::optional<server::Event> answer;
        for (int wait = 0; wait < 100 && !answer; ++wait) {
          auto event = a.client().receive(50);
          if (event && std::holds_alternative<server::SendAck>(*event)) answer = event;
        }
        if (!answer) break;
        acked.push_back(id);
      }
    } catch (const net::ConnectionClosed&) {
    }
  }
  EXPECT_EQ(node.wait_exit(10000), 70) << node.log();
  EXPECT_NE(node.log().find("fatal:"), std::string::npos) << node.log();
  EXPECT_LT(acked.size(), 200u) << "the store should have filled up";
  // Restarted with room to grow, the store holds every acked message, once.
  node.restart_with({"--max-map-mib", "64"});
  Device b(node, bob);
  b.receive_until(acked.size(), 20000);
  b.settle();
  std::set<std::string> received;
  for (const auto& entry : b.entries) {
    EXPECT_TRUE(received.insert(entry.message.client_msg_id).second) << entry.message.client_msg_id;
    EXPECT_EQ(entry.message.text, std::string(20'000, 'z') + entry.message.client_msg_id);
  }
  for (const auto& id : acked)
    EXPECT_TRUE(received.contains(id)) << "acked " << id << " is lost";
}

}  // namespace
}  // namespace parley::testing
