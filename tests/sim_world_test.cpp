// The simulator end to end on small inline scenarios: determinism, and a clean run.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace parley::sim
