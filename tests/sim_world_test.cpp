// The simulator end to end on small inline scenarios: determinism, and a clean run.
#include <gtest/gtest.h>

#include <algorithm>

#include "sim/scenario.hpp"
#include "sim/world.hpp"

namespace parley::sim {
namespace {

constexpr const char* kScenario = R"(
[world]
duration_s = 20
settle_s = 10
users = 4
devices_per_user = 2
[social]
contacts = "all"
[[social.group]]
name = "g"
creator = 1
members = "all"
[traffic]
messages_per_user_per_minute = 30
group_percent = 40
[random_faults]
disconnects_per_minute = 6
crashes_per_minute = 3
crash_max_s = 1
)";

std::string all(const RunResult& r) {
  std::string text;
  for (const auto& v : r.check.violations)
    text += v.message + "\n";
  return text;
}

TEST(SimWorld, SameSeedSameTraceDifferentSeedDifferentTrace) {
  const Scenario scenario = parse_scenario(kScenario, "inline.toml");
  const RunResult first = run_simulation(scenario, 7, {});
  const RunResult second = run_simulation(scenario, 7, {});
  const RunResult other = run_simulation(scenario, 8, {});
  EXPECT_EQ(first.trace_hash, second.trace_hash);
  EXPECT_EQ(first.history.size(), second.history.size());
  EXPECT_NE(first.trace_hash, other.trace_hash);
}

TEST(SimWorld, FaultyRunKeepsEveryInvariant) {
  const Scenario scenario = parse_scenario(kScenario, "inline.toml");
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    const RunResult result = run_simulation(scenario, seed, {});
    EXPECT_TRUE(result.check.violations.empty()) << "seed " << seed << "\n" << all(result);
    EXPECT_GT(result.metrics.acked, 20u);
    EXPECT_GT(result.metrics.delivered, result.metrics.acked);
    EXPECT_GT(result.metrics.faults, 0u);
  }
}

// Faults that act for a role follow the role: once the creator leaves and the admin role is
// handed over, "the group's admin" adds and removes members as the successor.
TEST(SimWorld, GroupFaultsActAsTheAdminAfterAHandOver) {
  const Scenario scenario = parse_scenario(R"(
[world]
duration_s = 20
settle_s = 5
users = 4
[social]
contacts = "all"
[[social.group]]
name = "g"
creator = 1
members = [2, 3]
[traffic]
messages_per_user_per_minute = 0
[[fault]]
at_s = 5
kind = "leave_group"
group = "g"
user = 1
[[fault]]
at_s = 10
kind = "add_member"
group = "g"
user = 4
[[fault]]
at_s = 15
kind = "remove_member"
group = "g"
user = 3
)",
                                           "handover.toml");
  const RunResult result = run_simulation(scenario, 1, {});
  EXPECT_TRUE(result.check.violations.empty()) << all(result);
  EXPECT_FALSE(result.metrics.errors.contains("not_admin"));
  EXPECT_FALSE(result.metrics.errors.contains("not_a_member"));
  const auto received = [&](UserId user, const std::string& kind) {
    return std::any_of(result.history.begin(), result.history.end(), [&](const Record& r) {
      return r.kind == RecordKind::delivered && r.user == user && r.detail == kind;
    });
  };
  EXPECT_TRUE(received(2, "admin_changed"));
  EXPECT_TRUE(received(4, "member_added"));    // added by user 2, the admin now
  EXPECT_TRUE(received(3, "member_removed"));  // removed by user 2
}

