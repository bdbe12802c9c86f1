// LMDB with fsync: messages committed per second by batch size (group commit), and the time
// to reopen a store holding 1 or 10 million messages. Run with `make bench`.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/records.hpp"
#include "host/core.hpp"
#include "storage/lmdb_store.hpp"

namespace {

using namespace parley::engine;
using parley::storage::LmdbOptions;
using parley::storage::LmdbStore;

struct Chat {
  UserId alice = 0;
  UserId bob = 0;
};

// Two users, alice online on connection 1.
Chat set_up(LmdbStore& store, Engine& engine) {
  store.begin();
  engine.open();
  Chat chat;
  chat.alice = std::get<UserId>(engine.create_user("alice", 0));
  chat.bob = std::get<UserId>(engine.create_user("bob", 0));
  const DeviceId phone = std::get<DeviceId>(engine.add_device(chat.alice, "phone", 0));
  engine.handle(Connected{1, phone, 0}, 0);
  store.commit();
  return chat;
}

std::vector<Input> batch_of(std::size_t size, std::uint64_t& next, UserId peer) {
  std::vector<Input> inputs;
  inputs.reserve(size);
  for (std::size_t i = 0; i < size; ++i, ++next) {
    inputs.push_back(Received{1, client::Send{next, 0, peer, "m" + std::to_string(next),
                                              "a message of about sixty bytes, like most chat"}});
  }
  return inputs;
}

void BM_LmdbGroupCommit(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const std::string dir = parley::storage::make_temp_directory("parley-bench-commit");
  {
    LmdbStore store(dir);  // fsync on
    parley::host::Core core(store, {});
    const Chat chat = set_up(store, core.engine());
    std::uint64_t next = 1;
    for (auto _ : state) {
      const auto inputs = batch_of(batch, next, chat.bob);
      benchmark::DoNotOptimize(core.run_batch(inputs, static_cast<TimeUs>(next)));
    }
    state.counters["messages/s"] = benchmark::Counter(
        static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_LmdbGroupCommit)->Arg(1)->Arg(64)->Arg(1024)->UseRealTime();

// Builds (once, then reuses) a store of N messages in /tmp/parley-bench-N-messages-v1, and
// times opening it and making the engine ready to serve. scripts/bench-report also starts
// `parley serve` on the 10M store and times it until /healthz answers (bench/RESULTS.md).
// The 10M store takes about 45 s to build and 2.4 GB of disk.
void BM_ReopenMessages(benchmark::State& state) {
  const auto count = static_cast<std::uint64_t>(state.range(0));
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("parley-bench-" + std::to_string(count) + "-messages-v1"))
                              .string();
  if (!std::filesystem::exists(dir + "/complete")) {
    std::filesystem::remove_all(dir);
    LmdbOptions fast;
    fast.sync = false;
    LmdbStore store(dir, fast);
    parley::host::Core core(store, {});
    const Chat chat = set_up(store, core.engine());
    std::uint64_t next = 1;
    while (next <= count)
      core.run_batch(batch_of(4096, next, chat.bob), 0);
    std::filesystem::create_directories(dir + "/complete");
  }
  for (auto _ : state) {
    LmdbStore store(dir);
    Engine engine(store);
    store.begin();
    engine.open();
    benchmark::DoNotOptimize(Records(store).inbox_head(1));
    store.abort();
  }
}
BENCHMARK(BM_ReopenMessages)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
