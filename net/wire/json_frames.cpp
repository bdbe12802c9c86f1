// JSON text frames into engine types (json.hpp), through the reader of json_reader.hpp.
//
// A frame is refused, and its DecodeError names a request, exactly as when Cap'n Proto's
// JsonCodec decoded it. That took three steps, which decide what a bad frame is answered:
//   1. parse the whole text (any syntax error: no request id);
//   2. check that the root is an object naming exactly one known alternative (`unset`, the
//      union's placeholder, is not one), and note the last valid request id of that
//      alternative's object;
//   3. decode every field in order into the frame, then check the rules the schema cannot
//      express (an enum ordinal with no name, an unknown error code, the union left `unset`
//      by an `"unset"` key after the alternative).
// read_frame() does all three in one walk. A frame that fails is walked again by diagnose(),
// which applies steps 1 and 2 in order: a syntax error further on, or a second alternative,
// is what such a frame is refused for, and otherwise its request id is known.
//
// Every field is decoded as it comes, so a repeated field replaces the earlier one (a struct
// or list whole), and an unknown field is checked (it must be JSON) but ignored.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "engine/types.hpp"
#include "net/wire/json_reader.hpp"

namespace parley::net::json {

namespace client = engine::client;
namespace server = engine::server;

// ---- Shared structs --------------------------------------------------------------------------

void read(Reader& r, Value& v, engine::Quote& q) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("sender", q.sender), field("text", q.text),
                      field("edited", q.edited), field("deleted", q.deleted),
                      field("unavailable", q.unavailable));
  });
}

void read(Reader& r, Value& v, engine::Message& m) {
  m = engine::Message{};  // a repeated "message" replaces the first
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(
        r, key, x, field("channel", m.channel), field("seq", m.seq), field("kind", m.kind),
        field("sender", m.sender), field("senderDevice", m.sender_device),
        field("serverTime", m.server_time), field("clientMsgId", m.client_msg_id),
        field("text", m.text), field("users", m.users), field("target", m.target),
        field("editedSeq", m.edited_seq), field("deleted", m.deleted), field("replyTo", m.reply_to),
        field("mentions", m.mentions), field("quote", m.quote));
  });
}

void read(Reader& r, Value& v, engine::InboxEntry& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("inboxSeq", e.inbox_seq), field("message", e.message));
  });
}

void read(Reader& r, Value& v, server::PresenceEntry& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("user", e.user), field("online", e.online),
                      field("lastActiveAt", e.last_active_at));
  });
}

void read(Reader& r, Value& v, server::ContactEntry& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("user", e.user), field("name", e.name),
                      field("state", e.state), field("mutual", e.mutual));
  });
}

// UnreadCounts.channels: ChannelUnread {channel, count}.
void read(Reader& r, Value& v, std::pair<engine::ChannelId, std::uint64_t>& unread) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("channel", unread.first), field("count", unread.second));
  });
}

void read(Reader& r, Value& v, server::ChannelMember& m) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("user", m.user), field("name", m.name));
  });
}

void read(Reader& r, Value& v, server::SnippetPart& p) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("text", p.text), field("match", p.match));
  });
}

void read(Reader& r, Value& v, server::SearchHit& h) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("channel", h.channel), field("seq", h.seq),
                      field("sender", h.sender), field("serverTime", h.server_time),
                      field("snippet", h.snippet));
  });
}

void read(Reader& r, Value& v, server::ChannelSummary& s) {
  s.active = false;  // the schema's default, where the engine's is true
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("channel", s.channel), field("kind", s.kind),
                      field("name", s.name), field("admin", s.admin), field("lastSeq", s.last_seq),
                      field("active", s.active), field("members", s.members),
                      field("readSeq", s.read_seq), field("mutedUntil", s.muted_until),
                      field("mutedForever", s.muted_forever), field("request", s.request),
                      field("clearedSeq", s.cleared_seq));
  });
}