// A failed commit (storage::FaultStore) takes the production node's stop-on-commit-failure
// path: nothing of the batch leaves the node, the node stops and restarts from its store
// after the fault's duration, and the clients' resends are acked only after the restart.
TEST(SimWorld, CommitFailureStopsTheNodeAndReleasesNothingOfTheBatch) {
  const Scenario scenario = parse_scenario(R"(
[world]
duration_s = 10
settle_s = 10
users = 3
[network]
jitter_ms = 0
[social]
contacts = "all"
[traffic]
messages_per_user_per_minute = 0
burst_at_s = 5
burst_messages = 3
[[fault]]
at_s = 5.01
kind = "commit_failure"
duration_s = 1
)",
                                           "commit_failure.toml");
  const RunResult result = run_simulation(scenario, 1, {});
  EXPECT_TRUE(result.check.violations.empty()) << all(result);
  EXPECT_EQ(result.metrics.commit_failures, 1u);
  EXPECT_EQ(result.metrics.crashes, 1u);
  const auto find = [&](RecordKind kind) {
    return std::find_if(result.history.begin(), result.history.end(),
                        [&](const Record& r) { return r.kind == kind; });
  };
  const auto crash = find(RecordKind::crash);
  const auto restart = find(RecordKind::restart);
  ASSERT_NE(crash, result.history.end());
  ASSERT_NE(restart, result.history.end());
  EXPECT_EQ(crash->text, "commit failed");
  EXPECT_EQ(restart->at, crash->at + 1'000'000);
  // The burst's sends reached the node together, in the batch whose commit failed: none was
  // acked before the restart, and every one was acked once after it.
  std::size_t burst = 0;
  std::size_t acked = 0;
  for (const Record& r : result.history) {
    if (r.kind == RecordKind::sent && r.at == 5'000'000) ++burst;
    if (r.kind != RecordKind::acked) continue;
    ++acked;
    EXPECT_GT(r.at, restart->at) << r.text << " was acked before the node restarted";
  }
  EXPECT_EQ(burst, 9u);
  EXPECT_EQ(acked, burst);
  EXPECT_EQ(result.metrics.duplicate_acks, 0u);
}

// A commit failure armed while the node is down fails the restart's own first commit: the
// new process stops again and its supervisor restarts it after the fault's duration.
TEST(SimWorld, CommitFailureWhileDownDelaysTheRestart) {
  const Scenario scenario = parse_scenario(R"(
[world]
duration_s = 10
settle_s = 5
users = 2
[social]
contacts = "all"
[traffic]
messages_per_user_per_minute = 6
[[fault]]
at_s = 5
kind = "crash"
duration_s = 2
[[fault]]
at_s = 6
kind = "commit_failure"
duration_s = 1
)",
                                           "down.toml");
  const RunResult result = run_simulation(scenario, 1, {});
  EXPECT_TRUE(result.check.violations.empty()) << all(result);
  EXPECT_EQ(result.metrics.commit_failures, 1u);
  EXPECT_EQ(result.metrics.crashes, 1u);
  std::vector<TimeUs> restarts;
  for (const Record& r : result.history) {
    if (r.kind == RecordKind::restart) restarts.push_back(r.at);
  }
  EXPECT_EQ(restarts, (std::vector<TimeUs>{8'000'000}));  // 7 s failed; 1 s later it came up
}

}  // namespace
}  // namespace parley::sim

namespace parley::sim {
namespace {

// --check-determinism's report: where two histories part, and what each run recorded there.
TEST(FirstDivergence, NamesTheFirstDifferingRecordOrTheEndOfTheShorterRun) {
  const Scenario s = load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/two_friends.toml");
  const RunResult run = run_simulation(s, 1, {});
  ASSERT_GT(run.history.size(), 10u);
  EXPECT_FALSE(first_divergence(run.history, run_simulation(s, 1, {}).history)) << "a seed replays";

  History changed = run.history;
  changed[7].inbox_seq += 1;  // a field to_json may leave out still counts
  const auto at_seven = first_divergence(run.history, changed);
  ASSERT_TRUE(at_seven);
  EXPECT_EQ(at_seven->index, 7u);
  ASSERT_TRUE(at_seven->first && at_seven->second);
  EXPECT_EQ(at_seven->second->inbox_seq, run.history[7].inbox_seq + 1);

  History shorter(run.history.begin(), run.history.begin() + 5);
  const auto ended = first_divergence(run.history, shorter);
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->index, 5u);
  EXPECT_TRUE(ended->first.has_value());
  EXPECT_FALSE(ended->second.has_value()) << "the second run had ended";

  const auto other_seed = first_divergence(run.history, run_simulation(s, 2, {}).history);
  ASSERT_TRUE(other_seed) << "another seed is another run";
}

}  // namespace
}  // namespace parley::sim
