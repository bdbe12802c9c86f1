// The production node end to end: a real `parley serve` on 127.0.0.1 with a fresh data
// directory, real sockets, the C++ client library.
#include <boost/asio.hpp>
#include <set>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using namespace parley::engine;

TEST(Node, SignUpAndChatBothWaysInJsonAndBinary) {
  NodeProcess node;
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  Device a(node, alice, 0, net::Encoding::json);
  Device b(node, bob, 0, net::Encoding::binary);
  const auto first = a.send_message(0, bob.user, "a1", "hello bob \xf0\x9f\x91\x8b");
  const auto second = b.send_message(0, alice.user, "b1", "hi alice");
  EXPECT_EQ(first.channel, second.channel) << "one 1:1 channel whichever side starts";
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(second.seq, 2u);
  a.receive_until(2);
  b.receive_until(2);
  for (Device* device : {&a, &b}) {
    ASSERT_EQ(device->entries.size(), 2u);
    EXPECT_EQ(device->entries[0].message.text, "hello bob \xf0\x9f\x91\x8b");
    EXPECT_EQ(device->entries[1].message.text, "hi alice");
    EXPECT_EQ(device->entries[1].message.sender, bob.user);
  }
}

TEST(Node, BinaryAndJsonFramesReachTheSameEngineBehaviour) {
  NodeProcess node;
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  Device json_device(node, alice, 0, net::Encoding::json);
  Device binary_device(node, log_in(node, "alice"), 0, net::Encoding::binary);
  // The same requests in both encodings give the same answers.
  const auto by_json = json_device.send_message(0, bob.user, "same-id", "once");
  const auto by_binary = binary_device.send_message(0, bob.user, "same-id", "once");
  EXPECT_FALSE(by_json.duplicate);
  EXPECT_TRUE(by_binary.duplicate);
  EXPECT_EQ(by_binary.seq, by_json.seq);
  // Invalid UTF-8 in a binary frame reaches the engine and is refused with invalid_utf8.
  const RequestId id = binary_device.next_request();
  binary_device.send(client::Send{id, 0, bob.user, "bad", std::string("\xff", 1)});
  const auto answer = binary_device.reply(id);
  ASSERT_TRUE(std::holds_alternative<server::Failure>(answer));
  EXPECT_EQ(std::get<server::Failure>(answer).code, ErrorCode::invalid_utf8);
  // In a text frame it is a WebSocket protocol error (RFC 6455): closed with 1007.
  json_device.send(client::Send{id + 1, 0, bob.user, "bad", std::string("\xff", 1)});
  try {
    for (int i = 0; i < 50; ++i)
      json_device.client().receive(100);
    ADD_FAILURE() << "invalid UTF-8 in a text frame must close the connection";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 1007);
  }
  // Nothing was stored from either: the next message is seq 2.
  EXPECT_EQ(binary_device.send_message(0, bob.user, "next", "ok").seq, by_json.seq + 1);
}

TEST(Node, SecondDeviceOfTheSenderSeesTheMessage) {
  NodeProcess node;
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account phone = log_in(node, "alice");
  const Account laptop = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  EXPECT_NE(phone.device, laptop.device);
  Device p(node, phone);
  Device l(node, laptop);
  p.send_message(0, bob.user, "m1", "from my phone");
  l.receive_until(1);
  ASSERT_EQ(l.entries.size(), 1u);
  EXPECT_EQ(l.entries[0].message.text, "from my phone");
  EXPECT_EQ(l.entries[0].message.sender_device, phone.device);
}

