// The scenario loader: a file using every key, the defaults, and the errors. Each error case
// is a file in tests/scenario_errors/ whose second line is the exact error expected for it,
// its line included; one test runs them all.
#include "sim/scenario.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::sim {
namespace {

// The 1-based line of the first line of `text` containing `marker`, so the expectations
// below survive edits to the scenario text.
std::size_t line_containing(std::string_view text, std::string_view marker) {
  const std::size_t at = text.find(marker);
  if (at == std::string_view::npos) return 0;
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + at, '\n'));
}

constexpr std::string_view kEverything = R"(name = "everything"
description = "every key once"

[world]
seed = 42
duration_s = 120
settle_s = 30.5
nodes = 2
users = 80
devices_per_user = 2
push_tokens = false

[network]
latency_ms = 15
jitter_ms = 2.5
connect_ms = 40
reconnect_min_ms = 200
reconnect_max_ms = 8000

[node]
commit_ms = 0.25
batch_wait_ms = 3
batch_max = 64
tick_ms = 500
heartbeat_interval_ms = 4000
presence_timeout_ms = 12000
push_collapse_ms = 0
delivery_batch = 10
delivery_window = 40

[social]
contacts = "random"
contacts_per_user = 5

[[social.group]]
name = "team"
creator = 2
members = [3, 4, 2, 3]   # the creator and repeats count once

[[social.group]]
name = "everyone"
members = "all"

[traffic]
messages_per_user_per_minute = 2.5
group_percent = 50
text_min = 5
text_max = 500
burst_at_s = 60
burst_messages = 3

[[fault]]
at_s = 1
kind = "disconnect"
hosts = ["user:3", "device:2/1", "node:0", "users", "nodes", "user:3"]

[[fault]]
at_s = 2
kind = "partition"
hosts = "device:4/2"

[[fault]]   # heal
at_s = 3
kind = "heal"

[[fault]]
at_s = 4
kind = "swizzle"
hosts = ["node:1"]
step_ms = 250

[[fault]]   # crash
at_s = 5.5
kind = "crash"
node = 1
duration_s = 2

[[fault]]
at_s = 6
kind = "clock"
hosts = "user:7"
offset_ms = -300
drift_ppm = -100

[[fault]]
at_s = 7
kind = "slow_commit"
commit_ms = 500
duration_s = 10

[[fault]]
at_s = 8
kind = "logout"
hosts = ["user:9"]
duration_s = 0.5

[[fault]]
at_s = 9
kind = "leave_group"
user = 3
group = "team"

[[fault]]
at_s = 10
kind = "add_member"
user = 10
group = "team"

[[fault]]   # last
at_s = 120
kind = "remove_member"
user = 10
group = "everyone"

[random_faults]
disconnects_per_minute = 0.5
partitions_per_minute = 1
partition_max_s = 3
crashes_per_minute = 0.1
crash_max_s = 1.5
clock_skew_max_ms = 250
clock_drift_max_ppm = 50.5

[expect]
p99_delivery_ms_max = 500
p50_delivery_ms_max = 99.5
presence_flaps_max = 0
pushes_min = 1
pushes_max = 1000
delivered_min = 10
acked_min = 20
)";

