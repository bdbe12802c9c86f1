// The Store contract, run against whichever store the suite runs on (--store=).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::storage {
namespace {

using engine::Table;

using engine::Store;
using parley::testing::make_test_store;

std::vector<std::string> keys(const Store& store, std::string_view from, std::string_view to,
                              bool reverse) {
  std::vector<std::string> found;
  store.scan(Table::messages, from, to, reverse, [&](std::string_view key, std::string_view) {
    found.emplace_back(key);
    return true;
  });
  return found;
}

// Keys a client could make (an empty name, a 600-byte one) find nothing instead of failing
// the store; a put of one is an engine bug, raised as InvalidKey (never a disk failure).
TEST(Store, KeysOutsideTheLimitsAreNeverFoundAndNeverStored) {
  auto holder = make_test_store();
  Store& store = *holder;
  store.begin();
  const std::string too_long(engine::kMaxKeyBytes + 1, 'k');
  const std::string longest(engine::kMaxKeyBytes, 'k');
  EXPECT_FALSE(store.get(Table::user_names, "").has_value());
  EXPECT_FALSE(store.get(Table::user_names, too_long).has_value());
  EXPECT_NO_THROW(store.erase(Table::user_names, ""));
  EXPECT_NO_THROW(store.erase(Table::user_names, too_long));
  EXPECT_THROW(store.put(Table::user_names, "", "1"), engine::InvalidKey);
  EXPECT_THROW(store.put(Table::user_names, too_long, "1"), engine::InvalidKey);
  store.put(Table::user_names, longest, "1");
  EXPECT_EQ(store.get(Table::user_names, longest), "1");
  store.commit();
}

TEST(Store, CommitKeepsAndAbortForgets) {
  auto holder = make_test_store();
  Store& store = *holder;
  store.begin();
  store.put(Table::users, "a", "1");
  store.commit();

  store.begin();
  store.put(Table::users, "a", "2");
  store.put(Table::users, "a", "3");
  store.put(Table::users, "b", "x");
  store.erase(Table::users, "a");
  EXPECT_FALSE(store.get(Table::users, "a").has_value());
  store.abort();

  store.begin();
  EXPECT_EQ(store.get(Table::users, "a"), "1");
  EXPECT_FALSE(store.get(Table::users, "b").has_value());
  store.abort();
}

TEST(Store, RefusesWorkOutsideATransaction) {
  auto holder = make_test_store();
  Store& store = *holder;
  EXPECT_THROW(store.put(Table::users, "a", "1"), engine::StoreError);
  EXPECT_THROW((void)store.get(Table::users, "a"), engine::StoreError);
  EXPECT_THROW(store.commit(), engine::StoreError);
  store.begin();
  EXPECT_THROW(store.begin(), engine::StoreError);
  store.abort();
}

TEST(Store, ScansInKeyOrderWithinBounds) {
  auto holder = make_test_store();
  Store& store = *holder;
  store.begin();
  for (const char* key : {"b", "d", "a", "c", "e"})
    store.put(Table::messages, key, "");
  EXPECT_EQ(keys(store, "", "", false), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(keys(store, "b", "d", false), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(keys(store, "b", "d", true), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(keys(store, "bb", "", true), (std::vector<std::string>{"e", "d", "c"}));
  EXPECT_TRUE(keys(store, "d", "b", false).empty());
  EXPECT_TRUE(keys(store, "f", "", false).empty());
  // Bounds between keys and outside them, both directions.
  EXPECT_EQ(keys(store, "aa", "cc", false), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(keys(store, "aa", "cc", true), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(keys(store, "", "a", true), std::vector<std::string>{});
  EXPECT_EQ(keys(store, "", "b", true), (std::vector<std::string>{"a"}));
  EXPECT_EQ(keys(store, "e", "", true), (std::vector<std::string>{"e"}));
  EXPECT_TRUE(keys(store, "c", "c", true).empty());
  EXPECT_TRUE(keys(store, "d", "b", true).empty());
  store.commit();
}

// A visitor that returns false ends the scan at once, in either direction.
TEST(Store, ScansStopWhenTheVisitorSaysSo) {
  auto holder = make_test_store();
  Store& store = *holder;
  store.begin();
  for (const char* key : {"a", "b", "c", "d"})
    store.put(Table::messages, key, "");
  const auto first_two = [&](bool reverse) {
    std::vector<std::string> found;
    store.scan(Table::messages, "", "", reverse, [&](std::string_view key, std::string_view) {
      found.emplace_back(key);
      return found.size() < 2;
    });
    return found;
  };
  EXPECT_EQ(first_two(false), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(first_two(true), (std::vector<std::string>{"d", "c"}));
  store.commit();
}

// Random puts, erases, commits and aborts over keys that share long prefixes and hold the
// bytes 0x00, 0x7f, 0x80 and 0xff at every position: every scan and get agrees with a model
// (std::map of std::string, byte-wise order): every store kind orders keys as LMDB does and
// restores exactly what it held when a transaction aborts, whatever a faster layout changes
// inside it (a comparator or index of MemoryStore's was tried for issue 16: bench/CHANGES.md).
TEST(Store, AgreesWithAnOrderedModelThroughCommitsAndAborts) {
  auto holder = make_test_store();
  Store& store = *holder;
  std::mt19937_64 random(16);
  const std::string bytes("\x00\x01\x7f\x80\xfe\xff", 6);
  const auto random_key = [&] {
    std::string key(random() % 4 == 0 ? 8 : 16 + random() % 9, '\x00');
    for (char& byte : key)
      byte = bytes[random() % bytes.size()];
    return key;
  };
  std::map<std::string, std::string> committed;
  for (int round = 0; round < 40; ++round) {
    std::map<std::string, std::string> model = committed;
    store.begin();
    for (int step = 0; step < 60; ++step) {
      const std::string key = random_key();
      if (random() % 3 == 0) {
        store.erase(Table::messages, key);
        model.erase(key);
      } else {
        const std::string value = std::to_string(random());
        store.put(Table::messages, key, value);
        model[key] = value;
      }
      const std::string probe = random_key();
      const auto found = model.find(probe);
      EXPECT_EQ(store.get(Table::messages, probe),
                found == model.end() ? std::nullopt : std::optional(found->second));
    }
    std::vector<std::string> expected;
    for (const auto& [key, value] : model)
      expected.push_back(key);
    ASSERT_EQ(keys(store, "", "", false), expected) << "round " << round;
    const std::string from = random_key();
    const std::string to = random_key();
    std::vector<std::string> within;
    for (const std::string& key : expected) {
      if (key >= from && key < to) within.push_back(key);
    }
    EXPECT_EQ(keys(store, from, to, false), within);
    std::reverse(within.begin(), within.end());
    EXPECT_EQ(keys(store, from, to, true), within);
    if (random() % 2 == 0) {
      store.commit();
      committed = model;
    } else {
      store.abort();
    }
  }
  store.begin();
  std::vector<std::string> expected;
  for (const auto& [key, value] : committed) {
    expected.push_back(key);
    EXPECT_EQ(store.get(Table::messages, key), value);
  }
  EXPECT_EQ(keys(store, "", "", false), expected);
  store.commit();
}

TEST(Records, BigEndianKeysSortNumerically) {
  EXPECT_LT(engine::encode_u64_key(255), engine::encode_u64_key(256));
  EXPECT_LT(engine::encode_pair_key(1, UINT64_MAX), engine::encode_pair_key(2, 0));
  EXPECT_EQ(engine::decode_u64_key(engine::encode_u64_key(0x0102030405060708ull)),
            0x0102030405060708ull);
}

TEST(Records, MessagesRoundTripThroughTheStore) {
  auto holder = make_test_store();
  Store& store = *holder;
  engine::Records records(store);
  store.begin();
  engine::MessageRecord message;
  message.channel = 7;
  message.seq = 300;
  message.kind = engine::MessageKind::group_created;
  message.sender = 1ull << 40;
  message.sender_device = 9;
  message.server_time = -5;
  message.client_msg_id = "c-1";
  message.text = std::string("caf\xc3\xa9\0x", 7);
  message.users = {1, 2, 1ull << 63};
  records.put_message(message);
  const auto read = records.message({7, 300});
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->text, message.text);
  EXPECT_EQ(read->users, message.users);
  EXPECT_EQ(read->server_time, -5);
  EXPECT_EQ(read->sender, message.sender);
  EXPECT_EQ(read->kind, engine::MessageKind::group_created);
  store.commit();
}

TEST(Records, CorruptValuesAreReportedNotMisread) {
  auto holder = make_test_store();
  Store& store = *holder;
  engine::Records records(store);
  store.begin();
  store.put(Table::users, engine::encode_u64_key(1),
            std::string("\x01\x01\x05"
                        "ab",
                        5));
  EXPECT_THROW((void)records.user(1), engine::StoreError);
  store.put(Table::users, engine::encode_u64_key(2), std::string("\x09", 1));
  EXPECT_THROW((void)records.user(2), engine::StoreError);
  store.abort();
}

TEST(Records, UnknownFormatVersionFailsClearly) {
  auto holder = make_test_store();
  Store& store = *holder;
  engine::Records records(store);
  store.begin();
  records.ensure_format();
  records.ensure_format();  // the same version opens again
  store.put(Table::meta, "format_version", std::string("\x01\x63", 2));  // version 99
  try {
    records.ensure_format();
    FAIL() << "an unknown format version must not open";
  } catch (const engine::StoreError& error) {
    EXPECT_NE(std::string(error.what()).find("version 99"), std::string::npos) << error.what();
  }
  store.abort();
}

}  // namespace
}  // namespace parley::storage
