// The writer process of the crash test: sends messages through the engine over an LMDB
// store with fsync, in group-commit batches, and prints each ack only after its batch
// committed. The test kills it with SIGKILL at random points.
//
//   parley_crash_writer DIR FIRST   resend/send m<FIRST>, m<FIRST+1>, ... forever
#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/engine.hpp"
#include "host/core.hpp"
#include "storage/lmdb_store.hpp"

using namespace parley::engine;

namespace {

std::string text_of(std::uint64_t n) {
  // Varying sizes, some large, so that commits span many pages.
  return "message " + std::to_string(n) + " " + std::string((n * 7919) % 3000, 'x');
}

UserId ensure_user(Engine& engine, const char* name) {
  if (auto id = engine.user_by_name(name)) return *id;
  return std::get<UserId>(engine.create_user(name, 0));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: parley_crash_writer DIR FIRST\n");
    return 2;
  }
  parley::storage::LmdbStore store(argv[1]);  // fsync on every commit
  parley::host::Core core(store, {});
  Engine& engine = core.engine();
  std::uint64_t next = std::strtoull(argv[2], nullptr, 10);

  store.begin();
  engine.open();
  const UserId alice = ensure_user(engine, "alice");
  const UserId bob = ensure_user(engine, "bob");
  const UserId carol = ensure_user(engine, "carol");
  auto devices = engine.devices_of(alice);
  const DeviceId phone =
      devices.empty() ? std::get<DeviceId>(engine.add_device(alice, "phone", 0)) : devices[0];
  engine.handle(Connected{1, phone, 0}, 0);
  ChannelId group = 0;
  // Channel ids are dense from 1, and every group here is alice's.
  for (ChannelId id = 1; const auto channel = engine.channel(id); ++id) {
    if (channel->kind == ChannelKind::group) group = id;
  }
  if (group == 0) {
    auto created = engine.handle(Received{1, client::CreateGroup{1, "crash", {bob, carol}}}, 0);
    group = std::get<server::GroupCreated>(std::get<SendEvent>(created[0]).event).channel;
  }
  store.commit();

  for (std::uint64_t batch = 0;; ++batch) {
    const std::uint64_t size = 1 + (next * 31 + batch) % 40;
    std::vector<Input> inputs;
    for (std::uint64_t i = 0; i < size; ++i, ++next) {
      inputs.push_back(
          Received{1, client::Send{next, next % 3 == 0 ? group : 0, next % 3 == 0 ? 0 : bob,
                                   "m" + std::to_string(next), text_of(next)}});
    }
    // Committed (with fsync) before run() returns: only now may the acks leave.
    const Effects acks = core.run_batch(inputs, static_cast<TimeUs>(next));
    for (const Effect& effect : acks) {
      const auto* out = std::get_if<SendEvent>(&effect);
      const auto* ack = out ? std::get_if<server::SendAck>(&out->event) : nullptr;
      if (ack == nullptr) continue;
      std::printf("ack m%llu %llu %llu\n", static_cast<unsigned long long>(ack->request),
                  static_cast<unsigned long long>(ack->channel),
                  static_cast<unsigned long long>(ack->seq));
    }
    std::fflush(stdout);
  }
}
