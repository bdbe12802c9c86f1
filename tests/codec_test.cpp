// The wire codec (net/wire/codec.hpp): every frame through both encodings, hand-written JSON, and
// hostile input.
#include "net/wire/codec.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/describe.hpp"

namespace parley::net {
namespace {

namespace client = engine::client;
namespace server = engine::server;
using engine::ErrorCode;
using engine::Message;
using engine::MessageKind;

constexpr std::uint64_t kMaxU64 = std::numeric_limits<std::uint64_t>::max();
constexpr std::int64_t kMinI64 = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kMaxI64 = std::numeric_limits<std::int64_t>::max();

// Multi-byte UTF-8 (2, 3 and 4 bytes), JSON's special characters, a control character and a
// NUL byte: all must survive both encodings byte for byte.
const std::string kTrickyText =
    std::string("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \"q\" \\ / \n\t\x1B") +
    std::string(1, '\0') + "end";

// ---- Field-by-field equality ---------------------------------------------------------------

template <typename T>
bool same_list(const std::vector<T>& a, const std::vector<T>& b);

bool same(const Message& a, const Message& b) {
  return a.channel == b.channel && a.seq == b.seq && a.kind == b.kind && a.sender == b.sender &&
         a.sender_device == b.sender_device && a.server_time == b.server_time &&
         a.client_msg_id == b.client_msg_id && a.text == b.text && a.users == b.users;
}
bool same(const engine::InboxEntry& a, const engine::InboxEntry& b) {
  return a.inbox_seq == b.inbox_seq && same(a.message, b.message);
}
bool same(const server::PresenceEntry& a, const server::PresenceEntry& b) {
  return a.user == b.user && a.online == b.online && a.last_active_at == b.last_active_at;
}
bool same(const server::ContactEntry& a, const server::ContactEntry& b) {
  return a.user == b.user && a.name == b.name && a.state == b.state && a.mutual == b.mutual;
}
bool same(const server::ChannelMember& a, const server::ChannelMember& b) {
  return a.user == b.user && a.name == b.name;
}
bool same(const server::ChannelSummary& a, const server::ChannelSummary& b) {
  return a.channel == b.channel && a.kind == b.kind && a.name == b.name && a.admin == b.admin &&
         a.last_seq == b.last_seq && a.active == b.active && same_list(a.members, b.members);
}

template <typename T>
bool same_list(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

bool same(const client::Request& a, const client::Request& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, client::Send>) {
          return x.request == y.request && x.channel == y.channel && x.peer == y.peer &&
                 x.client_msg_id == y.client_msg_id && x.text == y.text;
        } else if constexpr (std::is_same_v<T, client::Ack>) {
          return x.inbox_seq == y.inbox_seq;
        } else if constexpr (std::is_same_v<T, client::History>) {
          return x.request == y.request && x.channel == y.channel && x.before_seq == y.before_seq &&
                 x.limit == y.limit;
        } else if constexpr (std::is_same_v<T, client::CreateGroup>) {
          return x.request == y.request && x.name == y.name && x.members == y.members;
        } else if constexpr (std::is_same_v<T, client::AddMember> ||
                             std::is_same_v<T, client::RemoveMember>) {
          return x.request == y.request && x.channel == y.channel && x.user == y.user;
        } else if constexpr (std::is_same_v<T, client::LeaveGroup>) {
          return x.request == y.request && x.channel == y.channel;
        } else if constexpr (std::is_same_v<T, client::Heartbeat>) {
          return true;
        } else if constexpr (std::is_same_v<T, client::ChangeContact>) {
          return x.request == y.request && x.action == y.action && x.user == y.user;
        } else if constexpr (std::is_same_v<T, client::QueryPresence>) {
          return x.request == y.request && x.users == y.users;
        } else if constexpr (std::is_same_v<T, client::RegisterPushToken>) {
          return x.request == y.request && x.platform == y.platform && x.token == y.token;
        } else if constexpr (std::is_same_v<T, client::QueryUnread>) {
          return x.request == y.request && x.after == y.after;
        } else if constexpr (std::is_same_v<T, client::ListChannels>) {
          return x.request == y.request && x.after == y.after && x.limit == y.limit;
        } else {
          static_assert(std::is_same_v<T, client::Logout> ||
                        std::is_same_v<T, client::ListContacts> ||
                        std::is_same_v<T, client::UnregisterPushToken>);
          return x.request == y.request;
        }
      },
      a);
}

bool same(const ClientFrame& a, const ClientFrame& b) {
  if (a.index() != b.index()) return false;
  if (const auto* hello = std::get_if<Hello>(&a)) {
    const auto& other = std::get<Hello>(b);
    return hello->request == other.request && hello->cursor == other.cursor;
  }
  return same(std::get<client::Request>(a), std::get<client::Request>(b));
}

