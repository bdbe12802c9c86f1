// The scenario language's scripting end to end on small inline scenarios (docs/scenarios.md):
// [[send]], named and timed partitions, repeating faults, [[traffic.burst]], [[user]],
// group actions `by` a user with their outcome in the trace, and the scoped expectations.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "sim/scenario.hpp"
#include "sim/world.hpp"
#include "tests/sim_helpers.hpp"

namespace parley::sim {
namespace {

using testing::count;
using testing::records;
using testing::violations;

constexpr TimeUs kSecond = 1'000'000;

RunResult run(const std::string& text, std::uint64_t seed = 1) {
  return run_simulation(parse_scenario(text, "inline.toml"), seed, {});
}

bool has_fault_text(const RunResult& r, const std::string& text) {
  return std::any_of(r.history.begin(), r.history.end(), [&](const Record& record) {
    return record.kind == RecordKind::fault && record.text.find(text) != std::string::npos;
  });
}

// The size edge: 99,999 four-byte code points are stored and delivered; 100,000 are refused
// with message_too_long and nothing of them is stored (invariant 1 checks the store).
TEST(ScriptedSend, TheLimitIsStoredAndOnePastItIsRefused) {
  const std::string scenario = R"(
[world]
users = 2
duration_s = 10
settle_s = 5
[traffic]
messages_per_user_per_minute = 0
[[send]]
at_s = 3
user = 1
to = 2
text = "😀"
repeat = 99999
outcome = "acked"
[[send]]
at_s = 4
user = 1
to = 2
text = "😀"
repeat = 100000
outcome = "message_too_long"
)";
  const RunResult result = run(scenario);
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  EXPECT_TRUE(result.expectation_failures.empty()) << violations(result);
  EXPECT_EQ(result.metrics.acked, 1u);
  EXPECT_EQ(result.metrics.refused, 1u);
  EXPECT_EQ(result.metrics.errors.at("message_too_long"), 1u);
  const auto refused = records(result, RecordKind::refused);
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]->text, "u1d1s15");  // user, device, the [[send]]'s line
  EXPECT_EQ(refused[0]->at / kSecond, 4);

  // The same sends, each expecting the other's outcome: both are reported.
  std::string swapped = scenario;
  swapped.replace(swapped.find("outcome = \"acked\""), 17, "outcome = \"x\"");
  EXPECT_THROW(parse_scenario(swapped, "bad.toml"), ScenarioError);
  swapped = scenario;
  swapped.replace(swapped.find("outcome = \"message_too_long\""), 28, "outcome = \"acked\"");
  swapped.replace(swapped.find("outcome = \"acked\""), 17, "outcome = \"message_too_long\"");
  const RunResult wrong = run(swapped);
  ASSERT_EQ(wrong.expectation_failures.size(), 2u) << violations(wrong);
  EXPECT_EQ(wrong.expectation_failures[0],
            "[[send]] at line 8: outcome acked, expected message_too_long");
}

