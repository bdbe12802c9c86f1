// JSON text frames from engine types, appended straight to a std::string: the exact bytes
// Cap'n Proto's JsonCodec wrote for parley.capnp (docs/protocol.md#json). Every field of the
// schema, in schema order, no whitespace; UInt64 and Int64 as decimal strings, UInt32 as a
// JSON number, enums by name. Text is copied byte for byte except '"', '\' and the control
// characters below U+0020 (\b \f \n \r \t, the others \u00xx); like JsonCodec, the writer
// does not judge UTF-8 (the engine only ever hands it valid UTF-8).
#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "net/wire/json.hpp"

namespace parley::net::json {
namespace {

namespace client = engine::client;
namespace server = engine::server;

// How each byte of text is written: 0 as is, 'u' as \u00xx, else a backslash and that letter.
constexpr std::array<char, 256> kEscapes = [] {
  std::array<char, 256> escapes{};
  for (int c = 0; c < 0x20; ++c)
    escapes[c] = 'u';
  escapes['\b'] = 'b';
  escapes['\f'] = 'f';
  escapes['\n'] = 'n';
  escapes['\r'] = 'r';
  escapes['\t'] = 't';
  escapes['"'] = '"';
  escapes['\\'] = '\\';
  return escapes;
}();

class Writer {
 public:
  explicit Writer(std::size_t capacity) { out_.reserve(capacity); }

  // {"name":{ ...fields... }}: a frame is an object naming its one alternative.
  template <typename Alternative>
  std::string frame(std::string_view name, const Alternative& alternative) {
    out_ += "{\"";
    out_ += name;
    out_ += "\":";
    put(*this, alternative);
    out_ += '}';
    return std::move(out_);
  }

  template <typename T>
  void field(std::string_view name, const T& value) {
    out_ += first_ ? "\"" : ",\"";
    first_ = false;
    out_ += name;
    out_ += "\":";
    put(*this, value);
  }

  // An object whose fields `fill` writes.
  template <typename Fill>
  void object(Fill&& fill) {
    out_ += '{';
    first_ = true;
    fill();
    out_ += '}';
    first_ = false;
  }

  template <typename T>
  void array(const std::vector<T>& items) {
    out_ += '[';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i != 0) out_ += ',';
      put(*this, items[i]);
    }
    out_ += ']';
  }

  template <typename Integer>
  void number(Integer value, bool quoted) {
    std::array<char, 24> digits;
    const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), value).ptr;
    if (quoted) out_ += '"';
    out_.append(digits.data(), end);
    if (quoted) out_ += '"';
  }

  void literal(std::string_view text) { out_ += text; }

  void text(std::string_view text) {
    static constexpr char kHex[] = "0123456789abcdef";
    out_ += '"';
    std::size_t run = 0;  // the start of the bytes not yet copied
    for (std::size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<unsigned char>(text[i]);
      const char escape = kEscapes[byte];
      if (escape == 0) continue;
      out_.append(text.data() + run, i - run);
      run = i + 1;
      out_ += '\\';
      if (escape == 'u') {
        out_ += "u00";
        out_ += kHex[byte >> 4];
        out_ += kHex[byte & 0xF];
      } else {
        out_ += escape;
      }
    }
    out_.append(text.data() + run, text.size() - run);
    out_ += '"';
  }

 private:
  std::string out_;
  bool first_ = true;
};

// ---- Values ----------------------------------------------------------------------------------

void put(Writer& w, std::uint64_t value) {
  w.number(value, true);
}
void put(Writer& w, std::int64_t value) {
  w.number(value, true);
}
void put(Writer& w, std::uint32_t value) {
  w.number(value, false);
}
void put(Writer& w, bool value) {
  w.literal(value ? "true" : "false");
}
void put(Writer& w, std::nullptr_t) {  // a Void union member
  w.literal("null");
}
void put(Writer& w, std::string_view value) {
  w.text(value);
}
void put(Writer& w, const std::string& value) {
  w.text(value);
}

template <typename T>
void put(Writer& w, const std::vector<T>& items) {
  w.array(items);
}

