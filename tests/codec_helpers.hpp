// What the wire codec tests (tests/codec_*_test.cpp) share: field-by-field equality of
// frames, decoding that fails the test when the outcome is not the expected one, and sample
// frames of every kind. Defined in tests/codec_helpers.cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "net/wire/codec.hpp"

namespace parley::net::codec_test {

namespace client = engine::client;
namespace server = engine::server;
using engine::ErrorCode;
using engine::Message;
using engine::MessageKind;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kMinI64 = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();

// Field-by-field equality.
bool same(const client::Request& a, const client::Request& b);
bool same(const ClientFrame& a, const ClientFrame& b);
bool same(const server::Event& a, const server::Event& b);

const char* name(Encoding encoding);
// Decoding that adds a test failure when it does not succeed (or fail) as expected.
ClientFrame decode_client_ok(std::string_view bytes, Encoding encoding);
DecodeError decode_client_error(std::string_view bytes, Encoding encoding);
DecodeError decode_server_error(std::string_view bytes, Encoding encoding);
client::Request request_of(const ClientFrame& frame);

bool printable_ascii(const std::string& text);
std::string bytes_of(std::initializer_list<std::uint8_t> bytes);

Message event_message(std::uint64_t channel, std::uint64_t seq, MessageKind kind,
                      std::vector<std::uint64_t> users, std::string text = "");
// Every client frame and server event kind, with edge values and tricky text.
std::vector<ClientFrame> all_client_frames();
std::vector<server::Event> all_server_events();

}  // namespace parley::net::codec_test
