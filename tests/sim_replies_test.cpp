// Replies, mentions and mute in the simulator (scenarios/replies.toml, engine rule 21): apps
// reply, name friends and mute chats, and invariants 3, 5 and 11 hold. Three planted bugs
// prove the checker sees what it claims to: a node whose mentions of users who muted the
// chat never push (invariant 5), one that gives quotes of deleted messages their text back
// (invariant 11), and one that gives quotes and edits of messages from outside the reader's
// membership windows a text (invariant 3).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "sim/scenario.hpp"
#include "sim/world.hpp"
#include "tests/sim_helpers.hpp"

namespace parley::sim {
namespace {

using testing::count;
using testing::records;
using testing::violations;

Scenario replies_scenario() {
  return load_scenario(std::string(PARLEY_SCENARIOS_DIR) + "/replies.toml");
}

const Violation* first_of(const RunResult& r, int invariant) {
  const auto& found = r.check.violations;
  const auto it = std::find_if(found.begin(), found.end(),
                               [&](const Violation& v) { return v.invariant == invariant; });
  return it == found.end() ? nullptr : &*it;
}

TEST(Replies, InvariantsHoldWithRepliesMentionsAndMutes) {
  const RunResult clean = run_simulation(replies_scenario(), 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.replies_sent, 0u);
  EXPECT_GT(clean.metrics.mentions_sent, 0u);
  EXPECT_GT(clean.metrics.mutes_sent, 0u);
  EXPECT_GT(count(clean, RecordKind::muted), 0u);
  // The checks had work to do: quotes of deleted messages reached devices, and pushes were
  // written while some chat was muted.
  const auto delivered = records(clean, RecordKind::delivered);
  EXPECT_TRUE(std::any_of(delivered.begin(), delivered.end(), [](const Record* r) {
    return r->text.ends_with(":deleted");
  })) << "no device got a quote of a deleted message";
  EXPECT_TRUE(std::any_of(delivered.begin(), delivered.end(), [](const Record* r) {
    return r->text.ends_with(":text");
  })) << "no device got a quote with text";
  EXPECT_GT(count(clean, RecordKind::push), 0u);
}

TEST(Replies, InvariantFiveCatchesAMentionNotPushedInAMutedChat) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::mention_unpushed;
  const RunResult run = run_simulation(replies_scenario(), 1, planted);
  const Violation* five = first_of(run, 5);
  ASSERT_NE(five, nullptr) << violations(run);
  EXPECT_NE(five->message.find("which mentions them"), std::string::npos) << five->message;
}

TEST(Replies, InvariantElevenCatchesAQuoteThatKeptDeletedText) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::deleted_text_served;
  // In the first seeds where a reply quoting a deleted message reached a device at all.
  const auto quote_kept_text = [](const Violation& v) {
    return v.invariant == 11 && v.message.find("quoting the text of") != std::string::npos;
  };
  RunResult run;
  bool caught = false;
  for (std::uint64_t seed = 1; seed <= 10 && !caught; ++seed) {
    run = run_simulation(replies_scenario(), seed, planted);
    caught = std::any_of(run.check.violations.begin(), run.check.violations.end(), quote_kept_text);
  }
  EXPECT_TRUE(caught) << violations(run);
}

// Dave is out of the group for a while (scenarios/replies.toml): replies quoting, and edits
// of, what was said meanwhile reach him without its text; a node that served it is reported
// by invariant 3 (in the first seeds where such a quote or edit came about at all).
TEST(Replies, InvariantThreeCatchesTextFromOutsideTheWindowInQuotesAndEdits) {
  SimOptions planted;
  planted.planted_bug = PlantedBug::outside_text_served;
  const Violation* three = nullptr;
  RunResult run;
  for (std::uint64_t seed = 1; seed <= 10 && three == nullptr; ++seed) {
    run = run_simulation(replies_scenario(), seed, planted);
    three = first_of(run, 3);
  }
  ASSERT_NE(three, nullptr) << "no seed in 1..10 caught text served from outside a window";
  EXPECT_NE(three->message.find("without being a member at that seq"), std::string::npos)
      << three->message;
  EXPECT_NE(three->message.find("got the text of"), std::string::npos) << three->message;
}

}  // namespace
}  // namespace parley::sim
