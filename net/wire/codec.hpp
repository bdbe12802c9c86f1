// The wire: every client<->server frame, in Cap'n Proto binary (binary WebSocket frames) or
// in JSON, in Cap'n Proto's JSON mapping of the same schema (text frames). One schema
// (net/wire/parley.capnp) defines both; docs/protocol.md documents every frame and field.
//
// This header is free of Cap'n Proto and Beast: hosts, tests and clients see engine types.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "engine/protocol.hpp"

namespace parley::net {

enum class Encoding : std::uint8_t { binary, json };

// The first frame on every WebSocket: the device's cursor (cur_max_message_id). The node
// answers with Welcome (or a Failure and a close).
struct Hello {
  engine::RequestId request = 0;
  engine::InboxSeq cursor = 0;
};

using ClientFrame = std::variant<Hello, engine::client::Request>;

// A frame that did not decode: the node answers Failure{request, malformed_frame, message}.
struct DecodeError {
  engine::RequestId request = 0;  // when the frame got far enough to name one
  std::string message;
};

std::variant<ClientFrame, DecodeError> decode_client_frame(std::string_view bytes,
                                                           Encoding encoding);
std::string encode_server_event(const engine::server::Event& event, Encoding encoding);

// The other direction, for clients (the C++ client library, tests, `parley client`).
std::string encode_client_frame(const ClientFrame& frame, Encoding encoding);
std::variant<engine::server::Event, DecodeError> decode_server_event(std::string_view bytes,
                                                                     Encoding encoding);

}  // namespace parley::net
