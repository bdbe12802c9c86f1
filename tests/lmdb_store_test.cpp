// What only the LMDB store has to prove: map growth, reopening, format checks, clear errors.
#include "storage/lmdb_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/engine.hpp"
#include "engine/records.hpp"
#include "tests/temp_dir.hpp"

namespace parley::storage {
namespace {

using namespace parley::engine;

// A directory of the test's own (tests/temp_dir.hpp).
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("parley-lmdb-test") {}
};

LmdbOptions small_map() {
  LmdbOptions options;
  options.initial_map_bytes = 256 << 10;
  return options;
}

TEST(LmdbStore, MapGrowsWithoutLosingTheBatch) {
  TempDir dir;
  const std::string value(1000, 'v');
  {
    LmdbStore store(dir.path(), small_map());
    store.begin();
    for (int i = 0; i < 5000; ++i)
      store.put(Table::messages, encode_u64_key(i), value);
    // Reads inside the transaction see every write, before and after the growth.
    EXPECT_EQ(store.get(Table::messages, encode_u64_key(0)), value);
    EXPECT_EQ(store.get(Table::messages, encode_u64_key(4999)), value);
    store.commit();
    EXPECT_GT(store.map_growths(), 0u);
    EXPECT_GE(store.map_bytes(), 5000u * 1000u);
  }
  LmdbStore reopened(dir.path(), small_map());
  reopened.begin();
  std::size_t count = 0;
  reopened.scan(Table::messages, "", "", false, [&](std::string_view, std::string_view v) {
    EXPECT_EQ(v, value);
    ++count;
    return true;
  });
  reopened.abort();
  EXPECT_EQ(count, 5000u);
}

TEST(LmdbStore, AbortedTransactionLeavesNothing) {
  TempDir dir;
  LmdbStore store(dir.path());
  store.begin();
  store.put(Table::users, "k", "committed");
  store.commit();
  store.begin();
  store.put(Table::users, "k", "aborted");
  store.put(Table::users, "k2", "aborted");
  store.abort();
  store.begin();
  EXPECT_EQ(store.get(Table::users, "k"), "committed");
  EXPECT_FALSE(store.get(Table::users, "k2").has_value());
  store.abort();
}

TEST(LmdbStore, ReopenedEngineContinuesExactlyWhereItLeftOff) {
  TempDir dir;
  UserId alice = 0;
  UserId bob = 0;
  DeviceId bobs = 0;
  ChannelId group = 0;
  {
    LmdbStore store(dir.path());
    Engine engine(store);
    store.begin();
    engine.open();
    alice = std::get<UserId>(engine.create_user("alice", 0));
    bob = std::get<UserId>(engine.create_user("bob", 0));
    const UserId carol = std::get<UserId>(engine.create_user("carol", 0));
    const DeviceId alices = std::get<DeviceId>(engine.add_device(alice, "phone", 0));
    bobs = std::get<DeviceId>(engine.add_device(bob, "phone", 0));
    engine.handle(Connected{1, alices, 0}, 1);
    engine.handle(Connected{2, bobs, 0}, 1);
    auto created = engine.handle(Received{1, client::CreateGroup{1, "g", {bob}}}, 2);
    group = std::get<server::GroupCreated>(std::get<SendEvent>(created[0]).event).channel;
    for (int i = 0; i < 10; ++i) {
      engine.handle(Received{1, client::Send{10u + i, group, 0, "m" + std::to_string(i), "hi"}}, 3);
    }
    engine.handle(Received{2, client::Ack{5}}, 4);
    (void)carol;
    store.commit();
  }
  LmdbStore store(dir.path());
  Engine engine(store);
  store.begin();
  engine.open();
  // Sequences continue: the next message is seq 12 (creation + 10 texts before it).
  auto sent = engine.handle(Received{1, client::Send{1, group, 0, "new", "x"}}, 5);
  EXPECT_EQ(sent.size(), 1u) << "the connection table is not durable: reconnect first";
  engine.handle(Connected{3, bobs, 5}, 5);
  engine.handle(Connected{4, std::get<DeviceId>(engine.add_device(alice, "laptop", 5)), 0}, 5);
  auto reply = engine.handle(Received{4, client::Send{2, group, 0, "new", "x"}}, 6);
  EXPECT_EQ(std::get<server::SendAck>(std::get<SendEvent>(reply[0]).event).seq, 12u);
  // Idempotency records survived: an old client_msg_id is answered with the original.
  reply = engine.handle(Received{4, client::Send{3, group, 0, "m3", "hi"}}, 6);
  const auto& dup = std::get<server::SendAck>(std::get<SendEvent>(reply[0]).event);
  EXPECT_TRUE(dup.duplicate);
  EXPECT_EQ(dup.seq, 5u);
  // Cursors and inboxes survived: bob's device cursor is 5 and his inbox head 12.
  const Records records(store);
  EXPECT_EQ(records.device_cursor(bobs), 5u);
  EXPECT_EQ(records.inbox_head(bob), 12u);
  // Memberships survived: carol is still not a member.
  const auto members = records.active_members(group);
  EXPECT_EQ(members, (std::vector<UserId>{alice, bob}));
  store.commit();
}

TEST(LmdbStore, UnknownFormatVersionFailsClearlyOnOpen) {
  TempDir dir;
  {
    LmdbStore store(dir.path());
    store.begin();
    store.put(Table::meta, "format_version", std::string("\x01\x07", 2));
    store.commit();
  }
  LmdbStore store(dir.path());
  Engine engine(store);
  store.begin();
  try {
    engine.open();
    FAIL() << "a store of an unknown format version must not open";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("version 7"), std::string::npos) << error.what();
  }
  store.abort();
}

TEST(LmdbStore, UnusableDirectoryIsAClearError) {
  TempDir dir;
  const std::string file = dir.path() + "/not-a-directory";
  std::ofstream(file) << "x";
  try {
    LmdbStore store(file + "/data");
    FAIL() << "opening under a regular file must fail";
  } catch (const StoreError& error) {
    EXPECT_NE(std::string(error.what()).find(file), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace parley::storage
