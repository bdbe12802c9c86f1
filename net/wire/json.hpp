// JSON text frames (docs/protocol.md#json): the codec's JSON half, written straight from and
// read straight into engine types. The mapping is the one parley.capnp defines through Cap'n
// Proto's JsonCodec, which the codec used until it had its own writer (json_writer.cpp) and
// reader (json_reader.cpp, json_frames.cpp); both produce and accept exactly what it did.
// Internal to parley_codec: codec.cpp is the public face.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "net/wire/codec.hpp"

namespace parley::net::json {

// ---- Entry points (codec.cpp) ----------------------------------------------------------------

std::string write_client_frame(const ClientFrame& frame);
std::string write_server_event(const engine::server::Event& event);
// Throw BadFrame (JsonSyntaxError for text that is not JSON). `request` is set, before the
// throw, to the frame's request id when the frame got far enough to name one.
ClientFrame read_client_frame(std::string_view text, engine::RequestId& request);
engine::server::Event read_server_event(std::string_view text, engine::RequestId& request);

// ---- Names -----------------------------------------------------------------------------------

// The alternatives of ClientFrame and ServerFrame, in schema order, which is also the order of
// the engine's variants (Hello comes first in ClientFrame, then each client::Request).
inline constexpr std::string_view kHelloName = "hello";
inline constexpr auto kRequestNames = std::to_array<std::string_view>(
    {"send", "ack", "history", "createGroup", "addMember", "removeMember", "leaveGroup", "logout",
     "heartbeat", "changeContact", "listContacts", "queryPresence", "registerPushToken",
     "unregisterPushToken", "queryUnread", "listChannels", "typing",
     // Receipts (docs/protocol.md#receipts).
     "markRead", "queryReceipts", "settings",
     // Edits and deletes (docs/protocol.md#editing-and-deleting).
     "editMessage", "deleteMessage",
     // Muting (docs/protocol.md#muting).
     "muteChannel",
     // Message requests (docs/protocol.md#message-requests).
     "answerRequest",
     // Search (docs/protocol.md#search).
     "search"});
inline constexpr auto kEventNames = std::to_array<std::string_view>(
    {"welcome", "deliver", "sendAck", "groupCreated", "historyPage", "ok", "failure", "presence",
     "presenceList", "contactList", "unreadCounts", "channelList", "typing", "receipt", "receipts",
     "settings", "channelMute", "requestAnswered", "searchResults"});
static_assert(kRequestNames.size() == std::variant_size_v<engine::client::Request>);
static_assert(kEventNames.size() == std::variant_size_v<engine::server::Event>);

// An enum on the wire: its JSON names by wire ordinal (the schema's $Json.name), and the
// engine value of ordinal 0 (the engine's enumerators follow the wire's, in the same order).
template <typename Enum>
struct EnumNames;
template <>
struct EnumNames<engine::MessageKind> {
  static constexpr std::array<std::string_view, 8> names = {
      "text",        "group_created", "member_added", "member_removed",
      "member_left", "admin_changed", "edited",       "deleted"};
  static constexpr unsigned first = 1;
  static constexpr const char* what = "message kind";
};
template <>
struct EnumNames<engine::client::ContactAction> {
  static constexpr std::array<std::string_view, 4> names = {"add", "remove", "block", "unblock"};
  static constexpr unsigned first = 0;
  static constexpr const char* what = "contact action";
};
template <>
struct EnumNames<engine::client::RequestAnswer> {
  static constexpr std::array<std::string_view, 2> names = {"accept", "delete"};
  static constexpr unsigned first = 0;
  static constexpr const char* what = "request answer";
};
template <>
struct EnumNames<engine::ContactState> {
  static constexpr std::array<std::string_view, 2> names = {"contact", "blocked"};
  static constexpr unsigned first = 1;
  static constexpr const char* what = "contact state";
};
template <>
struct EnumNames<engine::ChannelKind> {
  static constexpr std::array<std::string_view, 2> names = {"direct", "group"};
  static constexpr unsigned first = 1;
  static constexpr const char* what = "channel kind";
};

// The wire ordinal of an engine value; names.size() or more for a value with no name.
template <typename Enum>
constexpr unsigned wire_ordinal(Enum value) {
  return static_cast<unsigned>(value) - EnumNames<Enum>::first;
}

}  // namespace parley::net::json
