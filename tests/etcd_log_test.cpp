// cluster::EtcdLog against a real three-member etcd (tests/etcd_cluster.hpp): leadership,
// fenced appends, reads, trimming, and an etcd leader killed under appends.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cluster/etcd_log.hpp"
#include "tests/etcd_cluster.hpp"

namespace {

using parley::cluster::EtcdClient;
using parley::cluster::EtcdLog;
using parley::host::AppendResult;
using parley::host::Leadership;
using parley::host::LogEntry;
using parley::host::LogUnavailable;
using parley::testing::EtcdCluster;
using namespace std::chrono_literals;

constexpr const char* kPrefix = "/parley/test/shard/0/";

// Two candidates for one shard's log, each with its own client, on a fresh etcd.
class EtcdLogTest : public ::testing::Test {
 protected:
  EtcdCluster etcd;
  EtcdClient a_client{etcd.endpoints(), 2s};
  EtcdClient b_client{etcd.endpoints(), 2s};
  EtcdLog a{a_client, kPrefix};
  EtcdLog b{b_client, kPrefix};

  // `a`, leading.
  Leadership lead_a() {
    const auto leads = a.campaign("node-a", 10);
    if (!leads) throw std::runtime_error("node-a could not lead");
    return *leads;
  }
};

TEST_F(EtcdLogTest, OneCandidateLeadsAtATime) {
  const auto a_leads = a.campaign("node-a", 10);
  ASSERT_TRUE(a_leads.has_value());
  EXPECT_FALSE(b.campaign("node-b", 10).has_value());
  EXPECT_EQ(b.leader(), "node-a");
  EXPECT_TRUE(a.keep_alive(*a_leads));

  a.resign(*a_leads);
  EXPECT_FALSE(a.keep_alive(*a_leads));
  const auto b_leads = b.campaign("node-b", 10);
  ASSERT_TRUE(b_leads.has_value());
  EXPECT_GT(b_leads->token, a_leads->token) << "a later leader's token is greater";
  EXPECT_EQ(a.leader(), "node-b");
}

TEST_F(EtcdLogTest, AppendsFillIndexesInOrderOnce) {
  EtcdLog& log = a;
  const Leadership leads = lead_a();

  EXPECT_EQ(log.last_index(), 0u);
  for (std::uint64_t i = 1; i <= 12; ++i)
    ASSERT_EQ(log.append(leads.token, i, "batch " + std::to_string(i)), AppendResult::appended);
  EXPECT_EQ(log.append(leads.token, 5, "again"), AppendResult::index_taken);
  EXPECT_EQ(log.last_index(), 12u);

  const auto entries = log.read(3, 4);
  ASSERT_EQ(entries.size(), 4u);
  for (std::size_t k = 0; k < entries.size(); ++k) {
    EXPECT_EQ(entries[k], (LogEntry{3 + k, leads.token, "batch " + std::to_string(3 + k)}));
  }
  EXPECT_EQ(log.entry(5)->bytes, "batch 5") << "the second append at 5 changed nothing";
  EXPECT_FALSE(log.entry(13).has_value());
  EXPECT_EQ(log.read(13, 10).size(), 0u);
}

TEST_F(EtcdLogTest, BytesOfEveryValueSurvive) {
  EtcdLog& log = a;
  const Leadership leads = lead_a();
  std::string all_bytes;
  for (int byte = 0; byte < 256; ++byte)
    all_bytes.push_back(static_cast<char>(byte));
  ASSERT_EQ(log.append(leads.token, 1, all_bytes), AppendResult::appended);
  ASSERT_EQ(log.append(leads.token, 2, ""), AppendResult::appended);
  EXPECT_EQ(log.entry(1)->bytes, all_bytes);
  EXPECT_EQ(log.entry(2)->bytes, "");
}

TEST_F(EtcdLogTest, ADeposedLeaderCannotAppend) {
  const Leadership a_leads = lead_a();
  ASSERT_EQ(a.append(a_leads.token, 1, "from a"), AppendResult::appended);

  // a's lease ends (as when a is paused or cut off past its TTL) and b takes over; a still
  // believes it leads and tries the next index, and an index b already filled.
  b_client.lease_revoke(a_leads.lease);
  const auto b_leads = b.campaign("node-b", 10);
  ASSERT_TRUE(b_leads.has_value());
  ASSERT_EQ(b.append(b_leads->token, 2, "from b"), AppendResult::appended);
  EXPECT_EQ(a.append(a_leads.token, 3, "late from a"), AppendResult::fenced);
  EXPECT_EQ(a.append(a_leads.token, 2, "late from a"), AppendResult::fenced);
  EXPECT_FALSE(a.entry(3).has_value());
  EXPECT_EQ(a.entry(2)->bytes, "from b");
  EXPECT_EQ(a.entry(2)->token, b_leads->token);
}

TEST_F(EtcdLogTest, TrimKeepsTheLastEntry) {
  EtcdLog& log = a;
  const Leadership leads = lead_a();
  for (std::uint64_t i = 1; i <= 6; ++i)
    ASSERT_EQ(log.append(leads.token, i, "x"), AppendResult::appended);
  log.trim_below(4);
  EXPECT_FALSE(log.entry(3).has_value());
  EXPECT_EQ(log.append(leads.token, 2, "into the trimmed"), AppendResult::index_taken)
      << "a trimmed index is not free";
  EXPECT_EQ(log.append(leads.token, 9, "past the end"), AppendResult::index_taken)
      << "no gap: the next index only";
  EXPECT_FALSE(log.entry(2).has_value());
  EXPECT_FALSE(log.entry(9).has_value());
  EXPECT_EQ(log.read(1, 10).front().index, 4u);
  log.trim_below(100);  // beyond the end: the last entry stays, so the next index is known
  EXPECT_EQ(log.last_index(), 6u);
  EXPECT_EQ(log.read(1, 10).size(), 1u);
  EXPECT_EQ(log.append(leads.token, 7, "y"), AppendResult::appended);
}

// A replica that stopped reporting (a node that left for good) holds back trimming only for
// the hold: then its report's lease runs out and the slowest report is a live replica's.
TEST_F(EtcdLogTest, AReplicaGoneLongerThanTheTrimHoldNoLongerHoldsBackTrimming) {
  a.set_trim_hold(2);
  b.set_trim_hold(2);
  a.report_applied("gone", 3);
  b.report_applied("live", 40);
  EXPECT_EQ(b.slowest_applied(), 3u) << "within its hold, the gone replica counts";
  std::optional<std::uint64_t> slowest;
  for (int i = 0; i < 100 && slowest != 41u; ++i) {  // up to 20 s: etcd ends leases late
    std::this_thread::sleep_for(200ms);
    b.report_applied("live", 41);  // each report renews the live replica's hold
    slowest = b.slowest_applied();
  }
  EXPECT_EQ(slowest, 41u) << "the gone replica's report outlived its hold";

  a.report_applied("gone", 5);  // back: it reports again under a new lease
  EXPECT_EQ(b.slowest_applied(), 5u);
}

TEST_F(EtcdLogTest, WithoutAHoldAReportHasNoLeaseAndStays) {
  a.report_applied("gone", 3);
  const auto reports = a_client.range(std::string(kPrefix) + "applied/gone");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports.front().lease, 0) << "no lease: nothing ends it";
  EXPECT_EQ(b.slowest_applied(), 3u);
}

