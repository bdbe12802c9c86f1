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

}  // namespace
}  // namespace parley::sim
