// The wire codec tests' shared helpers (tests/codec_helpers.hpp).
#include "tests/codec_helpers.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace parley::net::codec_test {
namespace {

// Multi-byte UTF-8 (2, 3 and 4 bytes), JSON's special characters, a control character and a
// NUL byte: all must survive both encodings byte for byte.
const std::string kTrickyText =
    std::string("h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \"q\" \\ / \n\t\x1B") +
    std::string(1, '\0') + "end";

// ---- Field-by-field equality ---------------------------------------------------------------

template <typename T>
bool same_list(const std::vector<T>& a, const std::vector<T>& b);

bool same(const Message& a, const Message& b) {
  return a == b;  // every field, the edit and delete ones included
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
         a.last_seq == b.last_seq && a.active == b.active && same_list(a.members, b.members) &&
         a.read_seq == b.read_seq && a.muted_until == b.muted_until &&
         a.muted_forever == b.muted_forever && a.request == b.request &&
         a.cleared_seq == b.cleared_seq;
}
bool same(const server::ReceiptEntry& a, const server::ReceiptEntry& b) {
  return a.user == b.user && a.delivered_seq == b.delivered_seq && a.read_seq == b.read_seq;
}

template <typename T>
bool same_list(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

bool same(const client::Request& a, const client::Request& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&](const auto& x) -> bool {
        using T = std::decay_t<decltype(x)>;
        const T& y = std::get<T>(b);
        if constexpr (std::is_same_v<T, client::Send>) {
          return x.request == y.request && x.channel == y.channel && x.peer == y.peer &&
                 x.client_msg_id == y.client_msg_id && x.text == y.text && x.reply_to == y.reply_to;
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
        } else if constexpr (std::is_same_v<T, client::Typing>) {
          return x.request == y.request && x.channel == y.channel && x.typing == y.typing;
        } else if constexpr (std::is_same_v<T, client::MarkRead>) {
          return x.request == y.request && x.channel == y.channel && x.seq == y.seq;
        } else if constexpr (std::is_same_v<T, client::QueryReceipts>) {
          return x.request == y.request && x.channel == y.channel;
        } else if constexpr (std::is_same_v<T, client::Settings>) {
          return x.request == y.request && x.read_receipts == y.read_receipts;
        } else if constexpr (std::is_same_v<T, client::EditMessage>) {
          return x.request == y.request && x.channel == y.channel && x.seq == y.seq &&
                 x.text == y.text;
        } else if constexpr (std::is_same_v<T, client::DeleteMessage>) {
          return x.request == y.request && x.channel == y.channel && x.seq == y.seq;
        } else if constexpr (std::is_same_v<T, client::MuteChannel>) {
          return x.request == y.request && x.channel == y.channel && x.for_us == y.for_us &&
                 x.forever == y.forever;
        } else if constexpr (std::is_same_v<T, client::AnswerRequest>) {
          return x.request == y.request && x.channel == y.channel && x.answer == y.answer;
        } else if constexpr (std::is_same_v<T, client::Search>) {
          return x.request == y.request && x.query == y.query && x.offset == y.offset &&
                 x.limit == y.limit;
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
        } else if constexpr (std::is_same_v<T, server::Typing>) {
          return x.channel == y.channel && x.user == y.user && x.typing == y.typing &&
                 x.ttl_us == y.ttl_us;
        } else if constexpr (std::is_same_v<T, server::Receipt>) {
          return x.channel == y.channel && same(x.entry, y.entry);
        } else if constexpr (std::is_same_v<T, server::Receipts>) {
          return x.request == y.request && x.channel == y.channel &&
                 same_list(x.entries, y.entries);
        } else if constexpr (std::is_same_v<T, server::Settings>) {
          return x.request == y.request && x.read_receipts == y.read_receipts;
        } else if constexpr (std::is_same_v<T, server::ChannelMute>) {
          return x.request == y.request && x.channel == y.channel &&
                 x.muted_until == y.muted_until && x.forever == y.forever;
        } else if constexpr (std::is_same_v<T, server::RequestAnswered>) {
          return x.request == y.request && x.channel == y.channel && x.answer == y.answer &&
                 x.cleared_seq == y.cleared_seq;
        } else if constexpr (std::is_same_v<T, server::SearchResults>) {
          if (x.request != y.request || x.more != y.more || x.hits.size() != y.hits.size())
            return false;
          for (std::size_t i = 0; i < x.hits.size(); ++i) {
            const auto& p = x.hits[i];
            const auto& q = y.hits[i];
            if (p.channel != q.channel || p.seq != q.seq || p.sender != q.sender ||
                p.server_time != q.server_time || p.snippet != q.snippet)
              return false;
          }
          return true;
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

namespace {

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

}  // namespace

Message event_message(std::uint64_t channel, std::uint64_t seq, MessageKind kind,
                      std::vector<std::uint64_t> users, std::string text) {
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

namespace {

// An `edited` or `deleted` entry of `target` (rule 20).
Message edit_entry(std::uint64_t channel, std::uint64_t seq, MessageKind kind, std::uint64_t target,
                   std::string text) {
  Message m = event_message(channel, seq, kind, {}, std::move(text));
  m.target = target;
  return m;
}

// A text message deleted for everyone after edit `edited_seq`: no text left.
Message tombstone(std::uint64_t channel, std::uint64_t seq, std::uint64_t edited_seq) {
  Message m = event_message(channel, seq, MessageKind::text, {}, "");
  m.edited_seq = edited_seq;
  m.deleted = true;
  m.client_msg_id = "c-" + std::to_string(seq);
  return m;
}

// A reply (to `reply_to`, quoted as `quote`) that mentions users 12 and 13.
Message reply(std::uint64_t channel, std::uint64_t seq, std::uint64_t reply_to,
              engine::Quote quote) {
  Message m = text_message(channel, seq, "@bob @Carol see \xE2\x9C\x93");
  m.reply_to = reply_to;
  m.mentions = {12, 13};
  m.quote = std::move(quote);
  return m;
}

}  // namespace

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
      client::Typing{31, 5, true},
      client::Typing{32, kMaxU64, false},
      client::MarkRead{33, 5, 12},
      client::MarkRead{kMaxU64, kMaxU64, kMaxU64},
      client::MarkRead{0, 0, 0},
      client::QueryReceipts{34, 5},
      client::QueryReceipts{kMaxU64, kMaxU64},
      client::Settings{35, std::nullopt},
      client::Settings{36, true},
      client::Settings{37, false},
      client::EditMessage{38, 5, 12, kTrickyText},
      client::EditMessage{kMaxU64, kMaxU64, kMaxU64, ""},
      client::DeleteMessage{39, 5, 12},
      client::DeleteMessage{0, 0, 0},
      client::Send{40, 5, 0, "c2", "yes", 12},
      client::Send{41, 0, 3, "c3", "@bob", kMaxU64},
      client::MuteChannel{42, 5, 3'600'000'000, false},
      client::MuteChannel{43, 5, 0, true},
      client::MuteChannel{44, kMaxU64, kMinI64, false},
      client::MuteChannel{0, 0, 0, false},
      client::AnswerRequest{45, 5, client::RequestAnswer::accept},
      client::AnswerRequest{kMaxU64, kMaxU64, client::RequestAnswer::delete_},
      client::Search{46, "lunch tom", 0, 20},
      client::Search{kMaxU64, kTrickyText, 4'294'967'295u, 4'294'967'295u},
      client::Search{0, "", 0, 0},
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
                              edit_entry(6, 7, MessageKind::edited, 6, "edited \xE2\x9C\x93"),
                              edit_entry(6, 8, MessageKind::deleted, 6, ""),
                              tombstone(6, 6, 7),
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
      server::ChannelList{22,
                          {{9, engine::ChannelKind::group, "g", 2, 40, true, {{2, "alice"}}, 38},
                           {10, engine::ChannelKind::direct, "", 0, kMaxU64, false, {}, kMaxU64}}},
      server::Typing{5, 2, true, 6'000'000},
      server::Typing{kMaxU64, kMaxU64, false, kMaxI64},
      server::Receipt{5, {3, 12, 10}},
      server::Receipt{kMaxU64, {kMaxU64, kMaxU64, 0}},
      server::Receipts{23, 5, {{2, 12, 12}, {3, 12, 0}, {kMaxU64, 1, 1}}},
      server::Receipts{24, kMaxU64, {}},
      server::Settings{25, true},
      server::Settings{0, false},
      server::ChannelMute{26, 5, 1'700'000'000'000'000, false},
      server::ChannelMute{0, kMaxU64, 0, true},
      server::ChannelMute{27, 5, kMaxI64, false},
      server::RequestAnswered{28, 5, client::RequestAnswer::accept, 0},
      server::RequestAnswered{0, kMaxU64, client::RequestAnswer::delete_, kMaxU64},
      server::SearchResults{30, {}, false},
      server::SearchResults{
          kMaxU64,
          {{9, 12, 2, 1'732'790'120'000'000, {{"shall we ", false}, {"lunch", true}}},
           {kMaxU64, kMaxU64, kMaxU64, kMinI64, {{kTrickyText, true}, {"", false}}}},
          true},
      server::ChannelList{29,
                          {{11,
                            engine::ChannelKind::direct,
                            "",
                            0,
                            7,
                            true,
                            {{2, "a"}, {3, "b"}},
                            0,
                            0,
                            false,
                            true,
                            6}}},
      server::Deliver{{
          {105, reply(6, 9, 6, {11, kTrickyText, true, false, false})},
          {106, reply(6, 10, 7, {11, "", false, true, false})},
          {107, reply(6, 11, 2, {0, "", false, false, true})},
      }},
      server::ChannelList{
          28,
          {{9, engine::ChannelKind::group, "g", 2, 40, true, {{2, "alice"}}, 38, 0, true},
           {10, engine::ChannelKind::direct, "", 0, 7, true, {{2, "alice"}}, 0, kMaxI64, false}}},
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

}  // namespace parley::net::codec_test
