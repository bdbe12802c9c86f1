// Edits and deletes in the simulator (scenarios/edits.toml, engine rule 20): apps edit and
// delete their own messages, every device receives the entries, and invariants 2 and 11
// hold. Two planted bugs prove the checker sees what it claims to: a node that delivers each
// edited or deleted entry twice (invariant 2), and one that gives deleted messages their
// text back in what it sends (invariant 11).
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

// Small enough to run three times in a test; history walks re-read deleted messages.
Scenario edits_scenario() {
  return parse_scenario(testing::four_friends_in_a_group(40) + R"(
[traffic]
messages_per_user_per_minute = 20
group_percent = 50
edit_percent = 40
delete_percent = 30
history_walks_per_user_per_minute = 6
history_walk_pages = 3
history_page_size = 10
[[fault]]
at_s = 5
kind = "disconnect"
hosts = "device:2/1"
every_s = 7
)",
                        "edits.toml");
}

bool tombstone_in_a_history_page(const RunResult& run) {
  return std::any_of(run.history.begin(), run.history.end(), [](const Record& r) {
    return r.kind == RecordKind::read && r.detail == "text" && r.flag;
  });
}

TEST(Edits, InvariantElevenHoldsAndDevicesGetEveryEditAndDelete) {
  // The first seed in which some history page showed a deleted message (the check of
  // deleted text had work to do); the invariants hold in every seed tried.
  RunResult clean;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    clean = run_simulation(edits_scenario(), seed, {});
    EXPECT_TRUE(clean.check.violations.empty()) << "seed " << seed << ": " << violations(clean);
    if (tombstone_in_a_history_page(clean)) break;
  }
  EXPECT_GT(clean.metrics.edits_sent, 0u);
  EXPECT_GT(clean.metrics.deletes_sent, 0u);
  EXPECT_EQ(count(clean, RecordKind::revised),
            clean.metrics.edits_sent + clean.metrics.deletes_sent);
  EXPECT_GT(count(clean, RecordKind::delivered, "edited"), 0u);
  EXPECT_GT(count(clean, RecordKind::delivered, "deleted"), 0u);
  EXPECT_TRUE(tombstone_in_a_history_page(clean)) << "no history page showed a deleted message";
}

TEST(Edits, InvariantTwoCatchesAnEditDeliveredTwice) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::revision_sent_twice;
  const RunResult twice = run_simulation(edits_scenario(), 1, planted);
  ASSERT_FALSE(twice.check.violations.empty());
  EXPECT_EQ(twice.check.violations[0].invariant, 2) << violations(twice);
}

TEST(Edits, InvariantElevenCatchesDeletedTextServedAgain) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::deleted_text_served;
  // In the first seeds where a device saw a deleted message again at all (a history page,
  // a redelivery after a reconnect).
  RunResult served;
  std::vector<Violation>::const_iterator eleven;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    served = run_simulation(edits_scenario(), seed, planted);
    const auto& found = served.check.violations;
    eleven =
        std::find_if(found.begin(), found.end(), [](const auto& v) { return v.invariant == 11; });
    if (eleven != found.end()) break;
  }
  ASSERT_NE(eleven, served.check.violations.end()) << violations(served);
  EXPECT_NE(eleven->message.find("with its text after it had received its delete"),
            std::string::npos)
      << eleven->message;
}

}  // namespace
}  // namespace parley::sim