void read(Reader& r, Value& v, server::ReceiptEntry& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("user", e.user), field("deliveredSeq", e.delivered_seq),
                      field("readSeq", e.read_seq));
  });
}

// ---- Client frames ---------------------------------------------------------------------------

void read(Reader& r, Value& v, Hello& h) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", h.request), field("cursor", h.cursor));
  });
}

void read(Reader& r, Value& v, client::Send& s) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", s.request), field("channel", s.channel),
                      field("peer", s.peer), field("clientMsgId", s.client_msg_id),
                      field("text", s.text), field("replyTo", s.reply_to));
  });
}

void read(Reader& r, Value& v, client::Ack& a) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("inboxSeq", a.inbox_seq));
  });
}

void read(Reader& r, Value& v, client::History& h) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", h.request), field("channel", h.channel),
                      field("beforeSeq", h.before_seq), field("limit", h.limit));
  });
}

void read(Reader& r, Value& v, client::CreateGroup& g) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", g.request), field("name", g.name),
                      field("members", g.members));
  });
}

// AddMember and RemoveMember: MemberChange.
template <typename Change>
void read_member_change(Reader& r, Value& v, Change& c) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", c.request), field("channel", c.channel),
                      field("user", c.user));
  });
}
void read(Reader& r, Value& v, client::AddMember& c) {
  read_member_change(r, v, c);
}
void read(Reader& r, Value& v, client::RemoveMember& c) {
  read_member_change(r, v, c);
}

void read(Reader& r, Value& v, client::LeaveGroup& l) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", l.request), field("channel", l.channel));
  });
}

// Logout, ListContacts, UnregisterPushToken (client) and Ok (server): RequestOnly.
template <typename RequestOnly>
void read_request_only(Reader& r, Value& v, RequestOnly& o) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", o.request));
  });
}
void read(Reader& r, Value& v, client::Logout& o) {
  read_request_only(r, v, o);
}
void read(Reader& r, Value& v, client::ListContacts& o) {
  read_request_only(r, v, o);
}
void read(Reader& r, Value& v, client::UnregisterPushToken& o) {
  read_request_only(r, v, o);
}
void read(Reader& r, Value& v, server::Ok& o) {
  read_request_only(r, v, o);
}

void read(Reader& r, Value& v, client::Heartbeat&) {
  r.object(v, [](std::string_view, Value&) { return false; });
}

void read(Reader& r, Value& v, client::ChangeContact& c) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", c.request), field("action", c.action),
                      field("user", c.user));
  });
}

void read(Reader& r, Value& v, client::QueryPresence& q) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", q.request), field("users", q.users));
  });
}

void read(Reader& r, Value& v, client::RegisterPushToken& p) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", p.request), field("platform", p.platform),
                      field("token", p.token));
  });
}

void read(Reader& r, Value& v, client::QueryUnread& q) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", q.request), field("after", q.after));
  });
}

void read(Reader& r, Value& v, client::ListChannels& l) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", l.request), field("after", l.after),
                      field("limit", l.limit));
  });
}

void read(Reader& r, Value& v, client::Typing& t) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", t.request), field("channel", t.channel),
                      field("typing", t.typing));
  });
}

void read(Reader& r, Value& v, client::MarkRead& m) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", m.request), field("channel", m.channel),
                      field("seq", m.seq));
  });
}

void read(Reader& r, Value& v, client::QueryReceipts& q) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", q.request), field("channel", q.channel));
  });
}

void read(Reader& r, Value& v, client::EditMessage& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request), field("channel", e.channel),
                      field("seq", e.seq), field("text", e.text));
  });
}

void read(Reader& r, Value& v, client::DeleteMessage& d) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", d.request), field("channel", d.channel),
                      field("seq", d.seq));
  });
}

void read(Reader& r, Value& v, client::MuteChannel& m) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", m.request), field("channel", m.channel),
                      field("forUs", m.for_us), field("forever", m.forever));
  });
}