TEST(Scenario, EveryKeyTopWorldNetworkNode) {
  const Scenario s = parse_scenario(kEverything, "scenarios/everything.toml");
  EXPECT_EQ(s.file, "scenarios/everything.toml");
  EXPECT_EQ(s.name, "everything");
  EXPECT_EQ(s.description, "every key once");
  EXPECT_EQ(s.seed, 42u);
  EXPECT_EQ(s.duration, 120'000'000);
  EXPECT_EQ(s.settle, 30'500'000);
  EXPECT_EQ(s.nodes, 2u);
  EXPECT_EQ(s.users, 80u);
  EXPECT_EQ(s.devices_per_user, 2u);
  EXPECT_FALSE(s.push_tokens);
  EXPECT_EQ(s.latency, 15'000);
  EXPECT_EQ(s.jitter, 2'500);
  EXPECT_EQ(s.connect_time, 40'000);
  EXPECT_EQ(s.reconnect_min, 200'000);
  EXPECT_EQ(s.reconnect_max, 8'000'000);
  EXPECT_EQ(s.commit, 250);
  EXPECT_EQ(s.batch_wait, 3'000);
  EXPECT_EQ(s.batch_max, 64u);
  EXPECT_EQ(s.tick, 500'000);
  EXPECT_EQ(s.heartbeat_interval, 4'000'000);
  EXPECT_EQ(s.presence_timeout, 12'000'000);
  EXPECT_EQ(s.push_collapse, 0);
  EXPECT_EQ(s.delivery_batch, 10u);
  EXPECT_EQ(s.delivery_window, 40u);
}

TEST(Scenario, EveryKeySocialTrafficRandomExpect) {
  const Scenario s = parse_scenario(kEverything, "everything.toml");
  EXPECT_EQ(s.contacts, "random");
  EXPECT_EQ(s.contacts_per_user, 5u);
  ASSERT_EQ(s.groups.size(), 2u);
  EXPECT_EQ(s.groups[0].name, "team");
  EXPECT_EQ(s.groups[0].creator, 2u);
  EXPECT_EQ(s.groups[0].members, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_FALSE(s.groups[0].all_members);
  EXPECT_EQ(s.groups[1].name, "everyone");
  EXPECT_EQ(s.groups[1].creator, 1u);
  EXPECT_TRUE(s.groups[1].all_members);
  EXPECT_TRUE(s.groups[1].members.empty());

  EXPECT_DOUBLE_EQ(s.messages_per_user_per_minute, 2.5);
  EXPECT_EQ(s.group_percent, 50u);
  EXPECT_EQ(s.text_min, 5u);
  EXPECT_EQ(s.text_max, 500u);
  EXPECT_EQ(s.burst_at, std::optional<TimeUs>(60'000'000));
  EXPECT_EQ(s.burst_messages, 3u);

  EXPECT_DOUBLE_EQ(s.disconnects_per_minute, 0.5);
  EXPECT_DOUBLE_EQ(s.partitions_per_minute, 1.0);
  EXPECT_EQ(s.partition_max, 3'000'000);
  EXPECT_DOUBLE_EQ(s.crashes_per_minute, 0.1);
  EXPECT_EQ(s.crash_max, 1'500'000);
  EXPECT_DOUBLE_EQ(s.clock_skew_max_ms, 250.0);
  EXPECT_DOUBLE_EQ(s.clock_drift_max_ppm, 50.5);

  EXPECT_EQ(s.p99_delivery_ms_max, std::optional<double>(500.0));
  EXPECT_EQ(s.p50_delivery_ms_max, std::optional<double>(99.5));
  EXPECT_EQ(s.presence_flaps_max, std::optional<std::uint64_t>(0));
  EXPECT_EQ(s.pushes_min, std::optional<std::uint64_t>(1));
  EXPECT_EQ(s.pushes_max, std::optional<std::uint64_t>(1000));
  EXPECT_EQ(s.delivered_min, std::optional<std::uint64_t>(10));
  EXPECT_EQ(s.acked_min, std::optional<std::uint64_t>(20));
}

TEST(Scenario, EveryKeyFaultsInFileOrderWithLines) {
  const Scenario s = parse_scenario(kEverything, "everything.toml");
  ASSERT_EQ(s.faults.size(), 11u);
  const FaultKind kinds[] = {
      FaultKind::disconnect,  FaultKind::partition,  FaultKind::heal,         FaultKind::swizzle,
      FaultKind::crash,       FaultKind::clock,      FaultKind::slow_commit,  FaultKind::logout,
      FaultKind::leave_group, FaultKind::add_member, FaultKind::remove_member};
  for (std::size_t i = 0; i < s.faults.size(); ++i)
    EXPECT_EQ(s.faults[i].kind, kinds[i]) << i;
  EXPECT_EQ(s.faults[0].line, line_containing(kEverything, "[[fault]]"));
  EXPECT_EQ(s.faults[2].line, line_containing(kEverything, "[[fault]]   # heal"));
  EXPECT_EQ(s.faults[10].line, line_containing(kEverything, "[[fault]]   # last"));

  const HostSet& all = s.faults[0].hosts;
  EXPECT_TRUE(all.all_users);
  EXPECT_TRUE(all.all_nodes);
  EXPECT_EQ(all.users, (std::vector<std::uint64_t>{3}));  // named twice, kept once
  EXPECT_EQ(all.nodes, (std::vector<std::uint32_t>{0}));
  ASSERT_EQ(all.devices.size(), 1u);
  EXPECT_EQ(all.devices[0], (std::pair<std::uint64_t, std::uint32_t>{2, 1}));

  const HostSet& one_device = s.faults[1].hosts;  // a bare string, not an array
  EXPECT_FALSE(one_device.all_users);
  ASSERT_EQ(one_device.devices.size(), 1u);
  EXPECT_EQ(one_device.devices[0], (std::pair<std::uint64_t, std::uint32_t>{4, 2}));
  EXPECT_TRUE(one_device.users.empty());
}

TEST(Scenario, EveryKeyFaultFields) {
  const Scenario s = parse_scenario(kEverything, "everything.toml");
  ASSERT_EQ(s.faults.size(), 11u);
  EXPECT_EQ(s.faults[0].at, 1'000'000);
  EXPECT_EQ(s.faults[3].step, 250'000);
  EXPECT_EQ(s.faults[4].at, 5'500'000);
  EXPECT_EQ(s.faults[4].node, 1u);
  EXPECT_EQ(s.faults[4].duration, 2'000'000);
  EXPECT_EQ(s.faults[5].offset, -300'000);
  EXPECT_EQ(s.faults[5].drift_ppm, -100);
  EXPECT_EQ(s.faults[5].hosts.users, (std::vector<std::uint64_t>{7}));
  EXPECT_EQ(s.faults[6].node, 0u) << "node defaults to 0";
  EXPECT_EQ(s.faults[6].commit, 500'000);
  EXPECT_EQ(s.faults[6].duration, 10'000'000);
  EXPECT_EQ(s.faults[7].duration, 500'000);
  EXPECT_EQ(s.faults[8].user, 3u);
  EXPECT_EQ(s.faults[8].group, "team");
  EXPECT_EQ(s.faults[10].at, 120'000'000) << "at_s may equal duration_s";
  EXPECT_EQ(s.faults[10].group, "everyone");
  EXPECT_EQ(s.faults[2].step, 1'000'000) << "options a kind does not take keep their defaults";
}

TEST(Scenario, DefaultsWhenSectionsAreAbsent) {
  const Scenario s = parse_scenario("", "some/dir/quiet.toml");
  const Scenario d;
  EXPECT_EQ(s.name, "quiet") << "the file's stem";
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.seed, d.seed);
  EXPECT_EQ(s.duration, 60'000'000);
  EXPECT_EQ(s.settle, d.settle);
  EXPECT_EQ(s.nodes, d.nodes);
  EXPECT_EQ(s.users, d.users);
  EXPECT_TRUE(s.push_tokens);
  EXPECT_EQ(s.latency, d.latency);
  EXPECT_EQ(s.reconnect_max, d.reconnect_max);
  EXPECT_EQ(s.commit, d.commit);
  EXPECT_EQ(s.presence_timeout, d.presence_timeout);
  EXPECT_EQ(s.delivery_window, d.delivery_window);
  EXPECT_EQ(s.contacts, "ring");
  EXPECT_TRUE(s.groups.empty());
  EXPECT_DOUBLE_EQ(s.messages_per_user_per_minute, 6.0);
  EXPECT_EQ(s.text_max, d.text_max);
  EXPECT_FALSE(s.burst_at.has_value());
  EXPECT_TRUE(s.faults.empty());
  EXPECT_EQ(s.crash_max, d.crash_max);
  EXPECT_FALSE(s.p99_delivery_ms_max.has_value());
  EXPECT_FALSE(s.acked_min.has_value());
}

TEST(Scenario, DefaultsForKeysASectionLeavesOut) {
  const Scenario s = parse_scenario("[world]\nusers = 5\n[node]\ntick_ms = 100\n", "x");
  EXPECT_EQ(s.name, "x");
  EXPECT_EQ(s.users, 5u);
  EXPECT_EQ(s.nodes, 1u);
  EXPECT_EQ(s.tick, 100'000);
  EXPECT_EQ(s.commit, 2'000);
}

TEST(Scenario, TimesRoundToTheNearestMicrosecond) {
  const Scenario s = parse_scenario(
      "[network]\nlatency_ms = 0.0004\njitter_ms = 0.0009\nconnect_ms = 1.0\n", "t.toml");
  EXPECT_EQ(s.latency, 0);
  EXPECT_EQ(s.jitter, 1);
  EXPECT_EQ(s.connect_time, 1'000);
}

// Issue 14, section 7: an NTP-style step of a host's wall clock, by a signed offset_ms.
TEST(Scenario, ClockStepTakesHostsAndASignedStep) {
  const Scenario s = parse_scenario(
      "[[fault]]\nat_s = 5\nkind = \"clock_step\"\nhosts = \"node:0\"\noffset_ms = -30000\n"
      "[[fault]]\nat_s = 6\nkind = \"clock_step\"\nhosts = [\"nodes\", \"user:1\"]\n"
      "offset_ms = 30000\n",
      "t.toml");
  ASSERT_EQ(s.faults.size(), 2u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::clock_step);
  EXPECT_EQ(s.faults[0].offset, -30'000'000);
  EXPECT_EQ(s.faults[0].hosts.nodes, std::vector<std::uint32_t>{0});
  EXPECT_TRUE(s.faults[1].hosts.all_nodes);
  EXPECT_EQ(s.faults[1].offset, 30'000'000);
}

// One fewer than the 101 of tests/scenario_errors/group_over_a_hundred.toml fits.
TEST(Scenario, AHundredMembersFit) {
  std::string members;
  for (int user = 2; user <= 100; ++user)
    members += std::to_string(user) + ", ";
  const std::string fits =
      "[world]\nusers = 200\n[[social.group]]\nname = \"big\"\nmembers = [" + members + "]\n";
  EXPECT_EQ(parse_scenario(fits, "t.toml").groups.at(0).members.size(), 99u);
}

// --- errors: the files in tests/scenario_errors/ ---------------------------------------

constexpr std::string_view kErrorLine = "# error: ";

// Every file there is a scenario the loader must refuse. It opens with a sentence on what
// it refuses and the line "# error: LINE: MESSAGE": loading PATH must fail with exactly
// "PATH:LINE: MESSAGE". With PARLEY_REWRITE=1 the error lines are rewritten from what the
// loader says instead (then review the diff).
TEST(Scenario, ClusterKeysAndFaults) {
  const Scenario s = parse_scenario(R"([cluster]
replicas = 5
etcd_members = 5
lease_ttl_s = 4
append_ms = 3.5
follow_ms = 40
etcd_election_ms = 800
[[fault]]
at_s = 1
kind = "etcd_kill"
member = 4
duration_s = 2
[[fault]]
at_s = 2
kind = "append_unknown"
lands = false
[[fault]]
at_s = 3
kind = "lease_skew"
node = 4
duration_s = 5
drift_ppm = -50000
[[fault]]
at_s = 4
kind = "append_unknown"
)",
                                    "cluster.toml");
  EXPECT_EQ(s.replicas, 5u);
  EXPECT_EQ(s.nodes, 5u);  // one shard on five replicas
  EXPECT_EQ(s.etcd_members, 5u);
  EXPECT_EQ(s.lease_ttl_s, 4);
  EXPECT_EQ(s.append_time, 3'500);
  EXPECT_EQ(s.follow_interval, 40'000);
  EXPECT_EQ(s.etcd_election, 800'000);
  ASSERT_EQ(s.faults.size(), 4u);
  EXPECT_EQ(s.faults[0].kind, FaultKind::etcd_kill);
  EXPECT_EQ(s.faults[0].member, 4u);
  EXPECT_EQ(s.faults[1].lands, false);
  EXPECT_EQ(s.faults[2].node, 4u);
  EXPECT_EQ(s.faults[2].drift_ppm, -50'000);
  EXPECT_EQ(s.faults[3].lands, std::nullopt);  // drawn from the seed
  const Scenario plain = parse_scenario("", "plain.toml");
  EXPECT_EQ(plain.replicas, 0u);  // no cluster: one node, no log
}

TEST(ScenarioError, EachFileFailsWithTheErrorItNames) {
  const char* rewrite_env = std::getenv("PARLEY_REWRITE");
  const bool rewrite = rewrite_env != nullptr && std::strcmp(rewrite_env, "") != 0 &&
                       std::strcmp(rewrite_env, "0") != 0;
  std::vector<std::string> files;
  std::error_code listing;
  for (const auto& entry :
       std::filesystem::directory_iterator(PARLEY_SCENARIO_ERRORS_DIR, listing)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  EXPECT_GE(files.size(), 60u) << PARLEY_SCENARIO_ERRORS_DIR;
  for (const std::string& path : files) {
    std::vector<std::string> lines;
    {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    }
    const auto error_line = std::find_if(lines.begin(), lines.end(), [](const std::string& line) {
      return line.starts_with(kErrorLine);
    });
    if (error_line == lines.end()) {
      ADD_FAILURE() << path << ": no \"" << kErrorLine << "LINE: MESSAGE\" line";
      continue;
    }
    std::string actual = "(loaded without error)";
    try {
      load_scenario(path);
    } catch (const ScenarioError& error) {
      actual = error.what();
    }
    const std::string expected = path + ":" + error_line->substr(kErrorLine.size());
    if (actual == expected) continue;
    if (rewrite && actual.starts_with(path + ":")) {
      *error_line = std::string(kErrorLine) + actual.substr(path.size() + 1);
      std::ofstream out(path, std::ios::trunc);
      for (const std::string& line : lines)
        out << line << "\n";
      continue;
    }
    ADD_FAILURE() << path << ":" << (error_line - lines.begin()) + 1
                  << ": the loader's error differs\n  expected: " << expected
                  << "\n  actual:   " << actual
                  << "\n  (PARLEY_REWRITE=1 rewrites the error lines from the actual errors)";
  }
}

TEST(ScenarioFile, LoadsAFileAndNamesItByItsStem) {
  const std::string path = ::testing::TempDir() + "scenario_test_load.toml";
  {
    std::ofstream out(path);
    out << "[world]\nusers = 4\n";
  }
  const Scenario s = load_scenario(path);
  std::remove(path.c_str());
  EXPECT_EQ(s.file, path);
  EXPECT_EQ(s.name, "scenario_test_load");
  EXPECT_EQ(s.users, 4u);
}

TEST(ScenarioFile, ErrorsNameThePath) {
  const std::string path = ::testing::TempDir() + "scenario_test_bad.toml";
  {
    std::ofstream out(path);
    out << "[world]\n\nnodes = 17\n";
  }
  try {
    load_scenario(path);
    ADD_FAILURE() << "no error";
  } catch (const ScenarioError& error) {
    EXPECT_EQ(std::string(error.what()).rfind(path + ":3: [world] nodes:", 0), 0u) << error.what();
  }
  std::remove(path.c_str());
}

TEST(ScenarioFile, MissingFile) {
  const std::string path = ::testing::TempDir() + "no_such_scenario.toml";
  try {
    load_scenario(path);
    ADD_FAILURE() << "no error";
  } catch (const ScenarioError& error) {
    EXPECT_EQ(std::string(error.what()), path + ": cannot read file");
  }
}

}  // namespace
}  // namespace parley::sim