bool same(const server::Event& a, const server::Event& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, server::Welcome>) {
          return x.user == y.user && x.device == y.device && x.cursor == y.cursor &&
                 x.inbox_head == y.inbox_head &&
                 x.heartbeat_interval_us == y.heartbeat_interval_us &&
                 x.presence_timeout_us == y.presence_timeout_us;
        } else if constexpr (std::is_same_v<T, server::Deliver>) {
          return same_list(x.entries, y.entries);
        } else if constexpr (std::is_same_v<T, server::SendAck>) {
          return x.request == y.request && x.channel == y.channel && x.seq == y.seq &&
                 x.server_time == y.server_time && x.duplicate == y.duplicate;
        } else if constexpr (std::is_same_v<T, server::GroupCreated>) {
          return x.request == y.request && x.channel == y.channel;
        } else if constexpr (std::is_same_v<T, server::HistoryPage>) {
          return x.request == y.request && x.channel == y.channel &&
                 same_list(x.messages, y.messages) && x.has_more == y.has_more;
        } else if constexpr (std::is_same_v<T, server::Ok>) {
          return x.request == y.request;
        } else if constexpr (std::is_same_v<T, server::Failure>) {
          return x.request == y.request && x.code == y.code && x.message == y.message;
        } else if constexpr (std::is_same_v<T, server::Presence>) {
          return same(x.entry, y.entry);
        } else if constexpr (std::is_same_v<T, server::PresenceList>) {
          return x.request == y.request && same_list(x.entries, y.entries);
        } else if constexpr (std::is_same_v<T, server::ContactList>) {
          return x.request == y.request && same_list(x.contacts, y.contacts);
        } else if constexpr (std::is_same_v<T, server::ChannelList>) {
          return x.request == y.request && same_list(x.channels, y.channels) && x.more == y.more;
        } else {
          static_assert(std::is_same_v<T, server::UnreadCounts>);
          return x.request == y.request && x.total == y.total && x.channels == y.channels &&
                 x.more == y.more;
        }
      },
      a);
}

// ---- Helpers --------------------------------------------------------------------------------

const char* name(Encoding encoding) {
  return encoding == Encoding::json ? "json" : "binary";
}

ClientFrame decode_client_ok(std::string_view bytes, Encoding encoding) {
  auto decoded = decode_client_frame(bytes, encoding);
  if (const auto* error = std::get_if<DecodeError>(&decoded)) {
    ADD_FAILURE() << "decode failed (" << name(encoding) << "): " << error->message
                  << "\ninput: " << bytes;
    return Hello{};
  }
  return std::get<ClientFrame>(decoded);
}

DecodeError decode_client_error(std::string_view bytes, Encoding encoding) {
  auto decoded = decode_client_frame(bytes, encoding);
  if (const auto* error = std::get_if<DecodeError>(&decoded)) return *error;
  ADD_FAILURE() << "expected a DecodeError (" << name(encoding) << ") for: " << bytes;
  return {};
}

DecodeError decode_server_error(std::string_view bytes, Encoding encoding) {
  auto decoded = decode_server_event(bytes, encoding);
  if (const auto* error = std::get_if<DecodeError>(&decoded)) return *error;
  ADD_FAILURE() << "expected a DecodeError (" << name(encoding) << ") for: " << bytes;
  return {};
}

client::Request request_of(const ClientFrame& frame) {
  if (const auto* request = std::get_if<client::Request>(&frame)) return *request;
  ADD_FAILURE() << "expected a request, got a hello";
  return client::Heartbeat{};
}

bool printable_ascii(const std::string& text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return false;
    }
  }
  return true;
}

std::string bytes_of(std::initializer_list<std::uint8_t> bytes) {
  std::string out;
  for (const auto b : bytes)
    out += static_cast<char>(b);
  return out;
}

Message text_message(std::uint64_t channel, std::uint64_t seq, std::string text) {
  Message m;
  m.channel = channel;
  m.seq = seq;
  m.kind = MessageKind::text;
  m.sender = 11;
  m.sender_device = 21;
  m.server_time = 1'700'000'000'000'000 + static_cast<std::int64_t>(seq);
  m.client_msg_id = "cmid-" + std::to_string(seq) + "-\xE2\x9C\x93";
  m.text = std::move(text);
  return m;
}

Message event_message(std::uint64_t channel, std::uint64_t seq, MessageKind kind,
                      std::vector<std::uint64_t> users, std::string text = "") {
  Message m;
  m.channel = channel;
  m.seq = seq;
  m.kind = kind;
  m.sender = 11;
  m.sender_device = 21;
  m.server_time = 42;
  m.text = std::move(text);
  m.users = std::move(users);
  return m;
}

