// The simulator's cluster ([cluster], sim/world_cluster.cpp): every cluster fault bites and
// every invariant holds, runs replay, and the checker catches each planted bug: a leader
// that releases before its log append (invariant 1), an append that is not fenced
// (invariant 7), a follower that skips an index (invariant 8).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "cluster/elector.hpp"
#include "host/memory_log.hpp"
#include "sim/scenario.hpp"
#include "sim/sim_etcd.hpp"
#include "sim/world.hpp"

namespace parley::sim {
namespace {

Scenario scenario(const std::string& name) {
  return load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/" + name + ".toml");
}

std::string all(const RunResult& r) {
  std::string text;
  for (const auto& v : r.check.violations)
    text += std::to_string(v.invariant) + ": " + v.message + "\n";
  for (const auto& e : r.expectation_failures)
    text += "expect: " + e + "\n";
  return text;
}

bool reports(const RunResult& r, int invariant) {
  return std::any_of(r.check.violations.begin(), r.check.violations.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

// How many `leader` records say `text` (a prefix).
std::size_t leader_records(const RunResult& r, const std::string& text) {
  return static_cast<std::size_t>(
      std::count_if(r.history.begin(), r.history.end(), [&](const Record& rec) {
        return rec.kind == RecordKind::leader && rec.text.starts_with(text);
      }));
}

TEST(SimCluster, EachFaultBitesAndEveryInvariantHolds) {
  struct Case {
    const char* scenario;
    const char* leader_text;  // what at least one leader record must say
  };
  const Case cases[] = {
      {"cluster_kill_leader", "won"},
      {"cluster_etcd_partition", "the append's outcome is unknown: etcd does not answer"},
      {"cluster_append_unknown", "the append's outcome is unknown: the append's reply was lost"},
      {"cluster_lease_skew", "deposed"},
      {"cluster_etcd_kill", "the append's outcome is unknown: etcd does not answer"},
      {"cluster_gateways", "won"},
  };
  for (const Case& c : cases) {
    const Scenario s = scenario(c.scenario);
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const RunResult r = run_simulation(s, seed, {});
      EXPECT_TRUE(r.check.violations.empty() && r.expectation_failures.empty())
          << c.scenario << " seed " << seed << "\n"
          << all(r);
      EXPECT_GE(leader_records(r, c.leader_text), 1u) << c.scenario << " seed " << seed;
      EXPECT_GE(r.metrics.leader_changes, 2u) << c.scenario << " seed " << seed;
      EXPECT_GT(r.metrics.log_appends, 100u);
      EXPECT_GT(r.metrics.acked, 50u);
    }
  }
}

TEST(SimCluster, SameSeedSameTrace) {
  const Scenario s = scenario("cluster_etcd_kill");
  const RunResult first = run_simulation(s, 5, {});
  const RunResult second = run_simulation(s, 5, {});
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_NE(first.trace_hash, run_simulation(s, 6, {}).trace_hash);
}

TEST(SimCluster, ReleaseBeforeTheAppendLosesAckedMessages) {
  SimOptions options;
  options.planted_bug = PlantedBug::release_before_append;
  const RunResult r = run_simulation(scenario("cluster_append_unknown"), 1, options);
  EXPECT_TRUE(reports(r, 1)) << all(r);
}

// A deposed leader's append lands only in the few milliseconds before its successor's
// first append takes the index, so this world keeps the old leader busy: a long lease
// (the old leader believes in it for a second after etcd ended it) and heavy traffic.
constexpr const char* kBusyLeaseSkew = R"(
[world]
duration_s = 40
settle_s = 10
users = 40
[cluster]
replicas = 3
lease_ttl_s = 10
[social]
contacts = "ring"
[traffic]
messages_per_user_per_minute = 240
group_percent = 0
[[fault]]
at_s = 10
kind = "lease_skew"
node = 0
duration_s = 15
drift_ppm = -100000
)";

TEST(SimCluster, AnUnfencedAppendIsCaught) {
  const Scenario s = parse_scenario(kBusyLeaseSkew, "busy_lease_skew.toml");
  const RunResult clean = run_simulation(s, 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << all(clean);
  EXPECT_GE(leader_records(clean, "deposed"), 1u);
  SimOptions options;
  options.planted_bug = PlantedBug::unfenced_append;
  const RunResult r = run_simulation(s, 1, options);
  EXPECT_TRUE(reports(r, 7)) << all(r);
}

TEST(SimCluster, AFollowerThatSkipsAnIndexIsCaught) {
  SimOptions options;
  options.planted_bug = PlantedBug::follower_skips_index;
  const RunResult r = run_simulation(scenario("cluster_kill_leader"), 1, options);
  EXPECT_TRUE(reports(r, 8)) << all(r);
}

// The elector's rules, shared by the node's elector thread and the simulator.
TEST(Elector, CampaignsWhenReadyRenewsAndStepsDown) {
  host::MemoryLog log;
  cluster::Elector a(log, "a", 2);
  cluster::Elector b(log, "b", 2);
  EXPECT_EQ(a.round(0, false, 0).event, cluster::ElectionEvent::none);  // not caught up
  const auto won = a.round(0, true, 0);
  ASSERT_EQ(won.event, cluster::ElectionEvent::won);
  EXPECT_EQ(b.round(0, true, 0).token, 0u);               // a leads
  EXPECT_EQ(a.round(500'000, true, 0).token, won.token);  // renewed
  // A step-down resigns and does not campaign in the same round: b gets its chance.
  EXPECT_EQ(a.round(600'000, true, won.token).event, cluster::ElectionEvent::stepped_down);
  EXPECT_EQ(b.round(600'000, true, 0).event, cluster::ElectionEvent::won);
  EXPECT_EQ(a.round(700'000, true, 0).token, 0u);
}

// The simulated etcd ends a lease on its own clock when no renewal came within the TTL.
TEST(Elector, ALeaseEndedOnTheLogEndsLeadership) {
  SimEtcd etcd(3, 2'000'000);
  TimeUs now = 0;
  SimEtcdClient client(etcd, 0, now);
  cluster::Elector a(client, "node-0", 2);
  const auto won = a.round(now, true, 0);
  ASSERT_EQ(won.event, cluster::ElectionEvent::won);
  EXPECT_EQ(etcd.leader_node(now), 0u);
  now = 2'000'001;  // no renewal for a whole TTL
  EXPECT_EQ(etcd.leader_node(now), std::nullopt);
  const auto lost = a.round(now, true, 0);
  EXPECT_EQ(lost.event, cluster::ElectionEvent::lease_expired);
  EXPECT_EQ(lost.token, 0u);
}

// etcd unreachable: leadership is kept until a whole TTL passed since the last renewal.
TEST(Elector, AnUnreachableLogEndsLeadershipAfterAWholeTtl) {
  SimEtcd etcd(3, 2'000'000);
  TimeUs now = 0;
  SimEtcdClient client(etcd, 0, now);
  cluster::Elector a(client, "node-0", 2);
  const auto won = a.round(0, true, 0);
  etcd.cut_off(0, true);
  EXPECT_EQ(a.round(1'000'000, true, 0).token, won.token);
  EXPECT_EQ(a.round(2'000'000, true, 0).token, won.token);
  const auto lost = a.round(2'000'001, true, 0);
  EXPECT_EQ(lost.event, cluster::ElectionEvent::unreachable);
  EXPECT_EQ(lost.detail, "etcd does not answer node 0");
}

// etcd without a quorum answers nobody; a new etcd leader renews every lease.
TEST(SimEtcd, NoQuorumNoAnswerAndANewEtcdLeaderRenewsLeases) {
  SimEtcd etcd(3, 2'000'000);
  TimeUs now = 0;
  SimEtcdClient client(etcd, 0, now);
  cluster::Elector a(client, "node-0", 2);
  ASSERT_EQ(a.round(0, true, 0).event, cluster::ElectionEvent::won);
  etcd.kill(1, now, 1'000'000);  // a follower member: the quorum holds
  EXPECT_TRUE(etcd.answers(0, now));
  etcd.kill(std::nullopt, 1'500'000, 1'000'000);  // the leader member too: no quorum
  EXPECT_FALSE(etcd.answers(0, 1'600'000));
  etcd.revive(1, 3'000'000, 1'000'000);  // a quorum again, after a 1 s election
  EXPECT_FALSE(etcd.answers(0, 3'500'000));
  // The lease's TTL passed long ago, but the new etcd leader renewed it at 4 s.
  EXPECT_EQ(etcd.leader_node(4'100'000), 0u);
  EXPECT_EQ(etcd.leader_node(6'000'001), std::nullopt);
}

}  // namespace
}  // namespace parley::sim

namespace parley::sim {
namespace {

// The gateways' scenario without its gateway kill: only the two leader kills.
Scenario leader_kills_only(std::uint32_t gateways) {
  Scenario s = scenario("cluster_gateways");
  std::erase_if(s.faults, [](const Fault& f) { return f.kind == FaultKind::kill_gateway; });
  s.gateways = gateways;
  return s;
}

TEST(SimGateways, ALeaderKillCostsTheAppsNoConnectionThroughAGateway) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    const RunResult relayed = run_simulation(leader_kills_only(2), seed, {});
    EXPECT_TRUE(relayed.check.violations.empty() && relayed.expectation_failures.empty())
        << "seed " << seed << "\n"
        << all(relayed);
    EXPECT_GE(relayed.metrics.leader_changes, 3u) << "the first leader and two successors";
    EXPECT_GT(relayed.metrics.reattaches, 0u) << "the kills reached no gateway upstream";
    const std::uint64_t devices = relayed.metrics.connects;
    EXPECT_EQ(devices, 8u * 2u) << "each device connected once, through both failovers";
    const RunResult direct = run_simulation(leader_kills_only(0), seed, {});
    EXPECT_TRUE(direct.check.violations.empty()) << all(direct);
    EXPECT_GT(direct.metrics.connects, devices) << "without gateways the apps reconnect";
    EXPECT_EQ(direct.metrics.reattaches, 0u);
  }
}

TEST(SimGateways, AKilledGatewaysAppsReconnectThroughAnother) {
  const RunResult r = run_simulation(scenario("cluster_gateways"), 1, {});
  EXPECT_TRUE(r.check.violations.empty() && r.expectation_failures.empty()) << all(r);
  EXPECT_GT(r.metrics.connects, 8u * 2u) << "the gateway kill dropped nobody";
  const bool killed = std::any_of(r.history.begin(), r.history.end(), [](const Record& rec) {
    return rec.kind == RecordKind::fault &&
           rec.text.find("kill_gateway: gateway") != std::string::npos &&
           rec.text.find("holding 0 clients") == std::string::npos;
  });
  EXPECT_TRUE(killed) << "the kill found a gateway holding clients";
}

TEST(SimGateways, AGatewayThatDoesNotReplayUnackedSendsIsCaught) {
  SimOptions options;
  options.planted_bug = PlantedBug::relay_skips_replay;
  const RunResult r = run_simulation(leader_kills_only(2), 1, options);
  EXPECT_TRUE(reports(r, 1)) << all(r);
}

}  // namespace
}  // namespace parley::sim