TEST_F(EtcdLogTest, AppendsContinueAfterTheEtcdLeaderIsKilled) {
  EtcdClient client(etcd.endpoints(), 1s);
  EtcdLog log(client, kPrefix);
  const auto leads = log.campaign("node-a", 30);
  ASSERT_TRUE(leads.has_value());
  ASSERT_EQ(log.append(leads->token, 1, "before"), AppendResult::appended);

  const std::size_t etcd_leader = etcd.leader();
  ASSERT_LT(etcd_leader, EtcdCluster::kMembers);
  etcd.kill(etcd_leader);

  // An append whose outcome is unknown is resolved by reading its index: the caller must
  // never append the same batch at a second index.
  std::optional<AppendResult> outcome;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!outcome && std::chrono::steady_clock::now() < deadline) {
    try {
      outcome = log.append(leads->token, 2, "after");
    } catch (const LogUnavailable&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(outcome.has_value()) << "no etcd member took the append within 30 s";
  EXPECT_TRUE(*outcome == AppendResult::appended || *outcome == AppendResult::index_taken);
  EXPECT_EQ(log.entry(1)->bytes, "before") << "an acked entry survives its etcd leader";
  EXPECT_EQ(log.entry(2)->bytes, "after");
  EXPECT_EQ(log.last_index(), 2u);
}

}  // namespace

namespace {

// A kept-alive connection whose member restarted is dead: the client must not count the
// member as down for it (with one endpoint it would have nowhere else to go).
TEST_F(EtcdLogTest, AStaleKeptAliveConnectionIsRetriedOnANewOne) {
  const std::string endpoint = etcd.endpoints()[0];
  EtcdClient single({endpoint}, 2s);
  EXPECT_TRUE(single.range("/none").empty());  // the connection is now kept alive

  etcd.kill(0);
  etcd.start(0);
  // Until the restarted member serves again, through fresh clients.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  bool serving = false;
  while (!serving && std::chrono::steady_clock::now() < deadline) {
    try {
      EtcdClient fresh({endpoint}, 1s);
      fresh.range("/none");
      serving = true;
    } catch (const LogUnavailable&) {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_TRUE(serving) << "the restarted member did not serve within 30 s";
  EXPECT_NO_THROW(single.range("/none")) << "the old client reconnects to the same member";
}

// A member that is stopping answers what is in flight with gRPC code 1, "the client
// connection is closing" (seen when an etcd member gets SIGTERM): another member serves it.
// The stopping member is played by a one-shot HTTP server that answers exactly that.
TEST_F(EtcdLogTest, AMemberClosingItsConnectionsIsSkippedForTheNext) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 4), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  std::thread stopping_member([listener] {
    const int connection = ::accept(listener, nullptr, nullptr);
    char request[4096];
    (void)::recv(connection, request, sizeof request, 0);
    const std::string body = R"({"error":"grpc: the client connection is closing","code":1,)"
                             R"("message":"grpc: the client connection is closing"})";
    const std::string answer =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)::send(connection, answer.data(), answer.size(), 0);
    ::close(connection);
  });
  const std::string stopping = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  EtcdClient client({stopping, etcd.endpoints()[1]}, 2s);
  EXPECT_NO_THROW(client.range("/none"));
  stopping_member.join();
  ::close(listener);
}

}  // namespace