std::vector<ClientFrame> all_client_frames() {
  return {
      Hello{3, 99},
      Hello{kMaxU64, kMaxU64},
      client::Send{7, 0, 2, "c1", "hi"},
      client::Send{8, 5, 0, "\xE2\x9C\x93-id", kTrickyText},
      client::Send{0, 0, 0, "", ""},
      client::Ack{kMaxU64},
      client::History{9, 5, 120, 25},
      client::History{10, 5, 0, 0},
      client::History{11, 5, 1, std::numeric_limits<std::uint32_t>::max()},
      client::CreateGroup{12, "Caf\xC3\xA9 \xF0\x9F\x8E\x89", {2, 3, kMaxU64}},
      client::CreateGroup{13, "", {}},
      client::AddMember{14, 5, 4},
      client::RemoveMember{15, 5, 4},
      client::LeaveGroup{16, 5},
      client::Logout{17},
      client::Heartbeat{},
      client::ChangeContact{18, client::ContactAction::add, 4},
      client::ChangeContact{19, client::ContactAction::remove, 4},
      client::ChangeContact{20, client::ContactAction::block, 4},
      client::ChangeContact{21, client::ContactAction::unblock, 4},
      client::ListContacts{22},
      client::QueryPresence{23, {2, 3, 4}},
      client::RegisterPushToken{24, "fcm", "tok:en/abc+="},
      client::UnregisterPushToken{25},
      client::QueryUnread{26},
      client::ListChannels{27},
      client::QueryUnread{28, kMaxU64},
      client::ListChannels{29, 41, 100},
      client::ListChannels{30, 0, 1},
  };
}

std::vector<server::Event> all_server_events() {
  std::vector<server::Event> events = {
      server::Welcome{1, 2, 3, 4, 5'000'000, 30'000'000},
      server::Welcome{kMaxU64, kMaxU64, 0, kMaxU64, kMinI64, kMaxI64},
      server::Deliver{{
          {101, text_message(5, 1, kTrickyText)},
          {102, event_message(6, 1, MessageKind::group_created, {11, 12, 13},
                              "Caf\xC3\xA9 \xF0\x9F\x8E\x89")},
          {103, event_message(6, 2, MessageKind::member_added, {14})},
          {104, text_message(6, 3,
                             "\xD0\xBF\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "
                             "\xE4\xBD\xA0\xE5\xA5\xBD")},
      }},
      server::Deliver{},
      server::SendAck{7, 5, 9, 1'700'000'000'000'000, false},
      server::SendAck{8, 5, 9, -1, true},
      server::GroupCreated{9, 6},
      server::HistoryPage{10,
                          6,
                          {
                              event_message(6, 1, MessageKind::group_created, {11, 12}, "g"),
                              event_message(6, 2, MessageKind::member_added, {13}),
                              event_message(6, 3, MessageKind::member_removed, {13}),
                              event_message(6, 4, MessageKind::member_left, {12}),
                              event_message(6, 5, MessageKind::admin_changed, {12}),
                              text_message(6, 6, kTrickyText),
                          },
                          true},
      server::HistoryPage{11, 6, {}, false},
      server::Ok{12},
      server::Presence{{4, true, 1'700'000'000'000'000}},
      server::Presence{{4, false, 0}},
      server::PresenceList{0, {{2, true, 10}, {3, false, 0}, {4, false, 99}}},
      server::PresenceList{13, {}},
      server::ContactList{14,
                          {{2, "alice", engine::ContactState::contact, true},
                           {3,
                            "b\xC3\xB6"
                            "b",
                            engine::ContactState::blocked, false},
                           {4, "carol", engine::ContactState::contact, false}}},
      server::ContactList{15, {}},
      server::UnreadCounts{16, 7, {{5, 3}, {6, 4}}},
      server::UnreadCounts{17, 0, {}},
      server::ChannelList{
          18,
          {{5, engine::ChannelKind::direct, "", 0, 9, true, {{2, "alice"}, {3, "bob"}}},
           {6, engine::ChannelKind::group, "Caf\xC3\xA9", 2, 12, true, {{2, "alice"}}},
           {7, engine::ChannelKind::group, "old", 4, 3, false, {}}}},
      server::ChannelList{19, {}},
      server::UnreadCounts{20, 900, {{8, 1}}, true},
      server::ChannelList{
          21, {{8, engine::ChannelKind::direct, "", 0, 1, true, {{2, "alice"}}}}, true},
  };
  // A Failure for every error code there is.
  for (auto code = static_cast<std::uint16_t>(ErrorCode::bad_request);
       code <= static_cast<std::uint16_t>(engine::kLastErrorCode); ++code) {
    events.push_back(server::Failure{code, static_cast<ErrorCode>(code),
                                     "message for " + std::to_string(code) + " \xE2\x9C\x97"});
  }
  events.push_back(server::Failure{0, ErrorCode::malformed_frame, ""});
  return events;
}

// ---- Round trips -----------------------------------------------------------------------------

TEST(CodecRoundTrip, EveryClientFrameBothEncodings) {
  std::set<std::size_t> covered;
  for (const auto& frame : all_client_frames()) {
    if (const auto* request = std::get_if<client::Request>(&frame))
      covered.insert(request->index());
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      const std::string bytes = encode_client_frame(frame, encoding);
      SCOPED_TRACE(std::string(name(encoding)) + ": " +
                   (encoding == Encoding::json ? bytes : std::to_string(bytes.size()) + " bytes"));
      const auto decoded = decode_client_ok(bytes, encoding);
      EXPECT_TRUE(same(decoded, frame));
    }
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<client::Request>);
}

TEST(CodecRoundTrip, EveryServerEventBothEncodings) {
  std::set<std::size_t> covered;
  std::set<ErrorCode> codes;
  for (const auto& event : all_server_events()) {
    covered.insert(event.index());
    if (const auto* failure = std::get_if<server::Failure>(&event)) codes.insert(failure->code);
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      const std::string bytes = encode_server_event(event, encoding);
      SCOPED_TRACE(std::string(name(encoding)) + ": " + engine::describe(event));
      auto decoded = decode_server_event(bytes, encoding);
      if (const auto* error = std::get_if<DecodeError>(&decoded)) {
        ADD_FAILURE() << error->message << "\n" << bytes;
        continue;
      }
      EXPECT_TRUE(same(std::get<server::Event>(decoded), event))
          << engine::describe(std::get<server::Event>(decoded));
    }
  }
  EXPECT_EQ(covered.size(), std::variant_size_v<server::Event>);
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(engine::kLastErrorCode));
}