TEST(Node, HundredMemberGroupFanout) {
  NodeProcess node;
  std::vector<Account> accounts;
  for (int i = 0; i < 100; ++i) {
    sign_up(node, "member" + std::to_string(i));
    accounts.push_back(log_in(node, "member" + std::to_string(i)));
  }
  std::vector<std::unique_ptr<Device>> devices;
  for (const Account& account : accounts)
    devices.push_back(std::make_unique<Device>(node, account));
  std::vector<UserId> others;
  for (std::size_t i = 1; i < accounts.size(); ++i)
    others.push_back(accounts[i].user);
  const RequestId id = devices[0]->next_request();
  devices[0]->send(client::CreateGroup{id, "all hands", others});
  const auto created = devices[0]->reply(id);
  ASSERT_TRUE(std::holds_alternative<server::GroupCreated>(created));
  const ChannelId group = std::get<server::GroupCreated>(created).channel;
  devices[0]->send_message(group, 0, "hello-all", "hello, all 100 of you");
  for (auto& device : devices) {
    device->receive_until(2);
    ASSERT_EQ(device->entries.size(), 2u);
    EXPECT_EQ(device->entries[0].message.kind, MessageKind::group_created);
    EXPECT_EQ(device->entries[1].message.text, "hello, all 100 of you");
  }
  // A 101st member is refused.
  sign_up(node, "latecomer");
  const Account late = log_in(node, "latecomer");
  const RequestId add = devices[0]->next_request();
  devices[0]->send(client::AddMember{add, group, late.user});
  const auto refused = devices[0]->reply(add);
  ASSERT_TRUE(std::holds_alternative<server::Failure>(refused));
  EXPECT_EQ(std::get<server::Failure>(refused).code, ErrorCode::group_full);
}

TEST(Node, OfflineDeviceReconnectsAndReceivesExactlyWhatItMissed) {
  NodeProcess node({"--rate-limit-burst", "5000"});  // alice pipelines 500 sends at once
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  InboxSeq cursor = 0;
  {
    Device b(node, bob);
    Device a(node, alice);
    a.send_message(0, bob.user, "before", "before going offline");
    b.receive_until(1);
    cursor = b.entries.back().inbox_seq;
    b.client().close();
    for (int i = 0; i < 500; ++i) {
      a.send(client::Send{static_cast<RequestId>(1000 + i), 0, bob.user, "m" + std::to_string(i),
                          "missed " + std::to_string(i)});
    }
    a.reply(1499, 20000);
  }
  Device b(node, bob, cursor);
  EXPECT_EQ(b.welcome().inbox_head, cursor + 500);
  b.receive_until(500, 20000);
  b.settle();
  ASSERT_EQ(b.entries.size(), 500u);
  for (std::size_t i = 0; i < 500; ++i) {
    EXPECT_EQ(b.entries[i].inbox_seq, cursor + 1 + i);
    EXPECT_EQ(b.entries[i].message.text, "missed " + std::to_string(i));
  }
}