template <typename Enum, typename = std::enable_if_t<std::is_enum_v<Enum>>>
void put(Writer& w, Enum value) {
  using Names = EnumNames<Enum>;
  const unsigned ordinal = wire_ordinal(value);
  if (ordinal >= Names::names.size()) {
    throw std::invalid_argument(std::string("unknown ") + Names::what + " " +
                                std::to_string(static_cast<int>(value)));
  }
  w.text(Names::names[ordinal]);
}

// ---- Shared structs --------------------------------------------------------------------------

void put(Writer& w, const engine::Quote& q) {
  w.object([&] {
    w.field("sender", q.sender);
    w.field("text", q.text);
    w.field("edited", q.edited);
    w.field("deleted", q.deleted);
    w.field("unavailable", q.unavailable);
  });
}

void put(Writer& w, const engine::Message& m) {
  w.object([&] {
    w.field("channel", m.channel);
    w.field("seq", m.seq);
    w.field("kind", m.kind);
    w.field("sender", m.sender);
    w.field("senderDevice", m.sender_device);
    w.field("serverTime", m.server_time);
    w.field("clientMsgId", m.client_msg_id);
    w.field("text", m.text);
    w.field("users", m.users);
    w.field("target", m.target);
    w.field("editedSeq", m.edited_seq);
    w.field("deleted", m.deleted);
    w.field("replyTo", m.reply_to);
    w.field("mentions", m.mentions);
    if (m.reply_to != 0) w.field("quote", m.quote);  // only a reply has one
  });
}

void put(Writer& w, const engine::InboxEntry& e) {
  w.object([&] {
    w.field("inboxSeq", e.inbox_seq);
    w.field("message", e.message);
  });
}

void put(Writer& w, const server::PresenceEntry& e) {
  w.object([&] {
    w.field("user", e.user);
    w.field("online", e.online);
    w.field("lastActiveAt", e.last_active_at);
  });
}

void put(Writer& w, const server::ContactEntry& e) {
  w.object([&] {
    w.field("user", e.user);
    w.field("name", e.name);
    w.field("state", e.state);
    w.field("mutual", e.mutual);
  });
}

// UnreadCounts.channels: ChannelUnread {channel, count}.
void put(Writer& w, const std::pair<engine::ChannelId, std::uint64_t>& unread) {
  w.object([&] {
    w.field("channel", unread.first);
    w.field("count", unread.second);
  });
}

void put(Writer& w, const server::ChannelMember& m) {
  w.object([&] {
    w.field("user", m.user);
    w.field("name", m.name);
  });
}

void put(Writer& w, const server::SnippetPart& p) {
  w.object([&] {
    w.field("text", p.text);
    w.field("match", p.match);
  });
}

void put(Writer& w, const server::SearchHit& h) {
  w.object([&] {
    w.field("channel", h.channel);
    w.field("seq", h.seq);
    w.field("sender", h.sender);
    w.field("serverTime", h.server_time);
    w.field("snippet", h.snippet);
  });
}

void put(Writer& w, const server::ChannelSummary& s) {
  w.object([&] {
    w.field("channel", s.channel);
    w.field("kind", s.kind);
    w.field("name", s.name);
    w.field("admin", s.admin);
    w.field("lastSeq", s.last_seq);
    w.field("active", s.active);
    w.field("members", s.members);
    w.field("readSeq", s.read_seq);
    w.field("mutedUntil", s.muted_until);
    w.field("mutedForever", s.muted_forever);
    w.field("request", s.request);
    w.field("clearedSeq", s.cleared_seq);
  });
}

void put(Writer& w, const server::ReceiptEntry& e) {
  w.object([&] {
    w.field("user", e.user);
    w.field("deliveredSeq", e.delivered_seq);
    w.field("readSeq", e.read_seq);
  });
}

// ---- Client frames ---------------------------------------------------------------------------

void put(Writer& w, const Hello& h) {
  w.object([&] {
    w.field("request", h.request);
    w.field("cursor", h.cursor);
  });
}