TEST(CodecRoundTrip, BinaryAndJsonDecodeToTheSameRequest) {
  for (const auto& frame : all_client_frames()) {
    const auto from_binary =
        decode_client_ok(encode_client_frame(frame, Encoding::binary), Encoding::binary);
    const auto from_json =
        decode_client_ok(encode_client_frame(frame, Encoding::json), Encoding::json);
    EXPECT_TRUE(same(from_binary, from_json)) << encode_client_frame(frame, Encoding::json);
  }
}

TEST(CodecRoundTrip, BinaryFramesNeedNoAlignment) {
  // A WebSocket library may hand over bytes at any address.
  const std::string bytes =
      encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::binary);
  std::string shifted = "x" + bytes;
  const auto decoded = decode_client_ok(std::string_view(shifted).substr(1), Encoding::binary);
  EXPECT_TRUE(same(decoded, ClientFrame{client::Send{7, 0, 2, "c1", "hi"}}));
}

// ---- The JSON text format --------------------------------------------------------------------

TEST(CodecJson, ExactTextOfFrames) {
  EXPECT_EQ(encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::json),
            R"({"send":{"request":"7","channel":"0","peer":"2","clientMsgId":"c1","text":"hi"}})");
  EXPECT_EQ(encode_client_frame(Hello{1, 0}, Encoding::json),
            R"({"hello":{"request":"1","cursor":"0"}})");
  EXPECT_EQ(encode_client_frame(client::Heartbeat{}, Encoding::json), R"({"heartbeat":{}})");
  EXPECT_EQ(encode_client_frame(client::Ack{5}, Encoding::json), R"({"ack":{"inboxSeq":"5"}})");
  EXPECT_EQ(encode_client_frame(client::ChangeContact{3, client::ContactAction::unblock, 9},
                                Encoding::json),
            R"({"changeContact":{"request":"3","action":"unblock","user":"9"}})");
  EXPECT_EQ(encode_client_frame(client::History{4, 5, 0, 50}, Encoding::json),
            R"({"history":{"request":"4","channel":"5","beforeSeq":"0","limit":50}})");

  EXPECT_EQ(encode_server_event(server::Failure{7, ErrorCode::not_a_member, "not a member"},
                                Encoding::json),
            R"({"failure":{"request":"7","code":"not_a_member","message":"not a member"}})");
  EXPECT_EQ(
      encode_server_event(server::SendAck{7, 5, 9, -3, true}, Encoding::json),
      R"({"sendAck":{"request":"7","channel":"5","seq":"9","serverTime":"-3","duplicate":true}})");
  EXPECT_EQ(encode_server_event(server::Presence{{4, true, 10}}, Encoding::json),
            R"({"presence":{"user":"4","online":true,"lastActiveAt":"10"}})");
  EXPECT_EQ(
      encode_server_event(server::UnreadCounts{16, 7, {{5, 3}}}, Encoding::json),
      R"({"unreadCounts":{"request":"16","total":"7","channels":[{"channel":"5","count":"3"}],)"
      R"("more":false}})");
  EXPECT_EQ(encode_server_event(
                server::Deliver{{{3, event_message(6, 2, MessageKind::member_added, {14})}}},
                Encoding::json),
            R"({"deliver":{"entries":[{"inboxSeq":"3","message":{"channel":"6","seq":"2",)"
            R"("kind":"member_added","sender":"11","senderDevice":"21","serverTime":"42",)"
            R"("clientMsgId":"","text":"","users":["14"]}}]}})");
  EXPECT_EQ(
      encode_server_event(server::ContactList{1, {{2, "al", engine::ContactState::blocked, false}}},
                          Encoding::json),
      R"({"contactList":{"request":"1","contacts":[)"
      R"({"user":"2","name":"al","state":"blocked","mutual":false}]}})");
  EXPECT_EQ(
      encode_server_event(
          server::ChannelList{
              17,
              {{9, engine::ChannelKind::group, "Climbing", 2, 3, true, {{2, "alice"}, {3, "bob"}}},
               {7, engine::ChannelKind::direct, "", 0, 12, false, {}}}},
          Encoding::json),
      R"({"channelList":{"request":"17","channels":[{"channel":"9","kind":"group",)"
      R"("name":"Climbing","admin":"2","lastSeq":"3","active":true,"members":[)"
      R"({"user":"2","name":"alice"},{"user":"3","name":"bob"}]},{"channel":"7",)"
      R"("kind":"direct","name":"","admin":"0","lastSeq":"12","active":false,)"
      R"("members":[]}],"more":false}})");
  EXPECT_EQ(encode_client_frame(client::ListChannels{17}, Encoding::json),
            R"({"listChannels":{"request":"17","after":"0","limit":50}})");
  EXPECT_EQ(encode_client_frame(client::ListChannels{17, 9, 100}, Encoding::json),
            R"({"listChannels":{"request":"17","after":"9","limit":100}})");
  EXPECT_EQ(encode_client_frame(client::QueryUnread{3, 9}, Encoding::json),
            R"({"queryUnread":{"request":"3","after":"9"}})");
  EXPECT_EQ(encode_server_event(server::UnreadCounts{3, 5, {{9, 5}}, true}, Encoding::json),
            R"({"unreadCounts":{"request":"3","total":"5","channels":[{"channel":"9",)"
            R"("count":"5"}],"more":true}})");
}

