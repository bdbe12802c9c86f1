// cluster::Replica on a real three-member etcd and on host::MemoryLog: followers that replay the
// log reach the leader's exact durable state (on LMDB and on the memory store alike), a deposed
// leader stores and releases nothing, and a restarted replica resumes at its applied index
// with the same engine memory (live connections, presence) as one that never restarted.
#include <gtest/gtest.h>

#include <memory>

#include "cluster/etcd_log.hpp"
#include "cluster/replica.hpp"
#include "host/memory_log.hpp"
#include "search/feed.hpp"
#include "storage/lmdb_store.hpp"
#include "storage/memory_store.hpp"
#include "tests/etcd_cluster.hpp"

namespace {

using namespace parley::engine;
using namespace std::chrono_literals;
using parley::cluster::EtcdClient;
using parley::cluster::EtcdLog;
using parley::cluster::Replica;
using parley::host::MemoryLog;
using parley::storage::LmdbStore;
using parley::storage::MemoryStore;
using parley::testing::EtcdCluster;
using parley::testing::TempDir;

constexpr const char* kPrefix = "/parley/test/shard/0/";

// Every table's every key and value, hashed: equal digests, equal state.
std::uint64_t state_digest(Store& store) {
  store.begin();
  const std::uint64_t digest = parley::cluster::state_digest(store);
  store.abort();
  return digest;
}

struct Node {
  parley::host::ReplicatedLog& log;
  std::unique_ptr<Store> store;
  std::unique_ptr<Replica> replica;

  Node(parley::host::ReplicatedLog& shard_log, std::unique_ptr<Store> own_store)
      : log(shard_log), store(std::move(own_store)) {
    replica = std::make_unique<Replica>(*store, log, EngineConfig{});
    replica->open(1'000'000);
  }

  bool has_user(std::string_view name) {
    return replica->core().read(
        [&](const Engine& engine) { return engine.user_by_name(name).has_value(); });
  }

  Effects lead(std::uint64_t token, std::vector<Input> inputs, TimeUs now) {
    auto outcome = replica->lead_batch(token, inputs, now);
    auto* released = std::get_if<Replica::Released>(&outcome);
    if (released == nullptr) throw std::runtime_error("the batch was not released");
    return std::move(released->effects);
  }
};

// One shard's log as each node sees it: on a real etcd (a client and an EtcdLog per node)
// or in memory (one MemoryLog shared by all).
class ShardLog {
 public:
  virtual ~ShardLog() = default;
  virtual parley::host::ReplicatedLog& for_node() = 0;
  // The lease ends, as when its holder is paused or cut off past its TTL.
  virtual void expire(std::int64_t lease) = 0;
};

class EtcdShardLog final : public ShardLog {
 public:
  parley::host::ReplicatedLog& for_node() override {
    clients_.push_back(std::make_unique<EtcdClient>(etcd_.endpoints(), 2s));
    logs_.push_back(std::make_unique<EtcdLog>(*clients_.back(), kPrefix));
    return *logs_.back();
  }
  void expire(std::int64_t lease) override { clients_.front()->lease_revoke(lease); }

