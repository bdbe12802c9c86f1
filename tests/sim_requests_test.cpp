// Message requests in the simulator (scenarios/requests.toml, engine rule 22): apps write to
// strangers and accept some of the requests that makes, and invariants 5 and 12 hold. Two
// planted bugs prove the checker sees what it claims to: a node that pushes a stranger's
// messages to the one written to, and one that counts a stranger's chat unread.
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

Scenario requests_scenario() {
  return load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/requests.toml");
}

bool has_violation(const RunResult& run, int invariant, const std::string& words) {
  const auto& found = run.check.violations;
  return std::any_of(found.begin(), found.end(), [&](const Violation& v) {
    return v.invariant == invariant && v.message.find(words) != std::string::npos;
  });
}

TEST(Requests, InvariantsHoldWithStrangersAndAccepts) {
  const RunResult clean = run_simulation(requests_scenario(), 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.stranger_sent, 0u);
  EXPECT_GT(clean.metrics.accepts_sent, 0u);
  // The checks had work to do: requests were made and answered, the apps were told unread
  // counts, and pushes went out.
  EXPECT_GT(count(clean, RecordKind::sent, "stranger"), 0u);
  EXPECT_GT(count(clean, RecordKind::answered), 0u);
  EXPECT_GT(count(clean, RecordKind::unread), 0u);
  EXPECT_GT(count(clean, RecordKind::push), 0u);
}

TEST(Requests, InvariantTwelveCatchesARequestThatPushes) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::request_pushed;
  const RunResult run = run_simulation(requests_scenario(), 1, planted);
  EXPECT_TRUE(has_violation(run, 12, "a message request for them")) << violations(run);
}

TEST(Requests, InvariantTwelveCatchesARequestCountedUnread) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::request_counted;
  const RunResult run = run_simulation(requests_scenario(), 1, planted);
  EXPECT_TRUE(has_violation(run, 12, "unread in channel")) << violations(run);
}

}  // namespace
}  // namespace parley::sim
