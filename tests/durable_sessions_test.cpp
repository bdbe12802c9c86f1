// EngineConfig::durable_sessions: the store alone determines the engine. Two engines take the
// same random chat (connects and reconnects, sends, acks inside a small delivery window,
// heartbeats, logouts, sign-outs, presence expiring and rescheduled); one runs on, the other
// is rebuilt from its store before every batch, as a cluster replica restarted at any log
// index is. Every batch must give both the same effects, in the same order, and leave both
// stores with the same bytes. Without the sessions and live-presence tables the rebuilt one
// forgets its connections and is refused at the first request (docs/cluster.md).
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "engine/describe.hpp"
#include "host/core.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

// Every table's every key and value (each entry framed by its lengths).
std::string state_bytes(Store& store) {
  std::string bytes;
  store.begin();
  for (std::size_t t = 0; t < kTableCount; ++t) {
    bytes += "table " + std::to_string(t) + "\n";
    store.scan(static_cast<Table>(t), "", "", false, [&](std::string_view k, std::string_view v) {
      bytes += std::to_string(k.size()) + ":" + std::string(k) + std::to_string(v.size()) + ":" +
               std::string(v);
      return true;
    });
  }
  store.abort();
  return bytes;
}

std::string describe_all(std::span<const Effect> effects) {
  std::string text;
  for (const Effect& effect : effects)
    text += describe(effect) + "\n";
  return text;
}

EngineConfig durable_config() {
  EngineConfig config;
  config.durable_sessions = true;
  config.check_invariants = true;
  config.delivery_window = 3;  // small: in-flight lists, window stalls and acks that reopen it
  config.delivery_batch = 2;
  config.presence_timeout_us = 10'000'000;
  return config;
}

// A random chat among four users with two devices each: what the test sends, and what it
// learned from the effects (which connections are live, what each was delivered).
class RandomChat {
 public:
  explicit RandomChat(std::uint32_t seed) : random_(seed) {}

  // The first batches: sign-ups and logins (one device per IssueToken).
  std::vector<std::vector<Input>> accounts() {
    std::vector<std::vector<Input>> batches;
    for (UserId user = 1; user <= kUsers; ++user) {
      batches.push_back({SignUp{"user" + std::to_string(user), "h"}});
      for (int d = 0; d < 2; ++d) {
        batches.push_back({IssueToken{user, 0, "dev", "h",
                                      "t" + std::to_string(user) + std::to_string(d), kForever}});
      }
    }
    return batches;
  }

  std::vector<Input> next_batch() {
    std::vector<Input> batch;
    const int size = pick(1, 4);
    for (int i = 0; i < size; ++i)
      batch.push_back(next_input());
    return batch;
  }