TEST(Node, PresenceChangesReachAFriend) {
  NodeProcess node({"--presence-timeout-ms", "2000", "--heartbeat-interval-ms", "500"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  befriend(node, alice, bob);
  Device a(node, alice);
  {
    Device b(node, bob);
    const auto online = a.wait_for<server::Presence>();
    EXPECT_EQ(online.entry.user, bob.user);
    EXPECT_TRUE(online.entry.online);
    b.send(client::Logout{b.next_request()});
    const auto offline = a.wait_for<server::Presence>();
    EXPECT_EQ(offline.entry.user, bob.user);
    EXPECT_FALSE(offline.entry.online);
  }
  // A device that just goes silent is offline after the timeout.
  {
    Device b(node, log_in(node, "bob"));
    EXPECT_TRUE(a.wait_for<server::Presence>().entry.online);
    b.client().abort();
    const auto offline = a.wait_for<server::Presence>(6000);
    EXPECT_FALSE(offline.entry.online);
  }
}

// Typing indicators over real sockets, in both encodings: a start reaches the peer's live
// connection and not the typist's own, a refused one is answered with its request id.
TEST(Node, TypingReachesThePeerInBothEncodings) {
  NodeProcess node;
  sign_up(node, "alice");
  sign_up(node, "bob");
  sign_up(node, "carol");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  const Account carol = log_in(node, "carol");
  Device a(node, alice, 0, net::Encoding::binary);
  Device b(node, bob, 0, net::Encoding::json);
  a.send(client::Send{a.next_request(), 0, bob.user, "t1", "hi"});
  const auto ack = a.wait_for<server::SendAck>();
  a.send(client::Typing{a.next_request(), ack.channel, true});
  const auto started = b.wait_for<server::Typing>();
  EXPECT_EQ(started.channel, ack.channel);
  EXPECT_EQ(started.user, alice.user);
  EXPECT_TRUE(started.typing);
  EXPECT_EQ(started.ttl_us, engine::limits::kTypingTtlUs);
  b.send(client::Typing{b.next_request(), ack.channel, true});
  EXPECT_EQ(a.wait_for<server::Typing>().user, bob.user);
  a.send(client::Typing{a.next_request(), ack.channel, false});
  EXPECT_FALSE(b.wait_for<server::Typing>().typing);
  // carol is not in the chat: refused, and nobody hears of it.
  Device c(node, carol, 0, net::Encoding::json);
  const RequestId refused = c.next_request();
  c.send(client::Typing{refused, ack.channel, true});
  const auto failure = std::get<server::Failure>(c.reply(refused));
  EXPECT_EQ(failure.code, ErrorCode::not_a_member);
  a.settle();
  for (const auto& event : a.others) {
    const auto* typing = std::get_if<server::Typing>(&event);
    EXPECT_TRUE(typing == nullptr || typing->user != carol.user);
  }
  // Three typing frames went out: alice's start and stop to bob, bob's start to alice.
  const auto metrics = node.http().request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("parley_typing_events_total 3\n"), std::string::npos) << metrics;
}

TEST(Node, BadFramesAndBadTokensGetTheDocumentedErrors) {
  NodeProcess node;
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  // A bad token is refused before the upgrade.
  net::WsClient intruder("127.0.0.1", node.port());
  try {
    intruder.connect("not-a-token");
    ADD_FAILURE() << "a bad token must be refused";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 401);
  }
  EXPECT_EQ(node.http().request("GET", "/v1/profile", "", "nope").status, 401);
  // Requests before hello.
  net::WsClient early("127.0.0.1", node.port());
  early.connect(alice.token);
  early.send(client::Heartbeat{}, net::Encoding::json);
  early.send(client::ListContacts{9}, net::Encoding::json);
  bool saw_hello_required = false;
  for (int i = 0; i < 20 && !saw_hello_required; ++i) {
    if (auto event = early.receive(100)) {
      const auto* failure = std::get_if<server::Failure>(&*event);
      saw_hello_required = failure && failure->code == ErrorCode::hello_required;
    }
  }
  EXPECT_TRUE(saw_hello_required);

  Device a(node, alice);
  a.client().send_raw("{this is not json", true);
  a.client().send_raw(std::string("\x00\x01\x02\x03garbage", 11), false);
  a.client().send_raw(R"({"noSuchFrame":{}})", true);
  a.settle(500);
  int malformed = 0;
  for (const auto& event : a.others) {
    const auto* failure = std::get_if<server::Failure>(&event);
    if (failure && failure->code == ErrorCode::malformed_frame) ++malformed;
  }
  EXPECT_EQ(malformed, 3);
  // Refusals store nothing: the channel is still empty afterwards.
  const RequestId id = a.next_request();
  a.send(client::Send{id, 0, bob.user, "x", ""});
  const auto empty = a.reply(id);
  ASSERT_TRUE(std::holds_alternative<server::Failure>(empty));
  EXPECT_EQ(std::get<server::Failure>(empty).code, ErrorCode::message_empty);
  EXPECT_EQ(a.send_message(0, bob.user, "ok", "fine").seq, 1u);
  // A frame over 1 MiB closes the connection with 1009.
  a.client().send_raw(std::string((1 << 20) + 10, 'x'), true);
  try {
    for (int i = 0; i < 50; ++i)
      a.client().receive(100);
    ADD_FAILURE() << "an oversized frame must close the connection";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 1009);
  }
  // The node is still serving.
  EXPECT_EQ(node.http().request("GET", "/healthz").status, 200);
}

