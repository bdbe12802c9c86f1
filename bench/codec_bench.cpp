// Frame encode/decode in both encodings: a deliver of one 64-byte message (what every
// recipient costs the node) and a send (what every sender costs it).
#include <benchmark/benchmark.h>

#include <string>

#include "net/wire/codec.hpp"

namespace {

using namespace parley;
namespace server = engine::server;
namespace client = engine::client;

net::Encoding encoding_of(const benchmark::State& state) {
  return state.range(0) == 0 ? net::Encoding::binary : net::Encoding::json;
}

server::Event a_delivery() {
  engine::Message message;
  message.channel = 7;
  message.seq = 123456;
  message.kind = engine::MessageKind::text;
  message.sender = 42;
  message.sender_device = 99;
  message.server_time = 1'795'867'207'000'000;
  message.client_msg_id = "l42-123456";
  message.text = std::string(64, 'x');
  return server::Deliver{{engine::InboxEntry{98765, message}}};
}

net::ClientFrame a_send() {
  return client::Request{client::Send{17, 7, 0, "l42-123456", std::string(64, 'x')}};
}

void BM_EncodeDeliver(benchmark::State& state) {
  const auto event = a_delivery();
  for (auto _ : state)
    benchmark::DoNotOptimize(net::encode_server_event(event, encoding_of(state)));
  state.SetLabel(state.range(0) == 0 ? "binary" : "json");
}
BENCHMARK(BM_EncodeDeliver)->Arg(0)->Arg(1);

void BM_DecodeDeliver(benchmark::State& state) {
  const auto bytes = net::encode_server_event(a_delivery(), encoding_of(state));
  for (auto _ : state)
    benchmark::DoNotOptimize(net::decode_server_event(bytes, encoding_of(state)));
  state.SetLabel(state.range(0) == 0 ? "binary" : "json");
}
BENCHMARK(BM_DecodeDeliver)->Arg(0)->Arg(1);

void BM_DecodeSend(benchmark::State& state) {
  const auto bytes = net::encode_client_frame(a_send(), encoding_of(state));
  for (auto _ : state)
    benchmark::DoNotOptimize(net::decode_client_frame(bytes, encoding_of(state)));
  state.SetLabel(state.range(0) == 0 ? "binary" : "json");
}
BENCHMARK(BM_DecodeSend)->Arg(0)->Arg(1);

}  // namespace
