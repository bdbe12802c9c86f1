// Search in the simulator (scenarios/search.toml and cluster_search.toml, docs/search.md):
// apps search while a group changes and messages are edited and deleted; every hit is a read
// the checker holds to invariants 3 (membership windows) and 11 (deleted text). Planted bugs
// prove it looks: a node that searches whole channels instead of the asker's windows, one
// whose index keeps the texts deleted for everyone, and a cluster follower whose index does
// not learn from the entries it applies.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "sim/scenario.hpp"
#include "sim/world.hpp"
#include "tests/sim_helpers.hpp"

namespace parley::sim {
namespace {

using testing::count;
using testing::violations;

Scenario search_scenario() {
  return load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/search.toml");
}

bool has_violation(const RunResult& run, int invariant, const std::string& words) {
  const auto& found = run.check.violations;
  return std::any_of(found.begin(), found.end(), [&](const Violation& v) {
    return v.invariant == invariant && v.message.find(words) != std::string::npos;
  });
}

TEST(Search, InvariantsHoldWhileAppsSearch) {
  const RunResult clean = run_simulation(search_scenario(), 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  // The checks had work to do: searches found messages, people left and were removed,
  // and messages were deleted.
  EXPECT_GT(clean.metrics.searches, 10u);  // 14 to 22 in seeds 1-6
  EXPECT_GT(clean.metrics.search_hits, 100u);
  EXPECT_GT(count(clean, RecordKind::read), 100u);
  EXPECT_GT(count(clean, RecordKind::revised), 10u);
}

TEST(Search, InvariantThreeCatchesASearchOutsideTheWindows) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::search_unscoped;
  const RunResult run = run_simulation(search_scenario(), 1, planted);
  EXPECT_TRUE(has_violation(run, 3, "without being a member at that seq")) << violations(run);
}

TEST(Search, InvariantElevenCatchesAnIndexThatKeepsDeletedText) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::search_keeps_deleted;
  const RunResult run = run_simulation(search_scenario(), 1, planted);
  EXPECT_TRUE(has_violation(run, 11, "after it had received its delete")) << violations(run);
}

// On a replicated shard every replica keeps its own index; a follower's learns from the log
// entries it applies, so the replica that takes over never serves texts deleted meanwhile.
TEST(Search, InvariantsHoldAcrossFailovers) {
  const Scenario scenario =
      load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/cluster_search.toml");
  const RunResult clean = run_simulation(scenario, 2, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.search_hits, 100u);
  SimOptions planted;
  planted.planted_bug = PlantedBug::follower_index_unfed;
  const RunResult run = run_simulation(scenario, 2, planted);
  EXPECT_TRUE(has_violation(run, 11, "after it had received its delete")) << violations(run);
}

}  // namespace
}  // namespace parley::sim