TEST(Node, KillDashNineDuringABurstLosesNothingAcked) {
  NodeProcess node({"--rate-limit-burst", "5000"});
  constexpr int kBurst = 2000;
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  std::map<std::string, std::pair<ChannelId, Seq>> acked;
  {
    Device a(node, alice);
    for (int i = 0; i < kBurst; ++i) {
      a.send(client::Send{static_cast<RequestId>(10'000 + i), 0, bob.user,
                          "burst-" + std::to_string(i), "burst " + std::to_string(i)});
    }
    // Collect some acks, then kill the node in the middle of the burst.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(2000);
    while (acked.size() < 100 && std::chrono::steady_clock::now() < deadline) {
      try {
        if (auto event = a.client().receive(5)) {
          if (const auto* ack = std::get_if<server::SendAck>(&*event)) {
            acked["burst-" + std::to_string(ack->request - 10'000)] = {ack->channel, ack->seq};
          }
        }
      } catch (const net::ConnectionClosed&) {
        break;
      }
    }
    EXPECT_EQ(node.stop(SIGKILL), -SIGKILL);
    // Acks that were already in flight to us count too.
    try {
      while (auto event = a.client().receive(50)) {
        if (const auto* ack = std::get_if<server::SendAck>(&*event)) {
          acked["burst-" + std::to_string(ack->request - 10'000)] = {ack->channel, ack->seq};
        }
      }
    } catch (const net::ConnectionClosed&) {
    }
  }
  node.start();
  // Alice's app resends everything; acked ones come back as duplicates with their seqs.
  Device a(node, alice);
  for (int i = 0; i < kBurst; ++i) {
    const std::string id = "burst-" + std::to_string(i);
    const auto ack = a.send_message(0, bob.user, id, "burst " + std::to_string(i));
    const auto before = acked.find(id);
    if (before != acked.end()) {
      EXPECT_TRUE(ack.duplicate) << id;
      EXPECT_EQ(ack.seq, before->second.second) << id;
    }
  }
  Device b(node, bob);
  b.receive_until(kBurst, 30000);
  b.settle();
  ASSERT_EQ(b.entries.size(), static_cast<std::size_t>(kBurst)) << "every message exactly once";
  std::set<std::string> seen;
  for (const auto& entry : b.entries) {
    EXPECT_TRUE(seen.insert(entry.message.client_msg_id).second) << entry.message.client_msg_id;
  }
  for (std::size_t i = 0; i < b.entries.size(); ++i)
    EXPECT_EQ(b.entries[i].message.seq, i + 1);
  EXPECT_LT(acked.size(), static_cast<std::size_t>(kBurst))
      << "the kill came too late to prove anything";
  std::printf("acked before the kill: %zu of %d\n", acked.size(), kBurst);
}

TEST(Node, SigtermClosesConnectionsWithGoingAwayAndExitsZero) {
  NodeProcess node;
  sign_up(node, "alice");
  Device a(node, log_in(node, "alice"));
  const int status = node.stop(SIGTERM);
  EXPECT_EQ(status, 0) << node.log();
  try {
    for (int i = 0; i < 50; ++i)
      a.client().receive(100);
    ADD_FAILURE() << "the connection must be closed";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 1001);
  }
}

TEST(Node, HttpApiAnswersWithJsonAndMetrics) {
  NodeProcess node;
  EXPECT_EQ(sign_up(node, "alice"), 1u);
  auto http = node.http();
  auto again = http.request("POST", "/v1/signup", R"({"name":"alice","password":"correct horse"})");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(std::string(parse(again.body).at("error").at("code").as_string()), "name_taken");
  EXPECT_EQ(http.request("POST", "/v1/signup", R"({"name":"bob","password":"short"})").status, 400);
  EXPECT_EQ(http.request("POST", "/v1/signup", "not json").status, 400);
  EXPECT_EQ(http.request("POST", "/v1/login", R"({"name":"alice","password":"wrong one"})").status,
            401);
  const Account alice = log_in(node, "alice");
  const auto profile = parse(http.request("GET", "/v1/profile", "", alice.token).body);
  EXPECT_EQ(std::string(profile.at("name").as_string()), "alice");
  EXPECT_EQ(http.request("GET", "/v1/users/nobody", "", alice.token).status, 404);
  const auto discover = parse(http.request("GET", "/v1/discover").body);
  EXPECT_NE(std::string(discover.at("websocket").as_string()).find("/v1/ws"), std::string::npos);
  EXPECT_EQ(http.request("POST", "/v1/logout", "", alice.token).status, 200);
  EXPECT_EQ(http.request("GET", "/v1/profile", "", alice.token).status, 401);
  const auto metrics = http.request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("parley_http_requests_total"), std::string::npos);
  EXPECT_NE(metrics.body.find("parley_errors_total{code=\"name_taken\"}"), std::string::npos);
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

using namespace parley::engine;

TEST(NodeLimits, ExpiredTokensAreRefused) {
  NodeProcess node({"--token-ttl-hours", "0"});
  sign_up(node, "alice");
  const Account alice = log_in(node, "alice");
  EXPECT_EQ(node.http().request("GET", "/v1/profile", "", alice.token).status, 401);
  net::WsClient client("127.0.0.1", node.port());
  try {
    client.connect(alice.token);
    ADD_FAILURE() << "an expired token must be refused";
  } catch (const net::ConnectionClosed& closed) {
    EXPECT_EQ(closed.code, 401);
  }
}

TEST(NodeLimits, PerConnectionRateLimitAnswersWithAnErrorFrame) {
  NodeProcess node({"--rate-limit-burst", "5", "--rate-limit-per-second", "1"});
  sign_up(node, "alice");
  Device a(node, log_in(node, "alice"));
  for (int i = 0; i < 20; ++i)
    a.send(client::Heartbeat{});
  a.settle(500);
  int limited = 0;
  for (const auto& event : a.others) {
    const auto* failure = std::get_if<server::Failure>(&event);
    if (failure && failure->code == ErrorCode::rate_limited) ++limited;
  }
  EXPECT_GE(limited, 10);
  const auto metrics = node.http().request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("parley_rate_limited_total"), std::string::npos);
}

TEST(NodeLimits, SilentHandshakeIsDropped) {
  NodeProcess node({"--handshake-timeout-ms", "300"});
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), node.port()});
  // Say nothing; the node must hang up on us.
  char byte = 0;
  boost::system::error_code ec;
  socket.read_some(boost::asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset)
      << ec.message();
}

