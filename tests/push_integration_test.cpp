// Push delivery end to end: a real node, the reference gateway (`parley push-gateway`) as the
// receiver on 127.0.0.1, real HTTP.
#include <set>

#include "tests/node_process.hpp"

namespace parley::testing {
namespace {

using namespace parley::engine;

// `parley push-gateway` on a free port, logging each request as a JSON line.
class GatewayProcess {
 public:
  explicit GatewayProcess(std::vector<std::string> extra = {}, std::uint16_t port = 0) {
    char pattern[] = "/tmp/parley-gateway-XXXXXX";
    dir_ = mkdtemp(pattern);
    std::vector<std::string> args{
        PARLEY_BINARY, "push-gateway", "--listen", "127.0.0.1:" + std::to_string(port),
        "--port-file", dir_ + "/port", "--log",    dir_ + "/log"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = spawn_process(std::move(args), "/dev/null");
    port_ = wait_for_port_file(dir_ + "/port");
  }
  ~GatewayProcess() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    std::filesystem::remove_all(dir_);
  }
  std::uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/push"; }

  std::vector<boost::json::object> requests() const {
    std::vector<boost::json::object> lines;
    std::ifstream in(dir_ + "/log");
    for (std::string line; std::getline(in, line);)
      lines.push_back(parse(line));
    return lines;
  }
  std::vector<boost::json::object> delivered() const {
    std::vector<boost::json::object> ok;
    for (auto& line : requests()) {
      if (line.at("status").to_number<int>() == 200) ok.push_back(line.at("push").as_object());
    }
    return ok;
  }
  // Waits until `count` pushes were accepted (or gives up after `timeout_ms`).
  std::vector<boost::json::object> wait_delivered(std::size_t count, int timeout_ms = 10000) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (delivered().size() < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return delivered();
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

std::vector<std::string> node_flags(const std::string& gateway_url) {
  return {"--push-gateway",          gateway_url, "--push-retry-initial-ms", "100",
          "--push-retry-max-ms",     "400",       "--presence-timeout-ms",   "500",
          "--heartbeat-interval-ms", "200"};
}

// Bob adds the users who will write to him as contacts (a stranger's chat would be a message
// request, which never pushes: engine rule 22) and registers a push token on his phone, then
// the app dies without logging out; once the presence timeout passes he has no online device.
Account offline_bob(NodeProcess& node, const std::vector<UserId>& contacts,
                    const std::string& token = "bob-phone-token") {
  sign_up(node, "bob");
  const Account bob = log_in(node, "bob");
  Device phone(node, bob);
  for (UserId contact : contacts) {
    const RequestId added = phone.next_request();
    phone.send(client::ChangeContact{added, client::ContactAction::add, contact});
    EXPECT_TRUE(std::holds_alternative<server::Ok>(phone.reply(added)));
  }
  const RequestId id = phone.next_request();
  phone.send(client::RegisterPushToken{id, "apns", token});
  EXPECT_TRUE(std::holds_alternative<server::Ok>(phone.reply(id)));
  phone.client().abort();
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // timeout + two ticks
  return bob;
}

TEST(Push, GatewayFailingFirstRequestsStillGetsExactlyOneNotification) {
  GatewayProcess gateway({"--fail-first", "3"});
  NodeProcess node(node_flags(gateway.url()));
  sign_up(node, "alice");
  const Account alice = log_in(node, "alice");
  const Account bob = offline_bob(node, {alice.user});
  Device a(node, alice);
  const auto ack = a.send_message(0, bob.user, "p1", "dinner at eight?");
  const auto delivered = gateway.wait_delivered(1);
  ASSERT_EQ(delivered.size(), 1u) << "one notification, after the gateway's 3 failures";
  EXPECT_GE(gateway.requests().size(), 4u);
  const auto& push = delivered[0];
  EXPECT_EQ(std::string(push.at("preview").as_string()), "dinner at eight?");
  EXPECT_EQ(push.at("unread_total").to_number<int>(), 1);
  EXPECT_FALSE(push.at("mentions_you").as_bool());
  EXPECT_EQ(push.at("unread_in_channel").to_number<int>(), 1);
  EXPECT_EQ(push.at("user").to_number<UserId>(), bob.user);
  EXPECT_EQ(push.at("sender").to_number<UserId>(), alice.user);
  EXPECT_EQ(push.at("channel").to_number<ChannelId>(), ack.channel);
  EXPECT_EQ(std::string(push.at("token").as_string()), "bob-phone-token");
  EXPECT_EQ(std::string(push.at("platform").as_string()), "apns");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(gateway.delivered().size(), 1u) << "no second delivery once accepted";
  const auto metrics = node.http().request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("parley_push_delivered_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("parley_push_retries_total 3"), std::string::npos) << metrics;
}

TEST(Push, OnlineUserGetsNone) {
  GatewayProcess gateway;
  NodeProcess node(node_flags(gateway.url()));
  sign_up(node, "alice");
  sign_up(node, "bob");
  const Account alice = log_in(node, "alice");
  const Account bob = log_in(node, "bob");
  Device b(node, bob);
  const RequestId id = b.next_request();
  b.send(client::RegisterPushToken{id, "fcm", "bob-online"});
  b.reply(id);
  Device a(node, alice);
  for (int i = 0; i < 5; ++i) {
    a.send_message(0, bob.user, "o" + std::to_string(i), "you are online");
    b.send(client::Heartbeat{});
  }
  b.receive_until(5);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(gateway.requests().empty());
}

TEST(Push, PendingPushesSurviveKillDashNineAndAreSentAfterRestart) {
  // Find a free port for the gateway, and leave nobody listening there for now: every
  // delivery attempt is refused and retried.
  std::uint16_t port = 0;
  {
    GatewayProcess probe;
    port = probe.port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/push";
  NodeProcess node(node_flags(url));
  sign_up(node, "alice");
  sign_up(node, "carol");
  const Account alice = log_in(node, "alice");
  const Account carol = log_in(node, "carol");
  const Account bob = offline_bob(node, {alice.user, carol.user});
  {
    Device a(node, alice);
    a.send_message(0, bob.user, "k1", "first, before the crash");
  }
  {
    Device c(node, carol);
    c.send_message(0, bob.user, "k2", "second, from carol");
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(node.stop(SIGKILL), -SIGKILL);
  // The gateway comes up; the restarted node finds both intents in its outbox.
  GatewayProcess gateway({}, port);
  node.start();
  const auto delivered = gateway.wait_delivered(2);
  ASSERT_EQ(delivered.size(), 2u) << node.log();
  std::set<std::string> previews;
  for (const auto& push : delivered)
    previews.insert(std::string(push.at("preview").as_string()));
  EXPECT_EQ(previews, (std::set<std::string>{"first, before the crash", "second, from carol"}));
}

TEST(Push, DeadTokenIsUnregistered) {
  GatewayProcess gateway({"--dead-token", "bob-old-phone"});
  NodeProcess node(node_flags(gateway.url()));
  sign_up(node, "alice");
  sign_up(node, "carol");
  const Account alice = log_in(node, "alice");
  const Account carol = log_in(node, "carol");
  const Account bob = offline_bob(node, {alice.user, carol.user}, "bob-old-phone");
  Device a(node, alice);
  a.send_message(0, bob.user, "d1", "are you there?");
  for (int i = 0; i < 100 && gateway.requests().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(gateway.requests().size(), 1u);
  EXPECT_EQ(gateway.requests()[0].at("status").to_number<int>(), 410);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The token is gone: a message in another chat makes no intent at all.
  Device c(node, carol);
  c.send_message(0, bob.user, "d2", "hello?");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(gateway.requests().size(), 1u);
  const auto metrics = node.http().request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("parley_push_dead_tokens_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("parley_push_intents_total 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace parley::testing