void put(Writer& w, const client::Send& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("peer", r.peer);
    w.field("clientMsgId", r.client_msg_id);
    w.field("text", r.text);
    w.field("replyTo", r.reply_to);
  });
}

void put(Writer& w, const client::Ack& r) {
  w.object([&] { w.field("inboxSeq", r.inbox_seq); });
}

void put(Writer& w, const client::History& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("beforeSeq", r.before_seq);
    w.field("limit", r.limit);
  });
}

void put(Writer& w, const client::CreateGroup& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("name", r.name);
    w.field("members", r.members);
  });
}

// AddMember and RemoveMember: MemberChange.
template <typename Change>
void put_member_change(Writer& w, const Change& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("user", r.user);
  });
}
void put(Writer& w, const client::AddMember& r) {
  put_member_change(w, r);
}
void put(Writer& w, const client::RemoveMember& r) {
  put_member_change(w, r);
}

void put(Writer& w, const client::LeaveGroup& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
  });
}

// Logout, ListContacts, UnregisterPushToken (client) and Ok (server): RequestOnly.
template <typename RequestOnly>
void put_request_only(Writer& w, const RequestOnly& r) {
  w.object([&] { w.field("request", r.request); });
}
void put(Writer& w, const client::Logout& r) {
  put_request_only(w, r);
}
void put(Writer& w, const client::ListContacts& r) {
  put_request_only(w, r);
}
void put(Writer& w, const client::UnregisterPushToken& r) {
  put_request_only(w, r);
}
void put(Writer& w, const server::Ok& e) {
  put_request_only(w, e);
}

void put(Writer& w, const client::Heartbeat&) {
  w.object([] {});
}

void put(Writer& w, const client::ChangeContact& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("action", r.action);
    w.field("user", r.user);
  });
}

void put(Writer& w, const client::QueryPresence& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("users", r.users);
  });
}

void put(Writer& w, const client::RegisterPushToken& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("platform", r.platform);
    w.field("token", r.token);
  });
}

void put(Writer& w, const client::QueryUnread& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("after", r.after);
  });
}

void put(Writer& w, const client::ListChannels& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("after", r.after);
    w.field("limit", r.limit);
  });
}

void put(Writer& w, const client::Typing& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("typing", r.typing);
  });
}

void put(Writer& w, const client::MarkRead& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("seq", r.seq);
  });
}

void put(Writer& w, const client::QueryReceipts& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
  });
}

void put(Writer& w, const client::EditMessage& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("seq", r.seq);
    w.field("text", r.text);
  });
}

void put(Writer& w, const client::DeleteMessage& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("seq", r.seq);
  });
}

void put(Writer& w, const client::AnswerRequest& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("answer", r.answer);
  });
}

void put(Writer& w, const client::Search& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("query", r.query);
    w.field("offset", r.offset);
    w.field("limit", r.limit);
  });
}

void put(Writer& w, const client::MuteChannel& r) {
  w.object([&] {
    w.field("request", r.request);
    w.field("channel", r.channel);
    w.field("forUs", r.for_us);
    w.field("forever", r.forever);
  });
}

// SettingsRequest: the union's member as JsonCodec writes it, Void as null.
void put(Writer& w, const client::Settings& r) {
  w.object([&] {
    w.field("request", r.request);
    if (r.read_receipts) {
      w.field("readReceipts", *r.read_receipts);
    } else {
      w.field("unchanged", nullptr);
    }
  });
}

// ---- Server events ---------------------------------------------------------------------------

void put(Writer& w, const server::Welcome& e) {
  w.object([&] {
    w.field("user", e.user);
    w.field("device", e.device);
    w.field("cursor", e.cursor);
    w.field("inboxHead", e.inbox_head);
    w.field("heartbeatIntervalUs", e.heartbeat_interval_us);
    w.field("presenceTimeoutUs", e.presence_timeout_us);
  });
}

void put(Writer& w, const server::Deliver& e) {
  w.object([&] { w.field("entries", e.entries); });
}