// Clients written before paging send listChannels and queryUnread with a request id only:
// they get the first page (50 channels, or 500 unread counts) and `more`.
TEST(CodecJson, PagingFieldsDefaultForOlderClients) {
  const auto list = std::get<engine::client::Request>(
      decode_client_ok(R"({"listChannels":{"request":"17"}})", Encoding::json));
  ASSERT_TRUE(std::holds_alternative<client::ListChannels>(list));
  EXPECT_EQ(std::get<client::ListChannels>(list).after, 0u);
  EXPECT_EQ(std::get<client::ListChannels>(list).limit, engine::limits::kDefaultChannelPage);
  const auto unread = std::get<engine::client::Request>(
      decode_client_ok(R"({"queryUnread":{"request":"3"}})", Encoding::json));
  ASSERT_TRUE(std::holds_alternative<client::QueryUnread>(unread));
  EXPECT_EQ(std::get<client::QueryUnread>(unread).after, 0u);
}

TEST(CodecJson, HandWrittenSendDecodes) {
  const auto frame = decode_client_ok(
      R"({"send":{"request":"7","peer":"2","clientMsgId":"c1","text":"hi"}})", Encoding::json);
  EXPECT_TRUE(same(request_of(frame), client::Send{7, 0, 2, "c1", "hi"}));
  // The same request in binary decodes the same way.
  const auto binary = decode_client_ok(
      encode_client_frame(client::Send{7, 0, 2, "c1", "hi"}, Encoding::binary), Encoding::binary);
  EXPECT_TRUE(same(frame, binary));
}