void read(Reader& r, Value& v, client::Search& s) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", s.request), field("query", s.query),
                      field("offset", s.offset), field("limit", s.limit));
  });
}

void read(Reader& r, Value& v, client::AnswerRequest& a) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", a.request), field("channel", a.channel),
                      field("answer", a.answer));
  });
}

// SettingsRequest: its union is whichever member came last, `unchanged` (Void: any value) if
// none did.
void read(Reader& r, Value& v, client::Settings& s) {
  r.object(v, [&](std::string_view key, Value& x) {
    if (key == "unchanged") {
      r.skip(x);
      s.read_receipts.reset();
      return true;
    }
    if (key == "readReceipts") {
      bool read_receipts = false;
      r.read(x, read_receipts);
      s.read_receipts = read_receipts;
      return true;
    }
    return read_field(r, key, x, field("request", s.request));
  });
}

// ---- Server events ---------------------------------------------------------------------------

void read(Reader& r, Value& v, server::Welcome& w) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("user", w.user), field("device", w.device),
                      field("cursor", w.cursor), field("inboxHead", w.inbox_head),
                      field("heartbeatIntervalUs", w.heartbeat_interval_us),
                      field("presenceTimeoutUs", w.presence_timeout_us));
  });
}

void read(Reader& r, Value& v, server::Deliver& d) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("entries", d.entries));
  });
}

void read(Reader& r, Value& v, server::SendAck& a) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", a.request), field("channel", a.channel),
                      field("seq", a.seq), field("serverTime", a.server_time),
                      field("duplicate", a.duplicate));
  });
}

void read(Reader& r, Value& v, server::GroupCreated& g) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", g.request), field("channel", g.channel));
  });
}

void read(Reader& r, Value& v, server::HistoryPage& h) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", h.request), field("channel", h.channel),
                      field("messages", h.messages), field("hasMore", h.has_more));
  });
}

void read(Reader& r, Value& v, server::Presence& p) {
  read(r, v, p.entry);
}

void read(Reader& r, Value& v, server::Typing& t) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("channel", t.channel), field("user", t.user),
                      field("typing", t.typing), field("ttlUs", t.ttl_us));
  });
}

// Receipt: a ReceiptEntry's fields beside the channel.
void read(Reader& r, Value& v, server::Receipt& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("channel", e.channel), field("user", e.entry.user),
                      field("deliveredSeq", e.entry.delivered_seq),
                      field("readSeq", e.entry.read_seq));
  });
}

void read(Reader& r, Value& v, server::Receipts& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request), field("channel", e.channel),
                      field("entries", e.entries));
  });
}

void read(Reader& r, Value& v, server::Settings& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request),
                      field("readReceipts", e.read_receipts));
  });
}

void read(Reader& r, Value& v, server::ChannelMute& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request), field("channel", e.channel),
                      field("mutedUntil", e.muted_until), field("forever", e.forever));
  });
}

void read(Reader& r, Value& v, server::SearchResults& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request), field("hits", e.hits),
                      field("more", e.more));
  });
}

void read(Reader& r, Value& v, server::RequestAnswered& e) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", e.request), field("channel", e.channel),
                      field("answer", e.answer), field("clearedSeq", e.cleared_seq));
  });
}

void read(Reader& r, Value& v, server::PresenceList& p) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", p.request), field("entries", p.entries));
  });
}

void read(Reader& r, Value& v, server::ContactList& c) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", c.request), field("contacts", c.contacts));
  });
}

void read(Reader& r, Value& v, server::UnreadCounts& u) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", u.request), field("total", u.total),
                      field("channels", u.channels), field("more", u.more));
  });
}

void read(Reader& r, Value& v, server::ChannelList& c) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", c.request), field("channels", c.channels),
                      field("more", c.more));
  });
}

