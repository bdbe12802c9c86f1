// The pipelined store (storage/pipelined_store.hpp) must read exactly what a plain store
// would, whatever is still in flight: its reads merge the open layer, the sealed layers
// and an LMDB snapshot. A random walk compares it with MemoryStore after every operation,
// with seals, waits and map growths in between; then the reopened LMDB must hold the same.
#include "storage/pipelined_store.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "storage/memory_store.hpp"
#include "tests/temp_dir.hpp"

namespace parley::storage {
namespace {

using engine::Table;

// A directory of the test's own (tests/temp_dir.hpp).
struct TempDir : testing::TempDir {
  TempDir() : testing::TempDir("parley-pipelined-test") {}
};

using Entries = std::vector<std::pair<std::string, std::string>>;

Entries scan_all(const engine::Store& store, Table table, std::string_view from,
                 std::string_view to, bool reverse, std::size_t limit) {
  Entries out;
  store.scan(table, from, to, reverse, [&](std::string_view key, std::string_view value) {
    out.emplace_back(key, value);
    return out.size() < limit;
  });
  return out;
}

std::string key_of(int n) {
  return "k" + std::to_string(1000 + n);  // fixed width: numeric order is byte order
}

LmdbOptions tiny_map() {
  LmdbOptions options;
  options.sync = false;
  options.initial_map_bytes = 64 << 10;  // grows many times under the walk
  return options;
}

// Reads after every step: gets of present and absent keys, bounded and unbounded scans in
// both directions, stopped early or not.
void expect_same_reads(const engine::Store& model, const engine::Store& pipelined,
                       std::mt19937& random, int step) {
  std::uniform_int_distribution<int> key(0, 60);
  const Table table = random() % 2 == 0 ? Table::messages : Table::inboxes;
  const std::string probe = key_of(key(random));
  ASSERT_EQ(model.get(table, probe), pipelined.get(table, probe)) << "step " << step;
  std::string from = random() % 4 == 0 ? "" : key_of(key(random));
  std::string to = random() % 4 == 0 ? "" : key_of(key(random));
  if (!to.empty() && to < from) std::swap(from, to);
  const bool reverse = random() % 2 == 0;
  const std::size_t limit = random() % 3 == 0 ? 3 : 1000;
  ASSERT_EQ(scan_all(model, table, from, to, reverse, limit),
            scan_all(pipelined, table, from, to, reverse, limit))
      << "step " << step << " scan [" << from << ", " << to << ") reverse " << reverse;
}

TEST(PipelinedStore, ReadsMatchAPlainStoreWhateverIsInFlight) {
  TempDir dir;
  MemoryStore model;
  std::mt19937 random(20261130);
  {
    PipelinedStore store(std::make_unique<LmdbStore>(dir.path(), tiny_map()));
    std::uniform_int_distribution<int> key(0, 60);
    model.begin();
    store.begin();
    for (int step = 0; step < 6000; ++step) {
      const Table table = random() % 2 == 0 ? Table::messages : Table::inboxes;
      const std::string k = key_of(key(random));
      switch (random() % 10) {
        case 0:
        case 1:
        case 2:
        case 3: {
          // Values big enough that the walk outgrows the map while layers are in flight.
          const std::string value(1 + random() % 900, static_cast<char>('a' + random() % 26));
          model.put(table, k, value);
          store.put(table, k, value);
          break;
        }
        case 4:
          model.erase(table, k);
          store.erase(table, k);
          break;
        case 5: {  // end the transaction without waiting: it joins the layers in flight
          model.commit();
          store.seal();
          model.begin();
          store.begin();
          break;
        }
        case 6:
          if (random() % 8 == 0) {  // sometimes wait for everything to be durable
            model.commit();
            store.commit();
            model.begin();
            store.begin();
          }
          break;
        default:
          break;
      }
      expect_same_reads(model, store, random, step);
      if (HasFatalFailure()) return;
    }
    model.commit();
    store.commit();
    EXPECT_EQ(store.in_flight(), 0u);
  }
  // Everything sealed reached LMDB: the reopened store holds exactly the model's tables.
  LmdbStore reopened(dir.path(), tiny_map());
  reopened.begin();
  model.begin();
  for (Table table : {Table::messages, Table::inboxes}) {
    EXPECT_EQ(scan_all(model, table, "", "", false, 100000),
              scan_all(reopened, table, "", "", false, 100000));
  }
  reopened.abort();
  model.abort();
}

TEST(PipelinedStore, TicketsBecomeDurableInOrder) {
  TempDir dir;
  PipelinedStore store(std::make_unique<LmdbStore>(dir.path(), tiny_map()));
  std::uint64_t last = 0;
  for (int i = 0; i < 50; ++i) {
    store.begin();
    store.put(Table::messages, key_of(i), "v");
    last = store.seal();
    EXPECT_EQ(last, static_cast<std::uint64_t>(i + 1));
    EXPECT_LE(store.durable_ticket(), last);
  }
  store.begin();
  store.commit();  // waits for every ticket before it too
  EXPECT_EQ(store.durable_ticket(), last + 1);
  EXPECT_EQ(store.in_flight(), 0u);
  EXPECT_GE(store.stats().layers, 51u);
}

// A commit that fails (here: the map cannot grow past its limit, as on a full disk) is
// sticky: it and every later ticket never become durable, and the error reaches the host.
TEST(PipelinedStore, AFailedCommitIsNeverReportedDurable) {
  TempDir dir;
  LmdbOptions options = tiny_map();
  options.initial_map_bytes = 256 << 10;
  options.max_map_bytes = 256 << 10;  // no growth at all
  PipelinedStore store(std::make_unique<LmdbStore>(dir.path(), options));
  store.begin();
  store.put(Table::messages, "small", "v");
  store.commit();
  const std::uint64_t durable = store.durable_ticket();
  store.begin();
  for (int i = 0; i < 600; ++i)
    store.put(Table::messages, key_of(i), std::string(1000, 'x'));  // ~600 KB: no room
  const std::uint64_t too_big = store.seal();
  store.begin();
  store.put(Table::messages, "after", "v");
  EXPECT_THROW(store.commit(), engine::StoreError);
  EXPECT_THROW(store.durable_ticket(), engine::StoreError);
  EXPECT_GT(too_big, durable);
}

}  // namespace
}  // namespace parley::storage
