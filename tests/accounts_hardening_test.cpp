// Accounts, tokens and sessions against a real node: client input that must never reach the
// store as a key, strict field parsing, token revocation with live sockets, login throttles,
// the bounded hashing queue, and connections that must close promptly.
#include <boost/asio.hpp>
#include <thread>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using namespace parley::engine;

std::string quoted(const std::string& text) {
  return boost::json::serialize(boost::json::string(text));
}

int post(NodeProcess& node, const std::string& path, const std::string& body,
         const std::string& token = "") {
  return node.http().request("POST", path, body, token).status;
}

// Waits (up to 10 s) for a condition the node reaches by itself; false if it never does.
template <typename F>
bool eventually(F condition) {
  for (int i = 0; i < 200; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// The close code the node closed `device` with (1006 for a drop without a close frame), or
// 0 if it is still open after 5 s.
int closed_by_node(Device& device) {
  try {
    for (int i = 0; i < 100; ++i)
      device.client().receive(50);
  } catch (const net::ConnectionClosed& closed) {
    return closed.code;
  } catch (const std::exception&) {
    return 1006;
  }
  return 0;
}

TEST(ClientInputAndTheStore, InvalidNamesAreRefusedBeforeAnyLookupAndTheNodeStaysUp) {
  NodeProcess node;
  sign_up(node, "alice");
  const Account alice = log_in(node, "alice");
  const std::string long_name(600, 'a');  // past LMDB's 511-byte key limit
  for (const std::string& name :
       {std::string(), std::string(" "), std::string(33, 'b'), long_name, std::string("../x"),
        std::string("a\0b", 3), std::string("_x"), std::string("\xc3\xa9t\xc3\xa9")}) {
    const std::string body = R"({"name":)" + quoted(name) + R"(,"password":"correct horse"})";
    EXPECT_EQ(post(node, "/v1/login", body), 400) << quoted(name);
    EXPECT_EQ(post(node, "/v1/signup", body), 400) << quoted(name);
    EXPECT_EQ(post(node, "/v1/contacts", R"({"name":)" + quoted(name) + "}", alice.token), 400)
        << quoted(name);
  }
  for (const char* body : {R"({"name":7,"password":"correct horse"})",
                           R"({"name":"alice","password":["x"]})", R"({"name":null})"}) {
    EXPECT_EQ(post(node, "/v1/login", body), 400) << body;
  }
  EXPECT_EQ(node.http().request("GET", "/v1/users/" + long_name, "", alice.token).status, 404);
  EXPECT_EQ(node.http().request("GET", "/v1/users/", "", alice.token).status, 404);
  // Still up, and nothing was stored: a restart on the same store comes back.
  EXPECT_EQ(node.http().request("GET", "/healthz").status, 200);
  EXPECT_EQ(node.stop(SIGTERM), 0);
  node.restart_with({});
  EXPECT_EQ(log_in(node, "alice").user, alice.user);
}

TEST(ClientInputAndTheStore, IdsAndActionsAreParsedStrictly) {
  NodeProcess node;
  sign_up(node, "alice");
  const UserId bob = sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const std::string id = std::to_string(bob);
  for (const std::string& user :
       {" " + id, "+" + id, id + "abc", std::string("-1"), "0x" + id, std::string("1.5"),
        std::string(""), std::string("99999999999999999999999")}) {
    EXPECT_EQ(post(node, "/v1/contacts", R"({"user":)" + quoted(user) + R"(,"action":"add"})",
                   alice.token),
              400)
        << quoted(user);
  }
  for (const std::string& user : {std::string("-1"), std::string("1.5"), std::string("true")}) {
    EXPECT_EQ(post(node, "/v1/contacts", R"({"user":)" + user + R"(,"action":"add"})", alice.token),
              400)
        << user;
  }
  for (const std::string& action : {std::string("1"), std::string("true"), std::string("null"),
                                    std::string(R"("ADD")"), std::string(R"(["add"])")}) {
    EXPECT_EQ(post(node, "/v1/contacts", R"({"user":)" + id + R"(,"action":)" + action + "}",
                   alice.token),
              400)
        << action;
  }
  const std::string login = R"({"name":"alice","password":"correct horse","device":)";
  EXPECT_EQ(post(node, "/v1/login", login + R"("1x"})"), 400);
  EXPECT_EQ(post(node, "/v1/login", login + R"(-1})"), 400);
  // Nothing was added by any of them.
  const auto contacts = node.http().request("GET", "/v1/contacts", "", alice.token);
  EXPECT_EQ(parse(contacts.body).at("contacts").as_array().size(), 0u) << contacts.body;
  EXPECT_EQ(post(node, "/v1/contacts", R"({"user":")" + id + R"(","action":"add"})", alice.token),
            200);
}

class Sessions : public ::testing::Test {
 protected:
  void SetUp() override {
    sign_up(node, "alice");
    phone = log_in(node, "alice");
    laptop = log_in(node, "alice");
  }
  int profile(const Account& account) {
    return node.http().request("GET", "/v1/profile", "", account.token).status;
  }
  NodeProcess node;
  Account phone, laptop;
};

TEST_F(Sessions, LoggingInAgainAsTheSameDeviceRevokesItsOlderTokenAndSocket) {
  Device live(node, phone);
  const Account again = log_in(node, "alice", phone.device);
  EXPECT_EQ(again.device, phone.device);
  EXPECT_EQ(profile(phone), 401);
  EXPECT_EQ(profile(again), 200);
  EXPECT_EQ(closed_by_node(live), 1000) << "the old token's socket closes (replaced)";
  net::WsClient late("127.0.0.1", node.port());
  EXPECT_THROW(late.connect(phone.token), net::ConnectionClosed);
}

TEST_F(Sessions, HttpLogoutRevokesTheTokenAndClosesItsSocketAtOnce) {
  Device live(node, phone);
  EXPECT_EQ(post(node, "/v1/logout", "", phone.token), 200);
  EXPECT_EQ(closed_by_node(live), 1000);
  EXPECT_EQ(profile(phone), 401);
  EXPECT_EQ(profile(laptop), 200) << "other devices are not affected";
}

TEST_F(Sessions, WebSocketLogoutRevokesTheToken) {
  Device live(node, phone);
  const RequestId id = live.next_request();
  live.send(client::Logout{id});
  EXPECT_TRUE(std::holds_alternative<server::Ok>(live.reply(id))) << "the ok comes first";
  EXPECT_EQ(closed_by_node(live), 1000) << "then a close frame, 1000 logged_out";
  EXPECT_EQ(profile(phone), 401);
}

TEST_F(Sessions, ChangingThePasswordSignsOutEveryOtherDevice) {
  Device other(node, laptop);
  EXPECT_EQ(post(node, "/v1/password",
                 R"({"old_password":"wrong one","new_password":"new horse 1"})", phone.token),
            401);
  EXPECT_EQ(post(node, "/v1/password", R"({"old_password":"correct horse","new_password":"short"})",
                 phone.token),
            400);
  EXPECT_EQ(post(node, "/v1/password",
                 R"({"old_password":"correct horse","new_password":"new horse 1"})", phone.token),
            200);
  EXPECT_EQ(closed_by_node(other), 1000);
  EXPECT_EQ(profile(laptop), 401);
  EXPECT_EQ(profile(phone), 200) << "the caller stays signed in";
  EXPECT_EQ(post(node, "/v1/login", R"({"name":"alice","password":"correct horse"})"), 401);
  EXPECT_EQ(post(node, "/v1/login", R"({"name":"alice","password":"new horse 1"})"), 200);
}

TEST_F(Sessions, LogOutEverywhere) {
  Device a(node, phone);
  Device b(node, laptop);
  EXPECT_EQ(post(node, "/v1/logout/all", "", phone.token), 200);
  EXPECT_EQ(closed_by_node(a), 1000);
  EXPECT_EQ(closed_by_node(b), 1000);
  EXPECT_EQ(profile(phone), 401);
  EXPECT_EQ(profile(laptop), 401);
}

TEST(LoginThrottle, PerAddressAndPerAccount) {
  NodeProcess node({"--login-attempts-per-minute", "8"});
  sign_up(node, "alice");
  const std::string wrong = R"({"name":"alice","password":"not the password"})";
  // Failures 1..5 are free; the 6th delays the account's next attempt.
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(post(node, "/v1/login", wrong), 401) << i;
  auto refused =
      node.http().request("POST", "/v1/login", R"({"name":"ALICE","password":"correct horse"})");
  EXPECT_EQ(refused.status, 429) << "the account is throttled, whatever the name's case";
  // The address's bucket (8 per minute) is empty after one more.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  int throttled = 0;
  for (int i = 0; i < 3; ++i)
    throttled += post(node, "/v1/login", R"({"name":"bob","password":"whatever it is"})") == 429;
  EXPECT_GE(throttled, 1);
  EXPECT_GE(metric(node, "parley_logins_throttled_total"), 2u);
}

TEST(HashingQueue, IsBoundedAndSkipsCallersWhoLeft) {
  // Real argon2id cost (the default), so logins queue up behind each other.
  NodeProcess node({"--argon2-opslimit", "3", "--argon2-memlimit-kib", "65536",
                    "--login-attempts-per-minute", "100000"});
  // Distinct names: one account has at most two attempts in flight (the login throttle).
  const auto body = [](int i) {
    return R"({"name":"nobody)" + std::to_string(i) + R"(","password":"correct horse"})";
  };
  const auto request = [&](int i) {
    return "POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body(i).size()) + "\r\n\r\n" + body(i);
  };
  {
    // 100 callers at once, all still there: more than the 64 jobs that may wait.
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> callers;
    for (int i = 0; i < 100; ++i) {
      callers.emplace_back(io);
      callers.back().connect({boost::asio::ip::make_address("127.0.0.1"), node.port()});
      boost::asio::write(callers.back(), boost::asio::buffer(request(i)));
    }
    EXPECT_TRUE(eventually([&] { return metric(node, "parley_hash_queue_rejections_total") > 0; }))
        << "100 logins at once overflow the 64-job queue";
  }  // now they all hang up, with most of their jobs still waiting
  EXPECT_TRUE(eventually([&] { return metric(node, "parley_hash_jobs_skipped_total") > 0; }))
      << "jobs whose caller left are skipped";
  EXPECT_EQ(post(node, "/v1/login", body(1000)), 401) << "a real caller is still answered";
}

TEST(Connections, AnOversizedFrameIsAlwaysAnsweredWithClose1009) {
  NodeProcess node({"--login-attempts-per-minute", "100000"});
  sign_up(node, "alice");
  const Account alice = log_in(node, "alice");
  int closes_with_1009 = 0;
  for (int i = 0; i < 20; ++i) {
    net::WsClient client("127.0.0.1", node.port());
    client.connect(alice.token);
    try {
      client.send_raw(std::string(2 << 20, 'x'), false);
      for (int j = 0; j < 100; ++j)
        client.receive(50);
    } catch (const net::ConnectionClosed& closed) {
      closes_with_1009 += closed.code == 1009;
    } catch (const std::exception&) {
      // A reset while sending: the close frame was lost; counted as a miss.
    }
  }
  EXPECT_EQ(closes_with_1009, 20);
  EXPECT_EQ(node.http().request("GET", "/healthz").status, 200);
}

TEST(Connections, AReplacedConnectionThatStoppedReadingIsTornDownAtOnce) {
  // A close handshake that could wait 30 s for a client that never reads: the node must not.
  NodeProcess node({"--handshake-timeout-ms", "30000", "--rate-limit-burst", "5000"});
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  Device stuck(node, alice);  // reads its Welcome, then never again
  Device sender(node, bob);
  const std::string text(90'000, 'x');
  for (int i = 0; i < 60; ++i)
    sender.send_message(0, alice.user, "m" + std::to_string(i), text);
  ASSERT_EQ(metric(node, "parley_connections"), 2u);
  log_in(node, "alice", alice.device);  // the same device logs in again: `stuck` is replaced
  EXPECT_TRUE(eventually([&] { return metric(node, "parley_connections") == 1; }))
      << "the replaced connection is gone long before any handshake timeout";
  EXPECT_GE(metric(node, "parley_forced_closes_total"), 1u);
}

}  // namespace
}  // namespace parley::testing