TEST(NodeLimits, APeerThatAnswersNoPingIsDroppedAndOneThatDoesStays) {
  // A peer has ping_after_ms to answer a ping: a whole second, so that a loaded CI machine
  // (ASan) does not make the answering peer late.
  NodeProcess node({"--ping-after-ms", "1000"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account bob = log_in(node, "bob");
  Device answering(node, log_in(node, "alice"));
  // After its welcome, bob's connection never reads again, so it answers no ping: like a
  // phone that lost its network without closing.
  Device vanished(node, bob);
  // Alice sends nothing but reads, and Beast answers each ping as it reads.
  const auto read_for = [&answering](std::chrono::milliseconds span) {
    const auto until = std::chrono::steady_clock::now() + span;
    while (std::chrono::steady_clock::now() < until)
      answering.client().receive(100);
  };
  for (int i = 0; i < 40 && metric(node, "parley_ping_timeouts_total") != 1; ++i)
    read_for(std::chrono::milliseconds(500));
  EXPECT_EQ(metric(node, "parley_ping_timeouts_total"), 1u);
  // Three more pings' worth of silence from alice: she answers each, and stays.
  read_for(std::chrono::seconds(3));
  EXPECT_EQ(metric(node, "parley_ping_timeouts_total"), 1u);
  EXPECT_EQ(metric(node, "parley_connections"), 1u);
  EXPECT_NE(answering.send_message(0, bob.user, "still-here", "still here").channel, 0u);
}

TEST(NodeLimits, SlowConsumerIsClosedAndResyncsFromItsCursor) {
  NodeProcess node({"--outbound-bytes-max", "8388608"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  const std::string big(60'000, 'x');
  ChannelId channel = 0;
  {
    Device a(node, alice);
    for (int i = 0; i < 200; ++i) {
      channel =
          a.send_message(0, bob.user, "big-" + std::to_string(i), big + std::to_string(i)).channel;
    }
  }
  {
    // Bob asks for page after page of history and never reads the answers, like an app
    // stuck behind a stalled network: the node closes him rather than buffer without end.
    net::WsClient stalled("127.0.0.1", node.port());
    stalled.connect(bob.token);
    stalled.send(net::Hello{1, 200});
    for (int i = 0; i < 30; ++i)
      stalled.send(client::History{static_cast<RequestId>(10 + i), channel, 0, 100});
    bool closed = false;
    for (int i = 0; i < 100 && !closed; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      closed =
          node.http().request("GET", "/metrics").body.find("parley_slow_consumer_closes_total 1") !=
          std::string::npos;
    }
    EXPECT_TRUE(closed) << "the stalled connection was not closed";
  }
  // Reconnecting from its cursor, it gets everything, once, in order.
  Device b(node, bob, 0);
  b.receive_until(200, 30000);
  b.settle();
  ASSERT_EQ(b.entries.size(), 200u);
  for (std::size_t i = 0; i < 200; ++i)
    EXPECT_EQ(b.entries[i].message.text, big + std::to_string(i));
}

TEST(NodeConfig, ConfigFileSetsKeysAndRejectsUnknownOnes) {
  char pattern[] = "/tmp/parley-config-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  {
    std::ofstream(dir + "/good.toml")
        << "presence_timeout_ms = 1500\nheartbeat_interval_ms = 250\n";
    NodeProcess node({"--config", dir + "/good.toml"});
    sign_up(node, "alice");
    Device a(node, log_in(node, "alice"));
    EXPECT_EQ(a.welcome().presence_timeout_us, 1'500'000);
    EXPECT_EQ(a.welcome().heartbeat_interval_us, 250'000);
  }
  std::ofstream(dir + "/bad.toml") << "listen = \"127.0.0.1:0\"\nheartbeat_intervl_ms = 250\n";
  const std::string command = std::string(PARLEY_BINARY) + " serve --config " + dir +
                              "/bad.toml --data " + dir + "/data 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 78);
  std::ifstream err(dir + "/err");
  const std::string message{std::istreambuf_iterator<char>(err), {}};
  EXPECT_NE(message.find("bad.toml:2: unknown key 'heartbeat_intervl_ms'"), std::string::npos)
      << message;
  std::filesystem::remove_all(dir);
}

TEST(NodeConfig, UnusableDataDirectoryFailsClearly) {
  char pattern[] = "/tmp/parley-datadir-XXXXXX";
  const std::string dir = mkdtemp(pattern);
  std::ofstream(dir + "/file") << "x";
  const std::string command = std::string(PARLEY_BINARY) + " serve --listen 127.0.0.1:0 --data " +
                              dir + "/file/data 2>" + dir + "/err";
  const int status = std::system(command.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 78);
  std::ifstream err(dir + "/err");
  const std::string message{std::istreambuf_iterator<char>(err), {}};
  EXPECT_NE(message.find("cannot start"), std::string::npos) << message;
  std::filesystem::remove_all(dir);
}

// docs/operations.md, "Group commit": under load a commit waits until commit_interval_us
// after the last one started, so it carries more; after a quiet spell it starts at once.
// (Each setup step below waits out the interval too: it follows the one before.)
TEST(NodeBatching, CommitIntervalHoldsCommitsUnderLoadButNotAfterAQuietSpell) {
  using std::chrono::milliseconds;
  NodeProcess node({"--commit-interval-us", "1500000"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  Device a(node, alice);
  std::this_thread::sleep_for(milliseconds(1700));  // quiet: no input since

  const auto quiet_started = std::chrono::steady_clock::now();
  a.send_message(0, bob.user, "m1", "after a quiet spell");
  EXPECT_LT(std::chrono::steady_clock::now() - quiet_started, milliseconds(1000))
      << "an input after a quiet spell must not wait for the commit interval";

  const engine::RequestId second = a.next_request();
  a.send(engine::client::Send{second, 0, bob.user, "m2", "within the interval"});
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(600);
  while (std::chrono::steady_clock::now() < deadline) {
    auto event = a.client().receive(50);
    if (!event) continue;
    const auto* ack = std::get_if<engine::server::SendAck>(&*event);
    EXPECT_FALSE(ack != nullptr && ack->request == second)
        << "a send within the interval was committed before the interval ended";
    a.others.push_back(*event);
  }
  const auto answer = a.reply(second, 10000);
  EXPECT_TRUE(std::holds_alternative<engine::server::SendAck>(answer))
      << "the held send is committed and acked once the interval ends";
}

}  // namespace
}  // namespace parley::testing