 private:
  EtcdCluster etcd_;
  std::vector<std::unique_ptr<EtcdClient>> clients_;
  std::vector<std::unique_ptr<EtcdLog>> logs_;
};

class MemoryShardLog final : public ShardLog {
 public:
  parley::host::ReplicatedLog& for_node() override { return log; }
  void expire(std::int64_t lease) override { log.expire(lease); }
  MemoryLog log;
};

AccountResult account_result(const Effects& effects) {
  for (const Effect& effect : effects)
    if (const auto* result = std::get_if<AccountResult>(&effect)) return *result;
  throw std::runtime_error("no AccountResult");
}

// A small chat through the leader, one batch per step: two users, a device each, both
// online, messages both ways, acks, a group, a disconnect.
void chat(Node& leader, std::uint64_t token) {
  TimeUs now = 2'000'000;
  const UserId alice =
      account_result(leader.lead(token, {SignUp{"alice", "hash-a"}}, now += 1000)).user;
  const UserId bob =
      account_result(leader.lead(token, {SignUp{"bob", "hash-b"}}, now += 1000)).user;
  const DeviceId phone =
      account_result(
          leader.lead(token,
                      {IssueToken{alice, 0, "phone", "hash-a", "token-a", now + 3'600'000'000}},
                      now += 1000))
          .device;
  const DeviceId laptop =
      account_result(
          leader.lead(token,
                      {IssueToken{bob, 0, "laptop", "hash-b", "token-b", now + 3'600'000'000}},
                      now += 1000))
          .device;
  leader.lead(token, {Connected{1, phone, 0}, Connected{2, laptop, 0}}, now += 1000);
  for (int i = 0; i < 5; ++i) {
    leader.lead(token,
                {Received{1, client::Send{static_cast<RequestId>(10 + i), 0, bob,
                                          "a" + std::to_string(i), "hi bob " + std::to_string(i)}},
                 Received{2, client::Send{static_cast<RequestId>(20 + i), 0, alice,
                                          "b" + std::to_string(i), "hi alice"}},
                 Tick{}},
                now += 250'000);
  }
  leader.lead(token,
              {Received{2, client::Ack{3}}, Received{1, client::CreateGroup{40, "us", {bob}}}},
              now += 1000);
  leader.lead(token, {Disconnected{2}, Tick{}}, now += 40'000'000);
}

// Two replicas on LMDB over one shard's log: on etcd, then in memory (the same rules).
class ReplicaTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<ShardLog> shard =
      GetParam() == "etcd" ? std::unique_ptr<ShardLog>(std::make_unique<EtcdShardLog>())
                           : std::make_unique<MemoryShardLog>();
  TempDir dir_a{"parley-replica-a"};
  TempDir dir_b{"parley-replica-b"};
  Node a{shard->for_node(), std::make_unique<LmdbStore>(dir_a.path())};
  Node b{shard->for_node(), std::make_unique<LmdbStore>(dir_b.path())};
};

TEST_P(ReplicaTest, FollowersReachTheLeadersExactState) {
  Node c(shard->for_node(), std::make_unique<MemoryStore>());
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  chat(a, leads->token);
  const std::uint64_t last = a.replica->applied_index();
  ASSERT_EQ(last, a.log.last_index());
  ASSERT_GT(last, 10u);

  EXPECT_EQ(b.replica->catch_up(4), 4u) << "at most `max` entries at a time";
  while (b.replica->catch_up(4) > 0) {
  }
  EXPECT_EQ(c.replica->catch_up(1000), last);
  EXPECT_EQ(b.replica->applied_index(), last);
  EXPECT_EQ(c.replica->applied_index(), last);
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));
  EXPECT_EQ(state_digest(*c.store), state_digest(*a.store));
  EXPECT_EQ(b.replica->catch_up(100), 0u);
}

TEST_P(ReplicaTest, ADeposedLeaderStoresAndReleasesNothing) {
  const auto a_leads = a.log.campaign("a", 30);
  ASSERT_TRUE(a_leads.has_value());
  a.lead(a_leads->token, {SignUp{"alice", "h"}}, 2'000'000);

  // a's lease ends; b takes over, catches up and appends; a still thinks it leads.
  shard->expire(a_leads->lease);
  const auto b_leads = b.log.campaign("b", 30);
  ASSERT_TRUE(b_leads.has_value());
  b.replica->catch_up(100);
  b.lead(b_leads->token, {SignUp{"bob", "h"}}, 3'000'000);

  const std::uint64_t a_before = state_digest(*a.store);
  const std::vector<Input> late{SignUp{"carol", "h"}};
  const auto outcome = a.replica->lead_batch(a_leads->token, late, 4'000'000);
  EXPECT_TRUE(std::holds_alternative<Replica::Deposed>(outcome));
  EXPECT_EQ(state_digest(*a.store), a_before) << "nothing of the refused batch was stored";
  EXPECT_EQ(a.replica->applied_index(), 1u);
  EXPECT_FALSE(a.has_user("carol"));

  // a follows now: it reaches b's state, with bob and without carol.
  a.replica->catch_up(100);
  EXPECT_EQ(state_digest(*a.store), state_digest(*b.store));
  EXPECT_TRUE(a.has_user("bob"));
  EXPECT_FALSE(a.has_user("carol"));
}

TEST_P(ReplicaTest, ANewLeaderThatHasNotCaughtUpIsToldItIsBehind) {
  const auto a_leads = a.log.campaign("a", 30);
  ASSERT_TRUE(a_leads.has_value());
  a.lead(a_leads->token, {SignUp{"alice", "h"}}, 2'000'000);
  a.log.resign(*a_leads);
  const auto b_leads = b.log.campaign("b", 30);
  ASSERT_TRUE(b_leads.has_value());

  const std::vector<Input> batch{SignUp{"bob", "h"}};
  EXPECT_TRUE(std::holds_alternative<Replica::Behind>(
      b.replica->lead_batch(b_leads->token, batch, 3'000'000)));
  EXPECT_EQ(b.replica->applied_index(), 0u) << "nothing of the refused batch was stored";
  EXPECT_EQ(b.replica->catch_up(100), 1u);
  EXPECT_TRUE(std::holds_alternative<Replica::Released>(
      b.replica->lead_batch(b_leads->token, batch, 3'000'000)));
  EXPECT_TRUE(b.has_user("alice"));
  EXPECT_TRUE(b.has_user("bob"));
  EXPECT_EQ(b.log.last_index(), 2u);
}

// Account inputs only: a log for the trimming tests.
void accounts(Node& leader, std::uint64_t token) {
  TimeUs now = 2'000'000;
  for (int i = 0; i < 8; ++i) {
    const std::string name = "user" + std::to_string(i);
    const UserId user = account_result(leader.lead(token, {SignUp{name, "h"}}, now += 1000)).user;
    leader.lead(token, {IssueToken{user, 0, "phone", "h", "t" + name, now + 3'600'000'000}},
                now += 1000);
  }
  leader.lead(token, {ChangePassword{1, 1, "h2"}, SignOut{2, {}, true}}, now += 1000);
}

TEST_P(ReplicaTest, ARestartedReplicaResumesAtItsAppliedIndex) {
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  chat(a, leads->token);
  const std::uint64_t last = a.replica->applied_index();
  ASSERT_EQ(b.replica->catch_up(5), 5u);
  b.replica.reset();  // b stops
  b.store = std::make_unique<LmdbStore>(dir_b.path());
  b.replica = std::make_unique<Replica>(*b.store, b.log, EngineConfig{});
  b.replica->open(1'000'000);
  EXPECT_EQ(b.replica->applied_index(), 5u);
  EXPECT_EQ(b.replica->catch_up(1000), last - 5) << "neither an entry twice nor one skipped";
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));
}

// The engine's memory (live connections, their delivery windows, presence) is in the store
// (EngineConfig::durable_sessions), so a follower restarted before every entry of a chat with
// live connections holds, at every index, the bytes of one that never restarted.
TEST_P(ReplicaTest, AFollowerRestartedBeforeEveryEntryMatchesOneThatNeverRestarted) {
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  chat(a, leads->token);
  const std::uint64_t last = a.replica->applied_index();
  Node c(shard->for_node(), std::make_unique<MemoryStore>());
  for (std::uint64_t index = 1; index <= last; ++index) {
    b.replica.reset();
    b.store.reset();
    b.store = std::make_unique<LmdbStore>(dir_b.path());
    b.replica = std::make_unique<Replica>(*b.store, b.log, EngineConfig{});
    b.replica->open(static_cast<TimeUs>(index) * 7'777);  // any time: only the store counts
    ASSERT_EQ(b.replica->catch_up(1), 1u);
    ASSERT_EQ(c.replica->catch_up(1), 1u);
    ASSERT_EQ(state_digest(*b.store), state_digest(*c.store)) << "at index " << index;
  }
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));
  EXPECT_EQ(b.replica->core().engine().connection_count(), 1u) << "alice's phone is still live";
}

// What the node's engine loop relies on: a batch that ran no input takes no index; each
// entry's `now` is recorded on every replica (a new leader's clock starts past it); the size
// estimate a leader cuts its batches by covers a message's text.
TEST_P(ReplicaTest, EmptyBatchesTakeNoIndexAndEveryReplicaKnowsTheLastNow) {
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  a.lead(leads->token, {SignUp{"alice", "h"}}, 5'000'000);
  a.replica->begin_batch(6'000'000);
  const auto empty = a.replica->finish_batch(leads->token);
  ASSERT_TRUE(std::holds_alternative<Replica::Released>(empty));
  EXPECT_EQ(std::get<Replica::Released>(empty).index, 1u);
  EXPECT_EQ(a.log.last_index(), 1u) << "nothing appended";

  a.replica->begin_batch(7'000'000);
  a.replica->core().run(SignUp{"bob", std::string(400'000, 'x')});
  EXPECT_GE(a.replica->batch_bytes(), 400'000u);
  ASSERT_TRUE(std::holds_alternative<Replica::Released>(a.replica->finish_batch(leads->token)));
  EXPECT_EQ(a.log.last_index(), 2u);
  EXPECT_EQ(b.replica->catch_up(10), 2u);
  EXPECT_EQ(a.replica->applied_now(), 7'000'000);
  EXPECT_EQ(b.replica->applied_now(), 7'000'000);
}

TEST_P(ReplicaTest, TheLogIsTrimmedBelowTheSlowestReplica) {
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  accounts(a, leads->token);
  const std::uint64_t last = a.replica->applied_index();
  ASSERT_EQ(b.replica->catch_up(5), 5u);
  EXPECT_FALSE(a.log.slowest_applied().has_value()) << "nobody reported yet";
  a.replica->report_applied("a");
  b.replica->report_applied("b");
  a.log.report_applied("c", 0);  // a replica that joined and has applied nothing
  a.replica->trim_log();
  EXPECT_TRUE(a.log.entry(1).has_value()) << "c still needs every entry";
  a.log.report_applied("c", last);
  EXPECT_EQ(a.log.slowest_applied(), 5u);

  a.replica->trim_log();
  EXPECT_FALSE(a.log.entry(4).has_value()) << "every replica applied 4";
  EXPECT_TRUE(a.log.entry(5).has_value())
      << "b applied 5, but a power loss may undo its last commit (LmdbOptions::sync_meta)";
  EXPECT_TRUE(a.log.entry(6).has_value()) << "b has not applied 6";
  EXPECT_EQ(b.replica->catch_up(1000), last - 5);
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));

  // A replica that starts after the trim cannot replay from 1: it needs a snapshot, and
  // says so instead of applying entry 6 onto an empty store.
  Node late(shard->for_node(), std::make_unique<MemoryStore>());
  EXPECT_THROW(late.replica->catch_up(1000), parley::cluster::SnapshotNeeded);
  EXPECT_EQ(late.replica->applied_index(), 0u);
  // Nor can it lead from there: a trimmed index is not free.
  late.log.resign(*leads);
  const auto late_leads = late.log.campaign("late", 30);
  ASSERT_TRUE(late_leads.has_value());
  const std::vector<Input> batch{SignUp{"zed", "h"}};
  EXPECT_TRUE(std::holds_alternative<Replica::Behind>(
      late.replica->lead_batch(late_leads->token, batch, 9'000'000)));
  EXPECT_FALSE(a.log.entry(1).has_value());
  EXPECT_EQ(a.log.last_index(), last);
}

TEST_P(ReplicaTest, AReplicaBehindATrimStartsFromAPeersSnapshot) {
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  chat(a, leads->token);
  a.replica->report_applied("a");
  a.replica->trim_log();  // only the last entry is left
  EXPECT_THROW(b.replica->catch_up(1000), parley::cluster::SnapshotNeeded);

  // b copies a's store (a consistent snapshot, taken while a goes on) and tails from there.
  TempDir dir_c("parley-replica-c");
  dynamic_cast<LmdbStore&>(*a.store).copy_to(dir_c.path());
  a.lead(leads->token, {SignUp{"after-snapshot", "h"}}, 9'000'000);
  Node c(shard->for_node(), std::make_unique<LmdbStore>(dir_c.path()));
  EXPECT_EQ(c.replica->applied_index(), a.replica->applied_index() - 1);
  EXPECT_EQ(c.replica->catch_up(1000), 1u);
  EXPECT_EQ(state_digest(*c.store), state_digest(*a.store));
  EXPECT_TRUE(c.has_user("after-snapshot"));
}

// A follower releases nothing, but keeps its search index from the entries it applies
// (Replica::on_follower_effects, docs/search.md): when it takes over, its index holds what
// the leader's does, a delete included.
TEST_P(ReplicaTest, AFollowersSearchIndexLearnsFromTheEntriesItApplies) {
  parley::search::SearchIndex leaders(":memory:");
  parley::search::SearchIndex followers(":memory:");
  b.replica->on_follower_effects([&](Effects&& effects) {
    for (const Effect& effect : effects)
      parley::search::apply(followers, effect);
  });
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  const auto feed_leader = [&](const Effects& effects) {
    for (const Effect& effect : effects)
      parley::search::apply(leaders, effect);
  };
  chat(a, leads->token);  // 10 texts in the 1:1 channel 1, alice's "hi bob N" first
  // The leader's own index, from a fill (what its node does at start): the same rule.
  parley::search::fill_from_store(leaders, [&](MessageId after) {
    return a.replica->core().read(
        [&](const Engine& engine) { return engine.messages_after(after, 100); });
  });
  ASSERT_EQ(leaders.size(), 10u);
  // Alice (connection 1) deletes "hi bob 0" for everyone.
  feed_leader(a.lead(leads->token, {Received{1, client::DeleteMessage{60, 1, 1}}}, 50'000'000));
  EXPECT_EQ(leaders.size(), 9u);
  while (b.replica->catch_up(100) > 0) {
  }
  EXPECT_EQ(followers.size(), 9u);
  const parley::search::Query query{"hi", {{1, 1, 100}}, 0, 50};
  EXPECT_EQ(followers.search(query).hits.size(), leaders.search(query).hits.size());
  EXPECT_TRUE(followers.search({"bob 0", {{1, 1, 100}}, 0, 50}).hits.empty())
      << "the follower's index dropped the deleted text";
}

INSTANTIATE_TEST_SUITE_P(Logs, ReplicaTest, ::testing::Values("etcd", "memory"),
                         [](const auto& test) { return test.param; });

// An append whose outcome the leader never learns (MemoryLog injects it): nothing is
// released, and the entry counts only if it landed, on the leader as on its followers.
class UnknownOutcomeTest : public ::testing::TestWithParam<bool> {
 protected:
  MemoryShardLog shard;
  Node a{shard.for_node(), std::make_unique<MemoryStore>()};
  Node b{shard.for_node(), std::make_unique<MemoryStore>()};
};

TEST_P(UnknownOutcomeTest, AnAppendWithAnUnknownOutcomeReleasesNothing) {
  const bool lands = GetParam();
  const auto leads = a.log.campaign("a", 30);
  ASSERT_TRUE(leads.has_value());
  a.lead(leads->token, {SignUp{"alice", "h"}}, 2'000'000);
  const std::uint64_t before = state_digest(*a.store);

  shard.log.fail_next_append(lands);
  const std::vector<Input> batch{SignUp{"bob", "h"}};
  EXPECT_THROW(a.replica->lead_batch(leads->token, batch, 3'000'000), parley::host::LogUnavailable);
  EXPECT_EQ(state_digest(*a.store), before) << "not committed locally before the outcome is known";
  EXPECT_EQ(a.replica->applied_index(), 1u);

  // The leader learns the outcome by reading the log.
  EXPECT_EQ(a.replica->catch_up(10), lands ? 1u : 0u);
  EXPECT_EQ(a.has_user("bob"), lands);
  b.replica->catch_up(10);
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));
  // The next batch goes to the next free index either way.
  a.lead(leads->token, {SignUp{"carol", "h"}}, 4'000'000);
  b.replica->catch_up(10);
  EXPECT_EQ(state_digest(*b.store), state_digest(*a.store));
  EXPECT_EQ(a.log.last_index(), lands ? 3u : 2u);
}

INSTANTIATE_TEST_SUITE_P(Landed, UnknownOutcomeTest, ::testing::Bool(),
                         [](const auto& test) { return test.param ? "landed" : "lost"; });

}  // namespace