TEST(CodecJson, HandWrittenFramesOfEveryKind) {
  struct Case {
    const char* json;
    ClientFrame expected;
  };
  const Case cases[] = {
      {R"({"hello":{"request":"1","cursor":"42"}})", Hello{1, 42}},
      {R"({"hello":{}})", Hello{0, 0}},
      // Numbers are accepted for integers (exact up to 2^53 - 1), and whitespace is fine.
      {R"( { "send" : { "request" : 7 , "channel" : 5 , "clientMsgId" : "c" , "text" : "x" } } )",
       client::Request{client::Send{7, 5, 0, "c", "x"}}},
      {R"({"ack":{"inboxSeq":"18446744073709551615"}})", client::Request{client::Ack{kMaxU64}}},
      // An omitted limit is 50; an omitted beforeSeq is 0 (from the newest).
      {R"({"history":{"request":"3","channel":"5"}})",
       client::Request{client::History{3, 5, 0, 50}}},
      {R"({"history":{"request":"3","channel":"5","beforeSeq":"9","limit":"20"}})",
       client::Request{client::History{3, 5, 9, 20}}},
      {R"({"createGroup":{"request":"4","name":"team","members":["2",3]}})",
       client::Request{client::CreateGroup{4, "team", {2, 3}}}},
      {R"({"addMember":{"request":"5","channel":"6","user":"7"}})",
       client::Request{client::AddMember{5, 6, 7}}},
      {R"({"removeMember":{"request":"5","channel":"6","user":"7"}})",
       client::Request{client::RemoveMember{5, 6, 7}}},
      {R"({"leaveGroup":{"request":"5","channel":"6"}})",
       client::Request{client::LeaveGroup{5, 6}}},
      {R"({"logout":{"request":"8"}})", client::Request{client::Logout{8}}},
      {R"({"heartbeat":{}})", client::Request{client::Heartbeat{}}},
      {R"({"changeContact":{"request":"9","action":"block","user":"2"}})",
       client::Request{client::ChangeContact{9, client::ContactAction::block, 2}}},
      // An enum may also be sent as its ordinal.
      {R"({"changeContact":{"request":"9","action":3,"user":"2"}})",
       client::Request{client::ChangeContact{9, client::ContactAction::unblock, 2}}},
      {R"({"listContacts":{"request":"10"}})", client::Request{client::ListContacts{10}}},
      {R"({"queryPresence":{"request":"11","users":["2","3"]}})",
       client::Request{client::QueryPresence{11, {2, 3}}}},
      {R"({"registerPushToken":{"request":"12","platform":"web","token":"t"}})",
       client::Request{client::RegisterPushToken{12, "web", "t"}}},
      {R"({"unregisterPushToken":{"request":"13"}})",
       client::Request{client::UnregisterPushToken{13}}},
      {R"({"queryUnread":{"request":"14"}})", client::Request{client::QueryUnread{14}}},
      // Unknown fields are ignored, at the top level and inside an alternative.
      {R"({"v":2,"queryUnread":{"request":"14","future":[1,{"x":null}]}})",
       client::Request{client::QueryUnread{14}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_TRUE(same(decode_client_ok(c.json, Encoding::json), c.expected));
  }
}

TEST(CodecJson, UnicodeEscapesDecodeCorrectly) {
  // Cap'n Proto 0.9.2 gets these wrong on its own (hex letters, surrogate pairs); the codec
  // decodes them itself.
  const auto frame = decode_client_ok(
      R"({"send":{"request":"1","peer":"2","clientMsgId":"\u0063\u0031",)"
      R"("text":"\u00e9\u20AC\ud83d\ude00\u0041\u001b\u0000\"\\\/\u0022\u005c\n"}})",
      Encoding::json);
  const auto request = request_of(frame);
  const auto& send = std::get<client::Send>(request);
  EXPECT_EQ(send.client_msg_id, "c1");
  EXPECT_EQ(send.text, std::string("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"
                                   "A\x1B") +
                           std::string(1, '\0') + "\"\\/\"\\\n");
}

TEST(CodecJson, EscapedBackslashBeforeULeavesTextAlone) {
  const auto frame =
      decode_client_ok(R"({"send":{"request":"1","peer":"2","text":"a\\u0041"}})", Encoding::json);
  EXPECT_EQ(std::get<client::Send>(request_of(frame)).text, "a\\u0041");
}

TEST(CodecJson, LoneSurrogateIsPassedToTheEngineAsInvalidUtf8) {
  // Decoding does not judge text: the engine refuses it with invalid_utf8.
  const auto frame =
      decode_client_ok(R"({"send":{"request":"1","peer":"2","text":"x\ud800y"}})", Encoding::json);
  EXPECT_EQ(std::get<client::Send>(request_of(frame)).text, "x\xED\xA0\x80y");
}

TEST(CodecJson, IntegersAreStrict) {
  const auto request_from = [](const std::string& value) {
    return R"({"send":{"request":)" + value + R"(,"peer":"2","text":"x"}})";
  };
  for (const std::string ok :
       {R"("0")", R"("18446744073709551615")", "0", "9007199254740991", "1.0e1", R"("007")"}) {
    SCOPED_TRACE(ok);
    EXPECT_TRUE(
        std::holds_alternative<ClientFrame>(decode_client_frame(request_from(ok), Encoding::json)));
  }
  for (const std::string bad : {R"("18446744073709551616")", R"("-1")", R"(" 7")", R"("7 ")",
                                R"("0x10")", R"("+7")", R"("1e3")", R"("")", "-1", "7.5",
                                "9007199254740993", "1e300", "true", "null", "[]", "{}"}) {
    SCOPED_TRACE(bad);
    const auto error = decode_client_error(request_from(bad), Encoding::json);
    EXPECT_FALSE(error.message.empty());
  }
  // UInt32 (a history limit).
  EXPECT_TRUE(std::holds_alternative<DecodeError>(
      decode_client_frame(R"({"history":{"request":"1","limit":4294967296}})", Encoding::json)));
  EXPECT_TRUE(std::holds_alternative<DecodeError>(
      decode_client_frame(R"({"history":{"request":"1","limit":-1}})", Encoding::json)));
  // Int64 (a time) takes a sign.
  auto decoded = decode_server_event(
      R"({"sendAck":{"request":"1","channel":"2","seq":"3","serverTime":"-5","duplicate":false}})",
      Encoding::json);
  ASSERT_TRUE(std::holds_alternative<server::Event>(decoded));
  EXPECT_EQ(std::get<server::SendAck>(std::get<server::Event>(decoded)).server_time, -5);
}