  TimeUs advance() { return now_ += pick(1, 3) == 1 ? pick(1, 8'000) * 1000 : pick(1, 900); }

  // What the effects say: connections that closed, entries delivered on each.
  void learn(std::span<const Effect> effects) {
    for (const Effect& effect : effects) {
      if (const auto* closed = std::get_if<CloseConnection>(&effect))
        live_.erase(closed->connection);
      const auto* sent = std::get_if<SendEvent>(&effect);
      if (sent == nullptr) continue;
      if (const auto* deliver = std::get_if<server::Deliver>(&sent->event)) {
        if (auto found = live_.find(sent->connection); found != live_.end())
          found->second = deliver->entries.back().inbox_seq;
      }
    }
  }

 private:
  static constexpr UserId kUsers = 4;
  static constexpr DeviceId kDevices = 2 * kUsers;  // device d belongs to user (d + 1) / 2
  static constexpr TimeUs kForever = 1'000'000'000'000;

  int pick(int low, int high) { return std::uniform_int_distribution<int>(low, high)(random_); }
  UserId some_user() { return static_cast<UserId>(pick(1, kUsers)); }

  Input next_input() {
    const int roll = pick(0, 99);
    if (live_.empty() || roll < 12) {
      const ConnectionId id = next_connection_++;
      live_[id] = 0;
      return Connected{id, static_cast<DeviceId>(pick(1, kDevices)), 0};
    }
    auto it = live_.begin();
    std::advance(it, pick(0, static_cast<int>(live_.size()) - 1));
    const ConnectionId connection = it->first;
    if (roll < 40) {
      const std::string id = "m" + std::to_string(pick(1, 40));  // repeats: idempotent resends
      return Received{connection, client::Send{next_request_++, 0, some_user(), id, "hello"}};
    }
    if (roll < 62) return Received{connection, client::Ack{it->second}};
    if (roll < 64) return Received{connection, client::Ack{it->second + 5}};  // never delivered
    if (roll < 72) return Received{connection, client::Heartbeat{}};
    if (roll < 76)
      return Received{connection, client::ChangeContact{next_request_++, client::ContactAction::add,
                                                        some_user()}};
    if (roll < 79) {
      return Received{connection,
                      client::CreateGroup{next_request_++, "g", {some_user(), some_user()}}};
    }
    if (roll < 83) {
      return Received{connection, client::Send{next_request_++, static_cast<ChannelId>(pick(1, 6)),
                                               0, "g" + std::to_string(pick(1, 99)), "to all"}};
    }
    if (roll < 86) return Received{connection, client::Logout{next_request_++}};
    if (roll < 90) {
      live_.erase(it);
      return Disconnected{connection};
    }
    if (roll < 92) {
      const DeviceId device = static_cast<DeviceId>(pick(1, kDevices));
      return SignOut{(device + 1) / 2, {device}, false};
    }
    if (roll < 94) {
      const UserId user = some_user();
      return Stateless{user, static_cast<DeviceId>(2 * user),
                       client::Send{next_request_++, 0, some_user(), "s", "stateless"}};
    }
    return Tick{};
  }

  std::mt19937 random_;
  TimeUs now_ = 1'000'000;
  ConnectionId next_connection_ = 1;
  RequestId next_request_ = 1;
  std::map<ConnectionId, InboxSeq> live_;  // live connection -> highest inbox seq delivered
};

class DurableSessions : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(DurableSessions, AnEngineRebuiltFromItsStoreBeforeEveryBatchActsLikeOneThatRanOn) {
  const auto store_on = make_test_store();
  const auto store_rebuilt = make_test_store();
  host::Core runs_on(*store_on, durable_config());
  runs_on.open(0);
  auto rebuilt = std::make_unique<host::Core>(*store_rebuilt, durable_config());
  rebuilt->open(0);

  RandomChat chat(GetParam());
  std::vector<std::vector<Input>> batches = chat.accounts();
  std::size_t connected_batches = 0;
  std::map<std::string, std::size_t> seen;  // what the chat exercised
  for (int step = 0; step < 300 + static_cast<int>(batches.size()); ++step) {
    const std::vector<Input> batch =
        step < static_cast<int>(batches.size()) ? batches[step] : chat.next_batch();
    const TimeUs now = chat.advance();
    // The restart: a new engine, opened at a time that differs from the batch's (a replica
    // restarts whenever it likes; only the store may matter).
    rebuilt = std::make_unique<host::Core>(*store_rebuilt, durable_config());
    rebuilt->open(now + 123'456);

    const Effects expected = runs_on.run_batch(batch, now);
    const Effects actual = rebuilt->run_batch(batch, now);
    ASSERT_EQ(describe_all(actual), describe_all(expected)) << "batch " << step;
    ASSERT_EQ(state_bytes(*store_rebuilt), state_bytes(*store_on)) << "batch " << step;
    chat.learn(expected);
    for (const Effect& effect : expected) {
      if (const auto* change = std::get_if<PresenceChange>(&effect))
        ++seen[change->online ? "online" : "offline"];
      if (const auto* sent = std::get_if<SendEvent>(&effect)) {
        if (std::holds_alternative<server::Deliver>(sent->event)) ++seen["deliver"];
        if (const auto* failure = std::get_if<server::Failure>(&sent->event))
          ++seen[std::string(to_string(failure->code))];
      }
    }
    if (runs_on.engine().connection_count() > 0) ++connected_batches;
  }
  // The chat did what it is for: many batches ran with live connections.
  EXPECT_GT(connected_batches, 200u);
  EXPECT_GT(seen["deliver"], 100u);
  EXPECT_GT(seen["offline"], 3u);
  EXPECT_GT(seen["invalid_ack"], 0u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, DurableSessions, ::testing::Values(1u, 2u, 3u, 4u));

// Off (a single node), the engine writes none of it.
TEST(DurableSessionsOff, NothingOfTheEnginesMemoryIsStored) {
  Harness world;
  const UserId alice = world.user("alice");
  const UserId bob = world.user("bob");
  const DeviceId phone = world.device(alice);
  world.device(bob);
  const ConnectionId connection = world.connect(phone);
  world.send_to(connection, bob, "hi");
  Store& store = world.store();
  store.begin();
  for (Table table : {Table::sessions, Table::live_devices, Table::live_users}) {
    bool empty = true;
    store.scan(table, "", "", false, [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    EXPECT_TRUE(empty) << table_name(table);
  }
  store.abort();
}

}  // namespace
}  // namespace parley::testing