// Two overlapping partitions, healed one at a time by name: user 1 is back after the first
// heal while user 2 stays cut off until the second; a partition with a duration heals itself.
TEST(Partitions, NamedPartitionsHealOneByOneAndTimedOnesByThemselves) {
  const RunResult result = run(R"(
[world]
users = 3
duration_s = 40
settle_s = 10
[traffic]
messages_per_user_per_minute = 0
[[fault]]
at_s = 5
kind = "partition"
hosts = "user:1"
partition = "a"
[[fault]]
at_s = 5
kind = "partition"
hosts = "user:2"
partition = "b"
[[fault]]
at_s = 10
kind = "partition"
hosts = "user:3"
duration_s = 4
[[fault]]
at_s = 20
kind = "heal"
partition = "a"
[[fault]]
at_s = 30
kind = "heal"
partition = "b"
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  // The first sign of life each user's device shows the node after `from`.
  const auto back_at = [&](UserId user, TimeUs from) {
    for (const Record& r : result.history) {
      if (r.kind == RecordKind::life && r.user == user && r.at > from) return r.at;
    }
    return TimeUs{-1};
  };
  const TimeUs one = back_at(1, 6 * kSecond);
  const TimeUs two = back_at(2, 6 * kSecond);
  const TimeUs three = back_at(3, 11 * kSecond);
  EXPECT_GE(one, 20 * kSecond);
  EXPECT_LT(one, 30 * kSecond);
  EXPECT_GE(two, 30 * kSecond);
  EXPECT_GE(three, 14 * kSecond);
  EXPECT_LT(three, 20 * kSecond);
  EXPECT_THROW(parse_scenario("[[fault]]\nat_s = 1\nkind = \"heal\"\npartition = \"zz\"\n", "x"),
               ScenarioError);
}

// A fault that repeats fires at at_s, then after each drawn gap until until_s, each firing
// with its own duration drawn from [duration_s, duration_max_s].
TEST(RepeatingFaults, FireOnTheirScheduleWithDrawnDurations) {
  const RunResult result = run(R"(
[world]
users = 2
duration_s = 60
settle_s = 10
[[fault]]
at_s = 5
kind = "crash"
duration_s = 1
duration_max_s = 3
every_s = 7
every_max_s = 9
until_s = 50
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  const auto crashes = records(result, RecordKind::crash);
  const auto restarts = records(result, RecordKind::restart);
  ASSERT_GE(crashes.size(), 6u);  // at 5, then every 7 to 9 s up to 50: 6 or 7 times
  ASSERT_LE(crashes.size(), 7u);
  ASSERT_EQ(restarts.size(), crashes.size());
  EXPECT_EQ(crashes[0]->at, 5 * kSecond);
  bool durations_differ = false;
  for (std::size_t i = 0; i < crashes.size(); ++i) {
    const TimeUs down = restarts[i]->at - crashes[i]->at;
    EXPECT_GE(down, 1 * kSecond);
    EXPECT_LE(down, 3 * kSecond);
    if (i > 0) {
      const TimeUs gap = crashes[i]->at - crashes[i - 1]->at;
      EXPECT_GE(gap, 7 * kSecond);
      EXPECT_LE(gap, 9 * kSecond);
      durations_differ |= down != restarts[0]->at - crashes[0]->at;
    }
    EXPECT_LE(crashes[i]->at, 50 * kSecond);
  }
  EXPECT_TRUE(durations_differ);
}

// Bursts with a duration spread each user's messages over it; `users` limits who bursts.
TEST(Bursts, SpreadOverTheirDurationForTheirUsers) {
  const RunResult result = run(R"(
[world]
users = 3
duration_s = 60
settle_s = 10
[social]
contacts = "all"
[traffic]
messages_per_user_per_minute = 0
[[traffic.burst]]
at_s = 10
duration_s = 5
messages = 20
users = [1, 3]
[[traffic.burst]]
at_s = 40
messages = 4
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  std::map<UserId, int> first;
  std::map<UserId, int> second;
  for (const Record* sent : records(result, RecordKind::sent)) {
    if (sent->at >= 10 * kSecond && sent->at <= 15 * kSecond) ++first[sent->user];
    if (sent->at == 40 * kSecond) ++second[sent->user];
  }
  EXPECT_EQ(first, (std::map<UserId, int>{{1, 20}, {3, 20}}));
  EXPECT_EQ(second, (std::map<UserId, int>{{1, 4}, {2, 4}, {3, 4}}));
  EXPECT_EQ(result.metrics.sent, 52u);
}

// [[user]] settings apply to the named users only: user 1 has three devices and an app that
// never heartbeats, so with nothing to send or receive they are shown offline; user 3 writes
// (to users 2 and 4, its ring neighbours); the others stay online.
TEST(UserSettings, ApplyToTheNamedUsersOnly) {
  const RunResult result = run(R"(
[world]
users = 4
duration_s = 60
settle_s = 0
[traffic]
messages_per_user_per_minute = 0
[[user]]
users = 1
devices = 3
heartbeat_interval_ms = 0
[[user]]
users = [3]
messages_per_minute = 30
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  std::map<UserId, std::set<DeviceId>> devices;
  std::map<UserId, int> sent;
  std::set<UserId> offline;
  for (const Record& r : result.history) {
    if (r.kind == RecordKind::life) devices[r.user].insert(r.device);
    if (r.kind == RecordKind::sent) ++sent[r.user];
    if (r.kind == RecordKind::presence && !r.flag) offline.insert(r.user);
  }
  EXPECT_EQ(devices[1], (std::set<DeviceId>{1, 2, 3}));
  EXPECT_EQ(devices[2], (std::set<DeviceId>{4}));
  EXPECT_EQ(devices[3], (std::set<DeviceId>{5}));
  EXPECT_EQ(devices[4], (std::set<DeviceId>{6}));
  EXPECT_EQ(sent[1], 0);
  EXPECT_EQ(sent[2], 0);
  EXPECT_GT(sent[3], 10);
  EXPECT_EQ(offline, (std::set<UserId>{1}));
}

// A group action `by` a user is issued as that user; the trace names the action and its
// outcome: the departed creator's add is refused, the admin's succeeds.
TEST(GroupActions, ByAUserAndTheOutcomeInTheTrace) {
  const RunResult result = run(R"(
[world]
users = 4
duration_s = 30
settle_s = 5
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
by = 1
outcome = "ok"
[[fault]]
at_s = 15
kind = "add_member"
group = "g"
user = 4
outcome = "ok"
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  EXPECT_TRUE(has_fault_text(result, "group action at line 14: leave_group of 'g' by user 1: ok"));
  EXPECT_TRUE(has_fault_text(result,
                             "group action at line 19: add_member of user 4 to 'g' by user 1: "
                             "refused not_a_member"));
  EXPECT_TRUE(has_fault_text(
      result, "group action at line 26: add_member of user 4 to 'g' by user 2 (the admin): ok"));
  // The fault's `outcome` holds each action to what it must come to.
  EXPECT_EQ(result.expectation_failures,
            std::vector<std::string>{"group action at line 19: outcome not_a_member, expected ok"});
}

// [[expect.user]] and [[expect.group]] hold each user and group to its own targets, and the
// [expect] errors_max table to a count per error code.
TEST(ScopedExpectations, ReportEachMissedTargetWithItsScope) {
  const RunResult result = run(R"(
[world]
users = 3
duration_s = 30
settle_s = 5
[social]
contacts = "all"
[[social.group]]
name = "g"
creator = 1
members = [2]
[traffic]
messages_per_user_per_minute = 20
group_percent = 50
[[send]]
at_s = 5
user = 1
to = 2
text = ""
outcome = "message_empty"
[expect]
errors_max = { message_empty = 0 }
[[expect.user]]
user = 3
pushes_max = 0
delivered_min = 1000000
[[expect.group]]
group = "g"
delivered_min = 1
delivery_ms_max = 0.001
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  const auto& f = result.expectation_failures;
  ASSERT_EQ(f.size(), 3u) << violations(result);
  EXPECT_EQ(f[0], "error frames message_empty = 1 > 0");
  EXPECT_EQ(f[1].rfind("user 3 delivered = ", 0), 0u) << f[1];
  EXPECT_EQ(f[2].rfind("group 'g' slowest delivery = ", 0), 0u) << f[2];
}

// Apps that scroll back through history: user 3, removed from the group and added back,
// pages through it and reads both of their windows but nothing posted while they were out
// (invariant 3 checks every `read` record; here the test also looks itself).
TEST(HistoryWalks, AReAddedMemberReadsOnlyTheirWindows) {
  const RunResult result = run(R"(
[world]
users = 3
duration_s = 60
settle_s = 10
[social]
contacts = "all"
[[social.group]]
name = "g"
creator = 1
members = [2, 3]
[traffic]
messages_per_user_per_minute = 30
group_percent = 100
history_walks_per_user_per_minute = 30
history_page_size = 3
history_walk_pages = 50
[[fault]]
at_s = 10
kind = "remove_member"
group = "g"
user = 3
[[fault]]
at_s = 20
kind = "add_member"
group = "g"
user = 3
)");
  EXPECT_TRUE(result.check.violations.empty()) << violations(result);
  EXPECT_GT(result.metrics.history_pages, 10u);
  // The group's seqs of user 3's removal and re-add, from what user 1 received.
  Seq removed = 0;
  Seq added = 0;
  ChannelId group = 0;
  for (const Record* r : records(result, RecordKind::delivered)) {
    if (r->user != 1) continue;
    if (r->detail == "member_removed") removed = r->seq;
    if (r->detail == "member_added") added = r->seq;
    if (r->detail == "member_added") group = r->channel;
  }
  ASSERT_GT(removed, 0u);
  ASSERT_GT(added, removed + 1);  // messages were posted while user 3 was out
  std::set<Seq> read_by_three;
  for (const Record* r : records(result, RecordKind::read)) {
    if (r->user == 3 && r->channel == group) read_by_three.insert(r->seq);
  }
  bool before = false;
  bool after = false;
  for (Seq seq : read_by_three) {
    EXPECT_FALSE(seq > removed && seq < added) << "user 3 read seq " << seq;
    before |= seq < removed;
    after |= seq > added;
  }
  EXPECT_TRUE(before);
  EXPECT_TRUE(after);
}

// presence_repeats_max catches a re-announcement: with a planted bug that sends every
// presence event twice, the repeats are counted and the expectation fails; without it a
// world with restarts has none.
TEST(PresenceRepeats, ARepeatedPresenceEventIsCounted) {
  const Scenario scenario = parse_scenario(R"(
[world]
users = 6
devices_per_user = 2
duration_s = 60
settle_s = 20
[[fault]]
at_s = 5
kind = "crash"
duration_s = 1
every_s = 10
[[fault]]
at_s = 20
kind = "partition"
hosts = "user:2"
duration_s = 40
[expect]
presence_repeats_max = 0
)",
                                           "repeats.toml");
  const RunResult clean = run_simulation(scenario, 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_TRUE(clean.expectation_failures.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.presence_events, 0u);  // user 2 went offline and came back
  EXPECT_EQ(clean.metrics.presence_repeats, 0u);
  SimOptions planted;
  planted.planted_bug = PlantedBug::presence_sent_twice;
  const RunResult twice = run_simulation(scenario, 1, planted);
  EXPECT_EQ(twice.metrics.presence_repeats, twice.metrics.presence_events / 2);
  ASSERT_EQ(twice.expectation_failures.size(), 1u);
  EXPECT_EQ(twice.expectation_failures[0].rfind("presence repeats = ", 0), 0u);
}

// Typing in the simulator (scenarios/typing.toml): apps send starts and stops, devices
// receive typing events, and invariant 9 holds. A planted bug that fans every typing event
// out twice breaks it, with the record cited.
TEST(Typing, InvariantNineCatchesATypingEventSentTwice) {
  const Scenario scenario = parse_scenario(testing::four_friends_in_a_group(40) + R"(
[traffic]
messages_per_user_per_minute = 20
typing_percent = 100
)",
                                           "typing.toml");
  const RunResult clean = run_simulation(scenario, 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.typing_sent, 0u);
  EXPECT_GT(clean.metrics.typing_events, 0u);
  SimOptions planted;
  planted.planted_bug = PlantedBug::typing_sent_twice;
  const RunResult twice = run_simulation(scenario, 1, planted);
  ASSERT_FALSE(twice.check.violations.empty());
  EXPECT_EQ(twice.check.violations[0].invariant, 9);
  EXPECT_NE(twice.check.violations[0].message.find("twice in one fanout"), std::string::npos)
      << twice.check.violations[0].message;
}

// Receipts in the simulator (scenarios/receipts.toml): apps mark what their people read,
// devices receive receipt events, and invariant 10 holds. A planted bug that makes every
// receipt event claim a read at delivery (read_seq = delivered_seq) breaks it: the read
// position told passes what the reader had marked read.
TEST(Receipts, InvariantTenCatchesAReadClaimedAtDelivery) {
  const Scenario scenario = parse_scenario(testing::four_friends_in_a_group(30) + R"(
[traffic]
messages_per_user_per_minute = 20
group_percent = 50
read_percent = 60
[[fault]]
at_s = 5
kind = "disconnect"
hosts = "device:2/1"
every_s = 7
)",
                                           "receipts.toml");
  const RunResult clean = run_simulation(scenario, 1, {});
  EXPECT_TRUE(clean.check.violations.empty()) << violations(clean);
  EXPECT_GT(clean.metrics.marks_sent, 0u);
  EXPECT_GT(clean.metrics.receipt_events, 0u);
  EXPECT_EQ(records(clean, RecordKind::marked).size(), clean.metrics.marks_sent);
  const auto receipts = records(clean, RecordKind::receipt);
  EXPECT_TRUE(std::any_of(receipts.begin(), receipts.end(), [](const Record* r) {
    return r->inbox_seq != 0;
  })) << "no receipt told a read position";
  SimOptions planted;
  planted.planted_bug = PlantedBug::read_receipt_early;
  const RunResult early = run_simulation(scenario, 1, planted);
  ASSERT_FALSE(early.check.violations.empty());
  EXPECT_EQ(early.check.violations[0].invariant, 10);
  EXPECT_NE(early.check.violations[0].message.find("had marked the channel read only up to"),
            std::string::npos)
      << early.check.violations[0].message;
}

}  // namespace
}  // namespace parley::sim