namespace {

// ---- Frames ----------------------------------------------------------------------------------

// What step 3 checks once the frame is read: Failure.code as sent (the enums are kept in the
// engine types as read; see read() of an enum).
struct Deferred {
  std::string failure_code;
};

template <typename Alternative>
void read_alternative(Reader& r, Value& v, Alternative& out, Deferred&) {
  read(r, v, out);
}

void read_alternative(Reader& r, Value& v, server::Failure& f, Deferred& deferred) {
  r.object(v, [&](std::string_view key, Value& x) {
    return read_field(r, key, x, field("request", f.request), field("code", deferred.failure_code),
                      field("message", f.message));
  });
}

// Reads alternative `index` of the variant `Alternatives`.
template <typename Alternatives, std::size_t... I>
Alternatives read_variant(Reader& r, Value& v, std::size_t index, Deferred& deferred,
                          std::index_sequence<I...>) {
  Alternatives out;
  (void)((index == I && (read_alternative(r, v, out.template emplace<I>(), deferred), true)) ||
         ...);
  return out;
}
template <typename Alternatives>
Alternatives read_variant(Reader& r, Value& v, std::size_t index, Deferred& deferred) {
  return read_variant<Alternatives>(r, v, index, deferred,
                                    std::make_index_sequence<std::variant_size_v<Alternatives>>());
}

template <std::size_t N>
std::optional<std::size_t> find(const std::array<std::string_view, N>& names,
                                std::string_view key) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == key) return i;
  }
  return std::nullopt;
}

template <std::size_t N>
std::string listed(const std::array<std::string_view, N>& names) {
  std::string list;
  for (const auto name : names) {
    if (!list.empty()) list += ", ";
    list += name;
  }
  return list;
}

struct ClientFrames {
  using Frame = ClientFrame;
  static constexpr auto kNames = [] {
    std::array<std::string_view, kRequestNames.size() + 1> names{kHelloName};
    for (std::size_t i = 0; i < kRequestNames.size(); ++i)
      names[i + 1] = kRequestNames[i];
    return names;
  }();

  static Frame read(Reader& r, Value& v, std::size_t index, Deferred& deferred) {
    if (index == 0) {
      Hello hello;
      json::read(r, v, hello);
      return hello;
    }
    return read_variant<client::Request>(r, v, index - 1, deferred);
  }

  static void check(Frame& frame, const Deferred&) {
    const auto* request = std::get_if<client::Request>(&frame);
    if (request == nullptr) return;
    if (const auto* change = std::get_if<client::ChangeContact>(request)) {
      json::check(change->action);
    } else if (const auto* answer = std::get_if<client::AnswerRequest>(request)) {
      json::check(answer->answer);
    }
  }
};

struct ServerEvents {
  using Frame = server::Event;
  static constexpr auto kNames = kEventNames;

  static Frame read(Reader& r, Value& v, std::size_t index, Deferred& deferred) {
    return read_variant<server::Event>(r, v, index, deferred);
  }

  static void check(Frame& event, const Deferred& deferred) {
    if (auto* failure = std::get_if<server::Failure>(&event)) {
      const auto code = engine::error_code_from_string(deferred.failure_code);
      if (!code) throw BadFrame("unknown error code \"" + deferred.failure_code + "\"");
      failure->code = *code;
    } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      for (const auto& entry : deliver->entries)
        json::check(entry.message.kind);
    } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
      for (const auto& message : page->messages)
        json::check(message.kind);
    } else if (const auto* contacts = std::get_if<server::ContactList>(&event)) {
      for (const auto& contact : contacts->contacts)
        json::check(contact.state);
    } else if (const auto* channels = std::get_if<server::ChannelList>(&event)) {
      for (const auto& channel : channels->channels)
        json::check(channel.kind);
    } else if (const auto* answered = std::get_if<server::RequestAnswered>(&event)) {
      json::check(answered->answer);
    }
  }
};

constexpr const char* kNotAnObject =
    "a JSON frame must be an object naming one alternative, like {\"name\":{...}}";
