// The cost of delivery and read receipts (docs/engine.md, rule 19) per message sent: extra
// frames and bytes on the wire, and engine time. A 1:1 chat (both users online, one device
// each) or a 100-member group. Each message is acked by every device it is delivered to (the
// sender's own included: its inbox holds its messages too), which moves the recipients'
// delivered positions (a receipt to the sender), and, with `read` set, marked read by every
// recipient at once (a markRead in, an ok out, a receipt to the sender).
//
// Server frames are counted as the commit releases them: receipts coalesced per connection
// and chat (host/coalesce.hpp). A message's acks and reads all share one commit here, the
// best case for coalescing (a node under load spreads them over a few commits).
//
// The counters come from an untimed pass of kTallied messages before the timed loop:
//   base_frames, base_bytes_bin, base_bytes_json: frames without receipts (send, sendAck,
//     deliver, ack), both directions, per message sent;
//   receipt_frames, receipt_bytes_bin, receipt_bytes_json: what receipts add (receipt and
//     coalesced receipts events, markRead, its ok), per message sent.
// The time per iteration is one message with its acks (and reads), on the in-memory store.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "host/core.hpp"
#include "net/wire/codec.hpp"
#include "storage/memory_store.hpp"

namespace {

using namespace parley::engine;
namespace net = parley::net;

constexpr int kTallied = 200;
constexpr ConnectionId kSender = 1;  // the first user's one device sends every message

struct Tally {
  double base_frames = 0, base_bin = 0, base_json = 0;
  double receipt_frames = 0, receipt_bin = 0, receipt_json = 0;
};

// Frames and bytes of one frame, in both encodings, into the base or the receipt share.
void count_client(Tally* tally, const client::Request& request) {
  if (tally == nullptr) return;
  const net::ClientFrame frame{request};
  const bool receipt = std::holds_alternative<client::MarkRead>(request);
  const auto bin =
      static_cast<double>(net::encode_client_frame(frame, net::Encoding::binary).size());
  const auto json =
      static_cast<double>(net::encode_client_frame(frame, net::Encoding::json).size());
  (receipt ? tally->receipt_frames : tally->base_frames) += 1;
  (receipt ? tally->receipt_bin : tally->base_bin) += bin;
  (receipt ? tally->receipt_json : tally->base_json) += json;
}

void count_server(Tally* tally, const server::Event& event) {
  if (tally == nullptr) return;
  const bool receipt = std::holds_alternative<server::Receipt>(event) ||
                       std::holds_alternative<server::Receipts>(event) ||
                       std::holds_alternative<server::Ok>(event);
  const auto bin =
      static_cast<double>(net::encode_server_event(event, net::Encoding::binary).size());
  const auto json =
      static_cast<double>(net::encode_server_event(event, net::Encoding::json).size());
  (receipt ? tally->receipt_frames : tally->base_frames) += 1;
  (receipt ? tally->receipt_bin : tally->base_bin) += bin;
  (receipt ? tally->receipt_json : tally->base_json) += json;
}

class Chat {
 public:
  Chat(std::size_t members, bool read) : core_(store_, {}), read_(read) {
    core_.open(0);
    core_.begin(0);
    channel_ = core_.provision([&](Engine& engine, TimeUs) { return setup(engine, members); });
    core_.commit();
  }

  // One message from kSender, acked (and read) by every recipient, in one batch.
  void message(Tally* tally) {
    core_.begin(static_cast<TimeUs>(++sent_));
    const client::Request send =
        client::Send{2, channel_, 0, "m" + std::to_string(sent_), "hello world"};
    count_client(tally, send);
    std::vector<std::pair<ConnectionId, client::Request>> answers;
    for (const Effect& effect : core_.run(Received{kSender, send}))
      collect(effect, answers);
    for (std::size_t i = 0; i < answers.size(); ++i) {
      count_client(tally, answers[i].second);
      for (const Effect& effect : core_.run(Received{answers[i].first, answers[i].second}))
        collect(effect, answers);
    }
    const Effects released = core_.commit();
    if (tally != nullptr) {
      for (const Effect& effect : released)
        if (const auto* out = std::get_if<SendEvent>(&effect)) count_server(tally, out->event);
    }
    benchmark::DoNotOptimize(released);
  }

 private:
  ChannelId setup(Engine& engine, std::size_t members) {
    std::vector<UserId> users;
    const std::size_t people = members == 1 ? 2 : members;
    for (std::size_t i = 0; i < people; ++i) {
      const UserId user = std::get<UserId>(engine.create_user("u" + std::to_string(i), 0));
      const DeviceId device = std::get<DeviceId>(engine.add_device(user, "d", 0));
      engine.handle(Connected{i + 1, device, 0}, 0);
      users.push_back(user);
    }
    if (members == 1) {
      auto effects = engine.handle(Received{1, client::Send{1, 0, users[1], "first", "hello"}}, 0);
      return std::get<server::SendAck>(std::get<SendEvent>(effects[0]).event).channel;
    }
    std::vector<UserId> others(users.begin() + 1, users.end());
    auto effects = engine.handle(Received{1, client::CreateGroup{1, "bench", others}}, 0);
    return std::get<server::GroupCreated>(std::get<SendEvent>(effects[0]).event).channel;
  }

  // Counts an effect's frame; a delivery is answered by an ack (and a markRead).
  void collect(const Effect& effect,
               std::vector<std::pair<ConnectionId, client::Request>>& answers) const {
    const auto* out = std::get_if<SendEvent>(&effect);
    if (out == nullptr) return;
    const auto* deliver = std::get_if<server::Deliver>(&out->event);
    if (deliver == nullptr) return;
    const InboxEntry& newest = deliver->entries.back();
    answers.emplace_back(out->connection, client::Ack{newest.inbox_seq});
    // Devices ack every delivery, their own messages' too; people read others' messages.
    if (read_ && out->connection != kSender) {
      answers.emplace_back(out->connection,
                           client::MarkRead{3, newest.message.channel, newest.message.seq});
    }
  }

  parley::storage::MemoryStore store_;
  parley::host::Core core_;
  bool read_;
  ChannelId channel_ = 0;
  std::uint64_t sent_ = 0;
};

// Args: members (1: a 1:1 chat), read (0: acks only, 1: every recipient also marks read).
void BM_Receipts(benchmark::State& state) {
  Chat chat(static_cast<std::size_t>(state.range(0)), state.range(1) != 0);
  Tally tally;
  for (int i = 0; i < kTallied; ++i)
    chat.message(&tally);
  for (auto _ : state)
    chat.message(nullptr);
  const auto per_message = [](double total) { return total / kTallied; };
  state.counters["base_frames"] = per_message(tally.base_frames);
  state.counters["base_bytes_bin"] = per_message(tally.base_bin);
  state.counters["base_bytes_json"] = per_message(tally.base_json);
  state.counters["receipt_frames"] = per_message(tally.receipt_frames);
  state.counters["receipt_bytes_bin"] = per_message(tally.receipt_bin);
  state.counters["receipt_bytes_json"] = per_message(tally.receipt_json);
}
BENCHMARK(BM_Receipts)->Args({1, 0})->Args({1, 1})->Args({100, 0})->Args({100, 1});

}  // namespace