TEST(CodecJson, EnumsAndCodesAreSnakeCaseStrings) {
  const std::string deliver = encode_server_event(
      server::Deliver{{{1, event_message(6, 1, MessageKind::group_created, {1, 2}, "g")}}},
      Encoding::json);
  EXPECT_NE(deliver.find(R"("kind":"group_created")"), std::string::npos) << deliver;
  EXPECT_NE(deliver.find(R"("users":["1","2"])"), std::string::npos) << deliver;
  for (auto code = static_cast<std::uint16_t>(ErrorCode::bad_request);
       code <= static_cast<std::uint16_t>(engine::kLastErrorCode); ++code) {
    const auto error_code = static_cast<ErrorCode>(code);
    const std::string json =
        encode_server_event(server::Failure{1, error_code, "m"}, Encoding::json);
    EXPECT_NE(json.find("\"code\":\"" + std::string(engine::to_string(error_code)) + "\""),
              std::string::npos)
        << json;
  }
  // A code this build does not know is refused (not guessed).
  EXPECT_FALSE(
      decode_server_error(R"({"failure":{"request":"3","code":"no_such_code"}})", Encoding::json)
          .message.empty());
}

// ---- Hostile input -------------------------------------------------------------------------

TEST(CodecHostile, BadJsonIsADecodeError) {
  const char* const inputs[] = {
      "",
      " ",
      "{",
      "}",
      R"({"send":)",
      R"({"send":{"request":"1"})",
      R"({"send":{"request":"1"}} trailing)",
      R"({"send":{"request":"1",}})",
      "nul",
      "null",
      "[]",
      "5",
      R"("send")",
      R"({"send":5})",
      R"({"send":null})",
      R"({"send":[]})",
      R"({"send":{"text":5}})",
      R"({"send":{"text":"bad \q escape"}})",
      R"({"send":{"text":"short \u12"}})",
      R"({"send":{"text":"bad \uzzzz hex"}})",
      R"({"heartbeat":null})",
      R"({"queryPresence":{"request":"1","users":"1"}})",
      R"({"queryPresence":{"request":"1","users":[true]}})",
      R"({"changeContact":{"request":"1","action":"Block","user":"2"}})",
      R"({})",
      R"({"bogus":{}})",
      R"({"unset":null})",
      R"({"send":{},"ack":{}})",
      R"({"send":{},"send":{}})",
      "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]"
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      // Nested deeper than the 16 levels allowed.
      R"({"send":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":{"o":{"p":)"
      R"({"q":{}}}}}}}}}}}}}}}}}})",
  };
  for (const char* input : inputs) {
    SCOPED_TRACE(input);
    const auto error = decode_client_error(input, Encoding::json);
    EXPECT_FALSE(error.message.empty());
    EXPECT_TRUE(printable_ascii(error.message)) << error.message;
    const auto server_error = decode_server_error(input, Encoding::json);
    EXPECT_FALSE(server_error.message.empty());
  }
  // A NUL byte is not JSON (and would cut the text short for Cap'n Proto's parser).
  const std::string with_nul = std::string(R"({"heartbeat":{}})") + std::string(1, '\0') + "x";
  EXPECT_FALSE(decode_client_error(with_nul, Encoding::json).message.empty());
}

TEST(CodecHostile, DecodeErrorNamesTheRequestWhenKnown) {
  EXPECT_EQ(
      decode_client_error(R"({"changeContact":{"request":"12","action":"nope"}})", Encoding::json)
          .request,
      12u);
  EXPECT_EQ(
      decode_client_error(R"({"changeContact":{"request":12,"action":9}})", Encoding::json).request,
      12u);
  EXPECT_EQ(decode_client_error(R"({"send":{"request":"31","text":5}})", Encoding::json).request,
            31u);
  EXPECT_EQ(decode_client_error(R"({"send":{"text":5}})", Encoding::json).request, 0u);
  // Binary: a ChangeContact with request 12 and action 9 (no such action).
  const std::string change_contact = bytes_of({
      0,  0, 0, 0, 6, 0, 0, 0,  // one segment of 6 words
      0,  0, 0, 0, 1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      11, 0, 0, 0, 0, 0, 0, 0,  // union tag 11: changeContact
      0,  0, 0, 0, 3, 0, 0, 0,  // pointer to a struct of 3 data words
      12, 0, 0, 0, 0, 0, 0, 0,  // request 12
      9,  0, 0, 0, 0, 0, 0, 0,  // action 9
      5,  0, 0, 0, 0, 0, 0, 0,  // user 5
  });
  const auto error = decode_client_error(change_contact, Encoding::binary);
  EXPECT_EQ(error.request, 12u);
  EXPECT_NE(error.message.find("contact action"), std::string::npos) << error.message;
}

TEST(CodecHostile, BadBinaryIsADecodeError) {
  const std::string valid =
      encode_client_frame(client::Send{7, 0, 2, "c1", "hello there"}, Encoding::binary);
  // Every truncation.
  for (std::size_t size = 0; size < valid.size(); ++size) {
    SCOPED_TRACE(size);
    decode_client_error(valid.substr(0, size), Encoding::binary);
  }
  // Trailing bytes after the message.
  decode_client_error(valid + std::string(8, '\0'), Encoding::binary);
  // An all-zero root (union unset).
  decode_client_error(
      bytes_of({0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
      Encoding::binary);
  // An unknown union tag (a frame type from a newer protocol).
  const std::string unknown_tag = bytes_of({
      0,  0, 0, 0, 3, 0, 0, 0,  // one segment of 3 words
      0,  0, 0, 0, 1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      99, 0, 0, 0, 0, 0, 0, 0,  // union tag 99
      0,  0, 0, 0, 0, 0, 0, 0,  // null pointer
  });
  EXPECT_NE(decode_client_error(unknown_tag, Encoding::binary).message.find("unknown"),
            std::string::npos);
  EXPECT_NE(decode_server_error(unknown_tag, Encoding::binary).message.find("unknown"),
            std::string::npos);
  // JSON sent as a binary frame, and binary sent as a text frame.
  decode_client_error(R"({"heartbeat":{}})", Encoding::binary);
  decode_client_error(encode_client_frame(client::Heartbeat{}, Encoding::binary), Encoding::json);
  // A segment table claiming far more data than there is.
  decode_client_error(bytes_of({0, 0, 0, 0, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 1, 0, 1, 0}),
                      Encoding::binary);
  // A huge segment count.
  decode_client_error(bytes_of({0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}), Encoding::binary);
}

TEST(CodecHostile, AmplificationIsRefusedQuickly) {
  // A 48-byte Deliver whose entry list claims 2^28 zero-sized entries: reading it would cost
  // far more than the frame's size, so the traversal limit stops it before any allocation.
  const std::string bomb = bytes_of({
      0, 0, 0, 0,    5, 0, 0, 0,  // one segment of 5 words
      0, 0, 0, 0,    1, 0, 1, 0,  // root: struct, 1 data word, 1 pointer
      2, 0, 0, 0,    0, 0, 0, 0,  // union tag 2: deliver
      0, 0, 0, 0,    0, 0, 1, 0,  // pointer to Deliver: 0 data words, 1 pointer
      1, 0, 0, 0,    7, 0, 0, 0,  // entries: inline-composite list of 0 words
      0, 0, 0, 0x40, 0, 0, 0, 0,  // tag: 2^28 elements of 0 data words, 0 pointers
  });
  const auto start = std::chrono::steady_clock::now();
  const auto error = decode_server_error(bomb, Encoding::binary);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_FALSE(error.message.empty());
}

TEST(CodecHostile, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 200);
  const std::string json_alphabet = R"({}[]":,\ubnrt0123456789-.eE+ aefsl)";
  std::uniform_int_distribution<std::size_t> json_char(0, json_alphabet.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes(length(rng), '\0');
    for (auto& c : bytes)
      c = static_cast<char>(byte(rng));
    // Binary-looking input: a plausible one-segment header over random words.
    if (i % 2 == 0 && bytes.size() >= 8) {
      const std::size_t words = bytes.size() / 8;
      bytes.resize(words * 8);
      std::memset(bytes.data(), 0, 4);
      const auto segment = static_cast<std::uint32_t>(words - 1);
      std::memcpy(bytes.data() + 4, &segment, 4);
    }
    std::string json(length(rng), ' ');
    for (auto& c : json)
      c = json_alphabet[json_char(rng)];
    for (const auto& input : {bytes, json}) {
      for (const auto encoding : {Encoding::binary, Encoding::json}) {
        EXPECT_NO_THROW({
          const auto c = decode_client_frame(input, encoding);
          if (const auto* error = std::get_if<DecodeError>(&c)) {
            EXPECT_TRUE(printable_ascii(error->message)) << error->message;
          }
          (void)decode_server_event(input, encoding);
        });
      }
    }
  }
}

TEST(CodecHostile, MutatedFramesNeverCrash) {
  // Valid frames with a few bytes changed reach much deeper than random bytes.
  std::vector<std::string> seeds;
  for (const auto& frame : all_client_frames()) {
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      seeds.push_back(encode_client_frame(frame, encoding));
    }
  }
  for (const auto& event : all_server_events()) {
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      seeds.push_back(encode_server_event(event, encoding));
    }
  }
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::size_t> pick(0, seeds.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> flips(1, 4);
  for (int i = 0; i < 2000; ++i) {
    std::string bytes = seeds[pick(rng)];
    std::uniform_int_distribution<std::size_t> at(0, bytes.size() - 1);
    for (int f = flips(rng); f > 0; --f)
      bytes[at(rng)] = static_cast<char>(byte(rng));
    for (const auto encoding : {Encoding::binary, Encoding::json}) {
      EXPECT_NO_THROW({
        (void)decode_client_frame(bytes, encoding);
        (void)decode_server_event(bytes, encoding);
      });
    }
  }
}

}  // namespace
}  // namespace parley::net