void put(Writer& w, const server::SendAck& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
    w.field("seq", e.seq);
    w.field("serverTime", e.server_time);
    w.field("duplicate", e.duplicate);
  });
}

void put(Writer& w, const server::GroupCreated& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
  });
}

void put(Writer& w, const server::HistoryPage& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
    w.field("messages", e.messages);
    w.field("hasMore", e.has_more);
  });
}

void put(Writer& w, const server::Failure& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("code", engine::to_string(e.code));
    w.field("message", e.message);
  });
}

void put(Writer& w, const server::Presence& e) {
  put(w, e.entry);
}

void put(Writer& w, const server::Typing& e) {
  w.object([&] {
    w.field("channel", e.channel);
    w.field("user", e.user);
    w.field("typing", e.typing);
    w.field("ttlUs", e.ttl_us);
  });
}

void put(Writer& w, const server::Receipt& e) {
  w.object([&] {
    w.field("channel", e.channel);
    w.field("user", e.entry.user);
    w.field("deliveredSeq", e.entry.delivered_seq);
    w.field("readSeq", e.entry.read_seq);
  });
}

void put(Writer& w, const server::Receipts& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
    w.field("entries", e.entries);
  });
}

void put(Writer& w, const server::Settings& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("readReceipts", e.read_receipts);
  });
}

void put(Writer& w, const server::ChannelMute& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
    w.field("mutedUntil", e.muted_until);
    w.field("forever", e.forever);
  });
}

void put(Writer& w, const server::SearchResults& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("hits", e.hits);
    w.field("more", e.more);
  });
}

void put(Writer& w, const server::RequestAnswered& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channel", e.channel);
    w.field("answer", e.answer);
    w.field("clearedSeq", e.cleared_seq);
  });
}

void put(Writer& w, const server::PresenceList& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("entries", e.entries);
  });
}

void put(Writer& w, const server::ContactList& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("contacts", e.contacts);
  });
}

void put(Writer& w, const server::UnreadCounts& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("total", e.total);
    w.field("channels", e.channels);
    w.field("more", e.more);
  });
}

void put(Writer& w, const server::ChannelList& e) {
  w.object([&] {
    w.field("request", e.request);
    w.field("channels", e.channels);
    w.field("more", e.more);
  });
}

// Room for the frame's punctuation and numbers, plus its text (which grows when escaped).
constexpr std::size_t kBaseCapacity = 256;
std::size_t text_bytes(const engine::Message& m) {
  return 320 + m.client_msg_id.size() + m.text.size() + 24 * m.users.size();
}

std::size_t capacity_of(const server::Event& event) {
  std::size_t bytes = kBaseCapacity;
  if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (const auto& entry : deliver->entries)
      bytes += text_bytes(entry.message);
  } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
    for (const auto& message : page->messages)
      bytes += text_bytes(message);
  } else if (const auto* results = std::get_if<server::SearchResults>(&event)) {
    for (const auto& hit : results->hits) {
      bytes += 160;
      for (const auto& part : hit.snippet)
        bytes += 32 + part.text.size();
    }
  }
  return bytes;
}

std::size_t capacity_of(const ClientFrame& frame) {
  const auto* request = std::get_if<client::Request>(&frame);
  const auto* send = request != nullptr ? std::get_if<client::Send>(request) : nullptr;
  return kBaseCapacity + (send != nullptr ? send->client_msg_id.size() + send->text.size() : 0);
}

}  // namespace

std::string write_client_frame(const ClientFrame& frame) {
  Writer writer(capacity_of(frame));
  if (const auto* hello = std::get_if<Hello>(&frame)) return writer.frame(kHelloName, *hello);
  const auto& request = std::get<client::Request>(frame);
  return std::visit([&](const auto& r) { return writer.frame(kRequestNames[request.index()], r); },
                    request);
}

std::string write_server_event(const server::Event& event) {
  Writer writer(capacity_of(event));
  return std::visit([&](const auto& e) { return writer.frame(kEventNames[event.index()], e); },
                    event);
}

}  // namespace parley::net::json
