// Engine micro-benchmarks on the in-memory store: fanout of one message to 1 and 100
// members, with one live device each. Run with `make bench`.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "storage/memory_store.hpp"

namespace {

using namespace parley::engine;

void BM_Fanout(benchmark::State& state) {
  const auto members = static_cast<std::size_t>(state.range(0));
  parley::storage::MemoryStore store;
  Engine engine(store);
  store.begin();
  engine.open();
  std::vector<UserId> users;
  for (std::size_t i = 0; i < members; ++i) {
    const UserId user = std::get<UserId>(engine.create_user("u" + std::to_string(i), 0));
    const DeviceId device = std::get<DeviceId>(engine.add_device(user, "d", 0));
    engine.handle(Connected{i + 1, device, 0}, 0);
    users.push_back(user);
  }
  ChannelId channel = 0;
  if (members == 1) {
    // A 1:1 chat: the sender and one peer, both online.
    const UserId peer = std::get<UserId>(engine.create_user("peer", 0));
    const DeviceId device = std::get<DeviceId>(engine.add_device(peer, "d", 0));
    engine.handle(Connected{1000, device, 0}, 0);
    auto effects = engine.handle(Received{1, client::Send{1, 0, peer, "first", "hello"}}, 0);
    channel = std::get<server::SendAck>(std::get<SendEvent>(effects[0]).event).channel;
  } else {
    std::vector<UserId> others(users.begin() + 1, users.end());
    auto effects = engine.handle(Received{1, client::CreateGroup{1, "bench", others}}, 0);
    channel = std::get<server::GroupCreated>(std::get<SendEvent>(effects[0]).event).channel;
  }
  store.commit();
  std::uint64_t sent = 0;
  std::vector<InboxSeq> acked(members + 1, 0);
  for (auto _ : state) {
    store.begin();
    auto effects = engine.handle(
        Received{1, client::Send{2, channel, 0, "m" + std::to_string(sent++), "hello world"}},
        static_cast<TimeUs>(sent));
    // Devices ack what they got, so delivery windows never fill.
    for (const auto& effect : effects) {
      const auto* send = std::get_if<SendEvent>(&effect);
      if (send == nullptr) continue;
      if (const auto* deliver = std::get_if<server::Deliver>(&send->event)) {
        engine.handle(Received{send->connection, client::Ack{deliver->entries.back().inbox_seq}},
                      0);
      }
    }
    store.commit();
    benchmark::DoNotOptimize(effects);
  }
  state.counters["deliveries/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * (members == 1 ? 2 : members)),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Fanout)->Arg(1)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