constexpr const char* kMoreThanOne = "the JSON frame names more than one alternative";

template <typename Frames>
BadFrame no_alternative() {
  return BadFrame("the JSON frame names no known alternative (expected one of: " +
                  listed(Frames::kNames) + ")");
}

// Steps 1 to 3 in one walk (see the top of the file).
template <typename Frames>
typename Frames::Frame read_walk(Document& document) {
  Reader reader(document.repaired());
  auto& root = document.restart();
  if (take(root.type()) != ondemand::json_type::object) throw BadFrame(kNotAnObject);
  auto object = take(root.get_object());
  std::optional<typename Frames::Frame> frame;
  Deferred deferred;
  bool unset = false;  // the union as decoded: `unset` after the alternative
  reader.fields(object, [&](std::string_view key, Value& value) {
    if (key == "unset") {  // a Void member: any value, and the union is unset
      reader.skip(value);
      unset = frame.has_value();
      return true;
    }
    const auto index = find(Frames::kNames, key);
    if (!index) return false;
    if (frame) throw BadFrame(kMoreThanOne);
    frame = Frames::read(reader, value, *index, deferred);
    return true;
  });
  document.expect_end();
  if (!frame) throw no_alternative<Frames>();
  if (unset) throw BadFrame("the frame names no alternative");
  Frames::check(*frame, deferred);
  return std::move(*frame);
}

// Steps 1 and 2 alone, for a frame that failed: throws what they refuse, else sets `request`.
template <typename Frames>
void diagnose(Document& document, engine::RequestId& request) {
  Reader reader(document.repaired());
  auto* root = &document.restart();
  const auto type = take(root->type());
  if (type == ondemand::json_type::array) {
    auto array = take(root->get_array());
    reader.skip_array(array);
    document.expect_end();
    throw BadFrame(kNotAnObject);
  }
  if (type != ondemand::json_type::object) {
    const std::string_view token = take(root->raw_json_token());
    reader.skip_scalar(token);  // the token runs to the next one: nothing may follow it
    if (token.data() + token.size() != document.end()) {
      throw JsonSyntaxError("malformed JSON frame: Input remains after parsing JSON.");
    }
    throw BadFrame(kNotAnObject);
  }
  auto object = take(root->get_object());
  std::size_t alternatives = 0;
  std::optional<std::size_t> chosen;
  reader.fields(object, [&](std::string_view key, Value& value) {
    if (const auto index = find(Frames::kNames, key)) {
      ++alternatives;
      chosen = index;
    }
    reader.skip(value);
    return true;
  });
  document.expect_end();
  if (alternatives == 0) throw no_alternative<Frames>();
  if (alternatives > 1) throw BadFrame(kMoreThanOne);

  Reader again(document.repaired());
  root = &document.restart();
  auto frame = take(root->get_object());
  again.fields(frame, [&](std::string_view key, Value& value) {
    if (key != Frames::kNames[*chosen] || again.type(value) != ondemand::json_type::object) {
      return false;
    }
    again.object(value, [&](std::string_view name, Value& x) {
      if (name != "request") return false;
      if (const auto id = again.request_id(x)) request = *id;
      return true;
    });
    return true;
  });
}

template <typename Frames>
typename Frames::Frame read_frame(std::string_view text, engine::RequestId& request) {
  Document document(text);
  try {
    return read_walk<Frames>(document);
  } catch (const JsonSyntaxError&) {
    throw;
  } catch (const BadFrame&) {
    diagnose<Frames>(document, request);
    throw;
  }
}

}  // namespace

ClientFrame read_client_frame(std::string_view text, engine::RequestId& request) {
  return read_frame<ClientFrames>(text, request);
}

engine::server::Event read_server_event(std::string_view text, engine::RequestId& request) {
  return read_frame<ServerEvents>(text, request);
}

}  // namespace parley::net::json
