// Engine micro-benchmarks on the in-memory store: fanout of one message to 1 and 100
// members, with one live device each. Run with `make bench`.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "host/core.hpp"
#include "storage/memory_store.hpp"

namespace {

using namespace parley::engine;

void BM_Fanout(benchmark::State& state) {
  const auto members = static_cast<std::size_t>(state.range(0));
  const std::int64_t per_batch = state.range(1);
  parley::storage::MemoryStore store;
  parley::host::Core core(store, {});
  core.open(0);
  core.begin(0);
  const ChannelId channel = core.provision([&](Engine& engine, TimeUs) {
    std::vector<UserId> users;
    for (std::size_t i = 0; i < members; ++i) {
      const UserId user = std::get<UserId>(engine.create_user("u" + std::to_string(i), 0));
      const DeviceId device = std::get<DeviceId>(engine.add_device(user, "d", 0));
      engine.handle(Connected{i + 1, device, 0}, 0);
      users.push_back(user);
    }
    if (members == 1) {
      // A 1:1 chat: the sender and one peer, both online.
      const UserId peer = std::get<UserId>(engine.create_user("peer", 0));
      const DeviceId device = std::get<DeviceId>(engine.add_device(peer, "d", 0));
      engine.handle(Connected{1000, device, 0}, 0);
      auto effects = engine.handle(Received{1, client::Send{1, 0, peer, "first", "hello"}}, 0);
      return std::get<server::SendAck>(std::get<SendEvent>(effects[0]).event).channel;
    }
    std::vector<UserId> others(users.begin() + 1, users.end());
    auto effects = engine.handle(Received{1, client::CreateGroup{1, "bench", others}}, 0);
    return std::get<server::GroupCreated>(std::get<SendEvent>(effects[0]).event).channel;
  });
  core.commit();
  std::uint64_t sent = 0;
  std::vector<std::pair<ConnectionId, InboxSeq>> acks;
  for (auto _ : state) {
    // One batch of `per_batch` sends, then every device acks what it got, so windows never
    // fill. An iteration is one batch: its time over per_batch is the cost per message.
    core.begin(static_cast<TimeUs>(sent + 1));
    acks.clear();
    for (std::int64_t i = 0; i < per_batch; ++i) {
      const Input send =
          Received{1, client::Send{2, channel, 0, "m" + std::to_string(sent++), "hello world"}};
      for (const Effect& effect : core.run(send)) {
        const auto* out = std::get_if<SendEvent>(&effect);
        const auto* deliver = out ? std::get_if<server::Deliver>(&out->event) : nullptr;
        if (deliver != nullptr) {
          acks.emplace_back(out->connection, deliver->entries.back().inbox_seq);
        }
      }
    }
    for (const auto& [connection, inbox_seq] : acks)
      core.run(Received{connection, client::Ack{inbox_seq}});
    benchmark::DoNotOptimize(core.commit());
  }
  const auto messages = static_cast<double>(state.iterations() * per_batch);
  state.counters["deliveries/s"] = benchmark::Counter(
      messages * static_cast<double>(members == 1 ? 2 : members), benchmark::Counter::kIsRate);
}
// Args: members (1: a 1:1 chat), sends per batch. A batch of one is the worst case; the
// node's batches hold what arrived during the last commit (tens to hundreds at load).
BENCHMARK(BM_Fanout)->Args({1, 1})->Args({100, 1})->Args({1, 64})->Args({100, 64});

}  // namespace

BENCHMARK_MAIN();
