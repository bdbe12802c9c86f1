// The wire codec: engine types <-> net/parley.capnp, in Cap'n Proto binary or JSON.
//
// Decoding never throws: every failure (Cap'n Proto's kj::Exception, a std::exception, or a
// frame that parses but breaks a rule the schema cannot express) becomes a DecodeError whose
// message is short, printable ASCII (it is echoed to the client in a Failure).
//
// Two workarounds for Cap'n Proto 0.9.2's JSON codec live here (docs/protocol.md#json):
//   - its parser decodes the hex letters of a \uXXXX escape wrongly ("\u00e9" becomes "I")
//     and does not join surrogate pairs, so we decode every \u escape ourselves before it
//     sees the text (rewrite_unicode_escapes);
//   - it parses integer strings with strtoull-like rules (leading blanks, "0x" hex) and rounds
//     JSON numbers past 2^53 silently, so integers go through a strict handler
//     (StrictIntegerHandler): a decimal string, or a JSON number that is an exact integer of
//     magnitude at most 2^53 - 1.
#include "net/codec.hpp"

#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <capnp/serialize.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "parley.capnp.h"

namespace parley::net {
namespace {

namespace wire = ::parley::wire;
using capnp::JsonValue;

// Reader limits for binary frames. The traversal limit is also capped at a small multiple of
// the frame's own size: an honest message reads each of its words about once, so anything
// more is amplification (a tiny frame pointing many times at the same data, or a list of
// zero-sized elements) and is refused before it can allocate much.
constexpr std::uint64_t kMaxTraversalWords = 2u << 20;  // 16 MiB
constexpr std::uint64_t kTraversalWordsPerFrameWord = 8;
constexpr unsigned kNestingLimit = 16;
// The deepest frame (deliver > entries > entry > message > users) nests 6 JSON levels.
constexpr std::size_t kJsonNestingLimit = 16;
// DecodeError messages are cut to this many bytes.
constexpr std::size_t kMaxErrorMessageBytes = 300;
// JSON numbers above this lose precision in IEEE doubles (JavaScript's MAX_SAFE_INTEGER).
constexpr double kMaxSafeJsonInteger = 9007199254740991.0;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// A frame that parsed but is not acceptable; its message goes to the client as is.
class BadFrame : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Printable ASCII only, at most kMaxErrorMessageBytes: the message may quote hostile input
// and is sent back in a Failure, inside a JSON text frame that must be valid UTF-8.
std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxErrorMessageBytes));
  for (const char c : text) {
    if (out.size() == kMaxErrorMessageBytes) break;
    const auto byte = static_cast<unsigned char>(c);
    out += (byte >= 0x20 && byte < 0x7f) ? c : '?';
  }
  return out;
}

std::string text_of(capnp::Text::Reader text) {
  return std::string(text.begin(), text.size());
}

// std::string is NUL-terminated and may hold NUL bytes: pass its size explicitly.
capnp::Text::Reader wire_text(const std::string& text) {
  return capnp::Text::Reader(text.c_str(), text.size());
}

unsigned list_size(std::size_t size) {
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("list too long for a Cap'n Proto frame");
  }
  return static_cast<unsigned>(size);
}

// Cap'n Proto's descriptions read "expected <condition> [values]; <message>; <name> = <value>".
// Keeps the part a client author can act on.
std::string describe(const kj::Exception& e) {
  const std::string text = e.getDescription().cStr();
  if (text.rfind("expected input.isObject()", 0) == 0) {
    return "expected a JSON object (every alternative and nested struct is an object)";
  }
  if (text.rfind("expected ", 0) == 0) {
    const auto separator = text.find("; ");
    if (separator != std::string::npos) return text.substr(separator + 2);
  }
  return text;
}

// ---- Integers in JSON --------------------------------------------------------------------

template <typename T>
std::optional<T> parse_decimal(std::string_view text) {
  T value{};
  const char* const end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value, 10);
  if (text.empty() || error != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

template <typename T>
std::optional<T> json_integer(JsonValue::Reader value) {
  switch (value.which()) {
    case JsonValue::STRING: {
      const auto text = value.getString();
      return parse_decimal<T>(std::string_view(text.begin(), text.size()));
    }
    case JsonValue::NUMBER: {
      const double number = value.getNumber();
      if (!std::isfinite(number) || std::trunc(number) != number) return std::nullopt;
      if (std::fabs(number) > kMaxSafeJsonInteger) return std::nullopt;
      if (number < static_cast<double>(std::numeric_limits<T>::min()) ||
          number > static_cast<double>(std::numeric_limits<T>::max())) {
        return std::nullopt;
      }
      return static_cast<T>(number);
    }
    default:
      return std::nullopt;
  }
}

// Replaces Cap'n Proto's integer decoding for UInt64, Int64 and UInt32 (the only integer
// types in the schema). Encoding is unchanged: 64-bit integers as strings, UInt32 as numbers.
template <typename T>
class StrictIntegerHandler final : public capnp::JsonCodec::Handler<T> {
 public:
  void encode(const capnp::JsonCodec&, T input, JsonValue::Builder output) const override {
    if constexpr (sizeof(T) == 8) {
      output.setString(kj::str(input));
    } else {
      output.setNumber(static_cast<double>(input));
    }
  }
  T decode(const capnp::JsonCodec&, JsonValue::Reader input) const override {
    if (const auto value = json_integer<T>(input)) return *value;
    std::string shown;
    if (input.isString()) {
      shown = "string \"" + text_of(input.getString()) + "\"";
    } else if (input.isNumber()) {
      shown = "number " + std::string(kj::str(input.getNumber()).cStr());
    } else {
      shown = "non-integer value";
    }
    throw BadFrame("bad integer (" + shown + "): expected a " +
                   (std::is_signed_v<T> ? "signed " : "non-negative ") +
                   (sizeof(T) == 8 ? "64" : "32") +
                   "-bit integer, as a decimal string or an exact JSON number up to 2^53-1");
  }
};

// Cap'n Proto 0.9.2 mis-decodes \u escapes (see the top of the file). This rewrites every
// \uXXXX escape inside a JSON string into what the parser reads correctly: raw UTF-8 bytes,
// except U+0000 (kept as \u0000, all digits), '"' and '\' (escaped with a backslash). A
// surrogate pair becomes its code point; a lone surrogate becomes its 3-byte (invalid) UTF-8
// form, which the engine refuses as invalid_utf8. Also refuses NUL bytes, which the parser
// would take for the end of the input.
std::string rewrite_unicode_escapes(std::string_view in) {
  if (std::memchr(in.data(), '\0', in.size()) != nullptr) {
    throw BadFrame("JSON frame contains a NUL byte");
  }
  if (in.find("\\u") == std::string_view::npos) return std::string(in);

  const auto hex4 = [&](std::size_t at) -> std::optional<std::uint32_t> {
    if (at + 4 > in.size()) return std::nullopt;
    std::uint32_t unit = 0;
    for (std::size_t i = at; i < at + 4; ++i) {
      const char c = in[i];
      unit <<= 4;
      if (c >= '0' && c <= '9') {
        unit |= static_cast<std::uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        unit |= static_cast<std::uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        unit |= static_cast<std::uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return unit;
  };
  const auto append_utf8 = [](std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  };

  std::string out;
  out.reserve(in.size());
  bool in_string = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (!in_string || (c != '\\' && c != '"')) {
      if (c == '"') in_string = true;
      out += c;
      continue;
    }
    if (c == '"') {
      in_string = false;
      out += c;
      continue;
    }
    // A backslash inside a string.
    if (i + 1 >= in.size()) {
      out += c;  // the parser reports the truncation
      continue;
    }
    if (in[i + 1] != 'u') {
      out += c;
      out += in[i + 1];
      ++i;
      continue;
    }
    const auto unit = hex4(i + 2);
    if (!unit) throw BadFrame("invalid \\u escape in a JSON string");
    i += 5;  // now on the last hex digit
    std::uint32_t cp = *unit;
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < in.size() && in[i + 1] == '\\' &&
        in[i + 2] == 'u') {
      const auto low = hex4(i + 3);
      if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
        i += 6;
      }
    }
    if (cp == 0) {
      out += "\\u0000";
    } else if (cp == '"') {
      out += "\\\"";
    } else if (cp == '\\') {
      out += "\\\\";
    } else {
      append_utf8(out, cp);
    }
  }
  return out;
}

struct Json {
  // The handlers first: the codec points at them, so it must be destroyed before them.
  StrictIntegerHandler<std::uint64_t> u64;
  StrictIntegerHandler<std::int64_t> i64;
  StrictIntegerHandler<std::uint32_t> u32;
  capnp::JsonCodec codec;

  Json() {
    codec.setMaxNestingDepth(kJsonNestingLimit);
    codec.addTypeHandler(u64);
    codec.addTypeHandler(i64);
    codec.addTypeHandler(u32);
    codec.handleByAnnotation<wire::ClientFrame>();
    codec.handleByAnnotation<wire::ServerFrame>();
  }
};

// Set up once; JsonCodec is only read afterwards, so threads may share it.
const capnp::JsonCodec& json_codec() {
  static const Json json;
  return json.codec;
}

// The union members of a frame struct, as named in JSON (the `unset` placeholder excluded).
template <typename Frame>
bool is_alternative(kj::StringPtr name) {
  if (name == "unset") return false;
  const auto schema = capnp::Schema::from<Frame>();
  return schema.findFieldByName(name) != nullptr;
}

template <typename Frame>
std::string alternative_names() {
  std::string names;
  for (const auto field : capnp::Schema::from<Frame>().getUnionFields()) {
    const auto name = field.getProto().getName();
    if (name == "unset") continue;
    if (!names.empty()) names += ", ";
    names += name.cStr();
  }
  return names;
}

// Parses JSON text into Frame. Before the schema-driven decode, checks that the text is an
// object naming exactly one alternative, and notes that alternative's request id if it has
// a readable one (so that a later failure can still name the request).
template <typename Frame>
void decode_json(std::string_view bytes, typename Frame::Builder out, engine::RequestId& request) {
  const auto& codec = json_codec();
  const std::string text = rewrite_unicode_escapes(bytes);
  capnp::MallocMessageBuilder raw_message;
  auto raw = raw_message.initRoot<JsonValue>();
  codec.decodeRaw(kj::ArrayPtr<const char>(text.data(), text.size()), raw);
  const auto root = raw.asReader();
  if (!root.isObject()) {
    throw BadFrame("a JSON frame must be an object naming one alternative, like {\"name\":{...}}");
  }
  std::optional<JsonValue::Reader> chosen;
  for (const auto field : root.getObject()) {
    if (!is_alternative<Frame>(field.getName())) continue;  // unknown keys are ignored
    if (chosen) throw BadFrame("the JSON frame names more than one alternative");
    chosen = field.getValue();
  }
  if (!chosen) {
    throw BadFrame("the JSON frame names no known alternative (expected one of: " +
                   alternative_names<Frame>() + ")");
  }
  if (chosen->isObject()) {
    for (const auto field : chosen->getObject()) {
      if (field.getName() != "request") continue;
      if (const auto id = json_integer<std::uint64_t>(field.getValue())) request = *id;
    }
  }
  codec.decode(root, out);
}

// Reads a binary frame and hands its root to `convert`, inside the reader's lifetime.
template <typename Frame, typename Convert>
auto decode_binary(std::string_view bytes, Convert&& convert) {
  if (bytes.empty()) throw BadFrame("empty binary frame");
  if (bytes.size() % sizeof(capnp::word) != 0) {
    throw BadFrame("binary frame of " + std::to_string(bytes.size()) +
                   " bytes: a Cap'n Proto message is a whole number of 8-byte words");
  }
  // Copy: the frame's bytes need not be word-aligned.
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      std::min<std::uint64_t>(kMaxTraversalWords, kTraversalWordsPerFrameWord * words.size());
  options.nestingLimit = kNestingLimit;
  capnp::FlatArrayMessageReader reader(words, options);
  if (reader.getEnd() != words.end()) {
    throw BadFrame("binary frame has bytes after the end of its Cap'n Proto message");
  }
  return convert(reader.getRoot<Frame>());
}

// ---- Enums ---------------------------------------------------------------------------------

wire::MessageKind to_wire(engine::MessageKind kind) {
  switch (kind) {
    case engine::MessageKind::text:
      return wire::MessageKind::TEXT;
    case engine::MessageKind::group_created:
      return wire::MessageKind::GROUP_CREATED;
    case engine::MessageKind::member_added:
      return wire::MessageKind::MEMBER_ADDED;
    case engine::MessageKind::member_removed:
      return wire::MessageKind::MEMBER_REMOVED;
    case engine::MessageKind::member_left:
      return wire::MessageKind::MEMBER_LEFT;
    case engine::MessageKind::admin_changed:
      return wire::MessageKind::ADMIN_CHANGED;
  }
  throw std::invalid_argument("unknown message kind " + std::to_string(static_cast<int>(kind)));
}

engine::MessageKind from_wire(wire::MessageKind kind) {
  switch (kind) {
    case wire::MessageKind::TEXT:
      return engine::MessageKind::text;
    case wire::MessageKind::GROUP_CREATED:
      return engine::MessageKind::group_created;
    case wire::MessageKind::MEMBER_ADDED:
      return engine::MessageKind::member_added;
    case wire::MessageKind::MEMBER_REMOVED:
      return engine::MessageKind::member_removed;
    case wire::MessageKind::MEMBER_LEFT:
      return engine::MessageKind::member_left;
    case wire::MessageKind::ADMIN_CHANGED:
      return engine::MessageKind::admin_changed;
  }
  throw BadFrame("unknown message kind " + std::to_string(static_cast<unsigned>(kind)));
}

wire::ContactAction to_wire(engine::client::ContactAction action) {
  using engine::client::ContactAction;
  switch (action) {
    case ContactAction::add:
      return wire::ContactAction::ADD;
    case ContactAction::remove:
      return wire::ContactAction::REMOVE;
    case ContactAction::block:
      return wire::ContactAction::BLOCK;
    case ContactAction::unblock:
      return wire::ContactAction::UNBLOCK;
  }
  throw std::invalid_argument("unknown contact action " + std::to_string(static_cast<int>(action)));
}

engine::client::ContactAction from_wire(wire::ContactAction action) {
  using engine::client::ContactAction;
  switch (action) {
    case wire::ContactAction::ADD:
      return ContactAction::add;
    case wire::ContactAction::REMOVE:
      return ContactAction::remove;
    case wire::ContactAction::BLOCK:
      return ContactAction::block;
    case wire::ContactAction::UNBLOCK:
      return ContactAction::unblock;
  }
  throw BadFrame("unknown contact action " + std::to_string(static_cast<unsigned>(action)));
}

wire::ContactState to_wire(engine::ContactState state) {
  switch (state) {
    case engine::ContactState::contact:
      return wire::ContactState::CONTACT;
    case engine::ContactState::blocked:
      return wire::ContactState::BLOCKED;
  }
  throw std::invalid_argument("unknown contact state " + std::to_string(static_cast<int>(state)));
}

engine::ContactState from_wire(wire::ContactState state) {
  switch (state) {
    case wire::ContactState::CONTACT:
      return engine::ContactState::contact;
    case wire::ContactState::BLOCKED:
      return engine::ContactState::blocked;
  }
  throw BadFrame("unknown contact state " + std::to_string(static_cast<unsigned>(state)));
}

wire::ChannelKind to_wire(engine::ChannelKind kind) {
  switch (kind) {
    case engine::ChannelKind::direct:
      return wire::ChannelKind::DIRECT;
    case engine::ChannelKind::group:
      return wire::ChannelKind::GROUP;
  }
  throw std::invalid_argument("unknown channel kind " + std::to_string(static_cast<int>(kind)));
}

engine::ChannelKind from_wire(wire::ChannelKind kind) {
  switch (kind) {
    case wire::ChannelKind::DIRECT:
      return engine::ChannelKind::direct;
    case wire::ChannelKind::GROUP:
      return engine::ChannelKind::group;
  }
  throw BadFrame("unknown channel kind " + std::to_string(static_cast<unsigned>(kind)));
}

// ---- Lists and shared structs ------------------------------------------------------------

void set_ids(capnp::List<std::uint64_t>::Builder out, const std::vector<std::uint64_t>& ids) {
  for (unsigned i = 0; i < out.size(); ++i)
    out.set(i, ids[i]);
}

std::vector<std::uint64_t> ids_of(capnp::List<std::uint64_t>::Reader list) {
  std::vector<std::uint64_t> ids;
  ids.reserve(list.size());
  for (const auto id : list)
    ids.push_back(id);
  return ids;
}

void fill_channel_summary(wire::ChannelSummary::Builder out,
                          const engine::server::ChannelSummary& summary) {
  out.setChannel(summary.channel);
  out.setKind(to_wire(summary.kind));
  out.setName(wire_text(summary.name));
  out.setAdmin(summary.admin);
  out.setLastSeq(summary.last_seq);
  out.setActive(summary.active);
  auto members = out.initMembers(list_size(summary.members.size()));
  for (unsigned i = 0; i < members.size(); ++i) {
    members[i].setUser(summary.members[i].user);
    members[i].setName(wire_text(summary.members[i].name));
  }
}

engine::server::ChannelSummary read_channel_summary(wire::ChannelSummary::Reader in) {
  engine::server::ChannelSummary summary{in.getChannel(),
                                         from_wire(in.getKind()),
                                         text_of(in.getName()),
                                         in.getAdmin(),
                                         in.getLastSeq(),
                                         in.getActive(),
                                         {}};
  summary.members.reserve(in.getMembers().size());
  for (const auto member : in.getMembers())
    summary.members.push_back({member.getUser(), text_of(member.getName())});
  return summary;
}

void fill_message(wire::Message::Builder out, const engine::Message& message) {
  out.setChannel(message.channel);
  out.setSeq(message.seq);
  out.setKind(to_wire(message.kind));
  out.setSender(message.sender);
  out.setSenderDevice(message.sender_device);
  out.setServerTime(message.server_time);
  out.setClientMsgId(wire_text(message.client_msg_id));
  out.setText(wire_text(message.text));
  set_ids(out.initUsers(list_size(message.users.size())), message.users);
}

engine::Message read_message(wire::Message::Reader in) {
  engine::Message message;
  message.channel = in.getChannel();
  message.seq = in.getSeq();
  message.kind = from_wire(in.getKind());
  message.sender = in.getSender();
  message.sender_device = in.getSenderDevice();
  message.server_time = in.getServerTime();
  message.client_msg_id = text_of(in.getClientMsgId());
  message.text = text_of(in.getText());
  message.users = ids_of(in.getUsers());
  return message;
}

void fill_presence(wire::PresenceEntry::Builder out, const engine::server::PresenceEntry& entry) {
  out.setUser(entry.user);
  out.setOnline(entry.online);
  out.setLastActiveAt(entry.last_active_at);
}

engine::server::PresenceEntry read_presence(wire::PresenceEntry::Reader in) {
  return {in.getUser(), in.getOnline(), in.getLastActiveAt()};
}

// ---- Client frames -------------------------------------------------------------------------

void fill_client_frame(wire::ClientFrame::Builder out, const ClientFrame& frame) {
  if (const auto* hello = std::get_if<Hello>(&frame)) {
    auto h = out.initHello();
    h.setRequest(hello->request);
    h.setCursor(hello->cursor);
    return;
  }
  namespace client = engine::client;
  std::visit(
      Overloaded{
          [&](const client::Send& r) {
            auto s = out.initSend();
            s.setRequest(r.request);
            s.setChannel(r.channel);
            s.setPeer(r.peer);
            s.setClientMsgId(wire_text(r.client_msg_id));
            s.setText(wire_text(r.text));
          },
          [&](const client::Ack& r) { out.initAck().setInboxSeq(r.inbox_seq); },
          [&](const client::History& r) {
            auto h = out.initHistory();
            h.setRequest(r.request);
            h.setChannel(r.channel);
            h.setBeforeSeq(r.before_seq);
            h.setLimit(r.limit);
          },
          [&](const client::CreateGroup& r) {
            auto g = out.initCreateGroup();
            g.setRequest(r.request);
            g.setName(wire_text(r.name));
            set_ids(g.initMembers(list_size(r.members.size())), r.members);
          },
          [&](const client::AddMember& r) {
            auto m = out.initAddMember();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setUser(r.user);
          },
          [&](const client::RemoveMember& r) {
            auto m = out.initRemoveMember();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setUser(r.user);
          },
          [&](const client::LeaveGroup& r) {
            auto l = out.initLeaveGroup();
            l.setRequest(r.request);
            l.setChannel(r.channel);
          },
          [&](const client::Logout& r) { out.initLogout().setRequest(r.request); },
          [&](const client::Heartbeat&) { out.initHeartbeat(); },
          [&](const client::ChangeContact& r) {
            auto c = out.initChangeContact();
            c.setRequest(r.request);
            c.setAction(to_wire(r.action));
            c.setUser(r.user);
          },
          [&](const client::ListContacts& r) { out.initListContacts().setRequest(r.request); },
          [&](const client::QueryPresence& r) {
            auto q = out.initQueryPresence();
            q.setRequest(r.request);
            set_ids(q.initUsers(list_size(r.users.size())), r.users);
          },
          [&](const client::RegisterPushToken& r) {
            auto p = out.initRegisterPushToken();
            p.setRequest(r.request);
            p.setPlatform(wire_text(r.platform));
            p.setToken(wire_text(r.token));
          },
          [&](const client::UnregisterPushToken& r) {
            out.initUnregisterPushToken().setRequest(r.request);
          },
          [&](const client::QueryUnread& r) {
            auto q = out.initQueryUnread();
            q.setRequest(r.request);
            q.setAfter(r.after);
          },
          [&](const client::ListChannels& r) {
            auto l = out.initListChannels();
            l.setRequest(r.request);
            l.setAfter(r.after);
            l.setLimit(r.limit);
          },
      },
      std::get<engine::client::Request>(frame));
}

// `request` is set as soon as the frame's request id is read, before anything that may fail.
ClientFrame read_client_frame(wire::ClientFrame::Reader in, engine::RequestId& request) {
  namespace client = engine::client;
  switch (in.which()) {
    case wire::ClientFrame::UNSET:
      throw BadFrame("the frame names no alternative");
    case wire::ClientFrame::HELLO: {
      const auto h = in.getHello();
      request = h.getRequest();
      return Hello{request, h.getCursor()};
    }
    case wire::ClientFrame::SEND: {
      const auto s = in.getSend();
      request = s.getRequest();
      return client::Request{client::Send{request, s.getChannel(), s.getPeer(),
                                          text_of(s.getClientMsgId()), text_of(s.getText())}};
    }
    case wire::ClientFrame::ACK:
      return client::Request{client::Ack{in.getAck().getInboxSeq()}};
    case wire::ClientFrame::HISTORY: {
      const auto h = in.getHistory();
      request = h.getRequest();
      return client::Request{
          client::History{request, h.getChannel(), h.getBeforeSeq(), h.getLimit()}};
    }
    case wire::ClientFrame::CREATE_GROUP: {
      const auto g = in.getCreateGroup();
      request = g.getRequest();
      return client::Request{
          client::CreateGroup{request, text_of(g.getName()), ids_of(g.getMembers())}};
    }
    case wire::ClientFrame::ADD_MEMBER: {
      const auto m = in.getAddMember();
      request = m.getRequest();
      return client::Request{client::AddMember{request, m.getChannel(), m.getUser()}};
    }
    case wire::ClientFrame::REMOVE_MEMBER: {
      const auto m = in.getRemoveMember();
      request = m.getRequest();
      return client::Request{client::RemoveMember{request, m.getChannel(), m.getUser()}};
    }
    case wire::ClientFrame::LEAVE_GROUP: {
      const auto l = in.getLeaveGroup();
      request = l.getRequest();
      return client::Request{client::LeaveGroup{request, l.getChannel()}};
    }
    case wire::ClientFrame::LOGOUT:
      request = in.getLogout().getRequest();
      return client::Request{client::Logout{request}};
    case wire::ClientFrame::HEARTBEAT:
      return client::Request{client::Heartbeat{}};
    case wire::ClientFrame::CHANGE_CONTACT: {
      const auto c = in.getChangeContact();
      request = c.getRequest();
      return client::Request{client::ChangeContact{request, from_wire(c.getAction()), c.getUser()}};
    }
    case wire::ClientFrame::LIST_CONTACTS:
      request = in.getListContacts().getRequest();
      return client::Request{client::ListContacts{request}};
    case wire::ClientFrame::QUERY_PRESENCE: {
      const auto q = in.getQueryPresence();
      request = q.getRequest();
      return client::Request{client::QueryPresence{request, ids_of(q.getUsers())}};
    }
    case wire::ClientFrame::REGISTER_PUSH_TOKEN: {
      const auto p = in.getRegisterPushToken();
      request = p.getRequest();
      return client::Request{
          client::RegisterPushToken{request, text_of(p.getPlatform()), text_of(p.getToken())}};
    }
    case wire::ClientFrame::UNREGISTER_PUSH_TOKEN:
      request = in.getUnregisterPushToken().getRequest();
      return client::Request{client::UnregisterPushToken{request}};
    case wire::ClientFrame::QUERY_UNREAD: {
      const auto q = in.getQueryUnread();
      request = q.getRequest();
      return client::Request{client::QueryUnread{request, q.getAfter()}};
    }
    case wire::ClientFrame::LIST_CHANNELS: {
      const auto l = in.getListChannels();
      request = l.getRequest();
      return client::Request{client::ListChannels{request, l.getAfter(), l.getLimit()}};
    }
  }
  throw BadFrame("unknown client frame type " + std::to_string(static_cast<unsigned>(in.which())) +
                 " (a newer protocol?)");
}

// ---- Server events -------------------------------------------------------------------------

void fill_server_frame(wire::ServerFrame::Builder out, const engine::server::Event& event) {
  namespace server = engine::server;
  std::visit(Overloaded{
                 [&](const server::Welcome& e) {
                   auto w = out.initWelcome();
                   w.setUser(e.user);
                   w.setDevice(e.device);
                   w.setCursor(e.cursor);
                   w.setInboxHead(e.inbox_head);
                   w.setHeartbeatIntervalUs(e.heartbeat_interval_us);
                   w.setPresenceTimeoutUs(e.presence_timeout_us);
                 },
                 [&](const server::Deliver& e) {
                   auto entries = out.initDeliver().initEntries(list_size(e.entries.size()));
                   for (unsigned i = 0; i < entries.size(); ++i) {
                     entries[i].setInboxSeq(e.entries[i].inbox_seq);
                     fill_message(entries[i].initMessage(), e.entries[i].message);
                   }
                 },
                 [&](const server::SendAck& e) {
                   auto a = out.initSendAck();
                   a.setRequest(e.request);
                   a.setChannel(e.channel);
                   a.setSeq(e.seq);
                   a.setServerTime(e.server_time);
                   a.setDuplicate(e.duplicate);
                 },
                 [&](const server::GroupCreated& e) {
                   auto g = out.initGroupCreated();
                   g.setRequest(e.request);
                   g.setChannel(e.channel);
                 },
                 [&](const server::HistoryPage& e) {
                   auto h = out.initHistoryPage();
                   h.setRequest(e.request);
                   h.setChannel(e.channel);
                   auto messages = h.initMessages(list_size(e.messages.size()));
                   for (unsigned i = 0; i < messages.size(); ++i)
                     fill_message(messages[i], e.messages[i]);
                   h.setHasMore(e.has_more);
                 },
                 [&](const server::Ok& e) { out.initOk().setRequest(e.request); },
                 [&](const server::Failure& e) {
                   auto f = out.initFailure();
                   f.setRequest(e.request);
                   const std::string code(engine::to_string(e.code));
                   f.setCode(wire_text(code));
                   f.setMessage(wire_text(e.message));
                 },
                 [&](const server::Presence& e) { fill_presence(out.initPresence(), e.entry); },
                 [&](const server::PresenceList& e) {
                   auto p = out.initPresenceList();
                   p.setRequest(e.request);
                   auto entries = p.initEntries(list_size(e.entries.size()));
                   for (unsigned i = 0; i < entries.size(); ++i)
                     fill_presence(entries[i], e.entries[i]);
                 },
                 [&](const server::ContactList& e) {
                   auto c = out.initContactList();
                   c.setRequest(e.request);
                   auto contacts = c.initContacts(list_size(e.contacts.size()));
                   for (unsigned i = 0; i < contacts.size(); ++i) {
                     const auto& contact = e.contacts[i];
                     contacts[i].setUser(contact.user);
                     contacts[i].setName(wire_text(contact.name));
                     contacts[i].setState(to_wire(contact.state));
                     contacts[i].setMutual(contact.mutual);
                   }
                 },
                 [&](const server::UnreadCounts& e) {
                   auto u = out.initUnreadCounts();
                   u.setRequest(e.request);
                   u.setTotal(e.total);
                   auto channels = u.initChannels(list_size(e.channels.size()));
                   for (unsigned i = 0; i < channels.size(); ++i) {
                     channels[i].setChannel(e.channels[i].first);
                     channels[i].setCount(e.channels[i].second);
                   }
                   u.setMore(e.more);
                 },
                 [&](const server::ChannelList& e) {
                   auto c = out.initChannelList();
                   c.setRequest(e.request);
                   auto channels = c.initChannels(list_size(e.channels.size()));
                   for (unsigned i = 0; i < channels.size(); ++i)
                     fill_channel_summary(channels[i], e.channels[i]);
                   c.setMore(e.more);
                 },
             },
             event);
}

engine::server::Event read_server_frame(wire::ServerFrame::Reader in, engine::RequestId& request) {
  namespace server = engine::server;
  switch (in.which()) {
    case wire::ServerFrame::UNSET:
      throw BadFrame("the frame names no alternative");
    case wire::ServerFrame::WELCOME: {
      const auto w = in.getWelcome();
      return server::Welcome{w.getUser(),
                             w.getDevice(),
                             w.getCursor(),
                             w.getInboxHead(),
                             w.getHeartbeatIntervalUs(),
                             w.getPresenceTimeoutUs()};
    }
    case wire::ServerFrame::DELIVER: {
      server::Deliver deliver;
      const auto entries = in.getDeliver().getEntries();
      deliver.entries.reserve(entries.size());
      for (const auto entry : entries) {
        deliver.entries.push_back({entry.getInboxSeq(), read_message(entry.getMessage())});
      }
      return deliver;
    }
    case wire::ServerFrame::SEND_ACK: {
      const auto a = in.getSendAck();
      request = a.getRequest();
      return server::SendAck{request, a.getChannel(), a.getSeq(), a.getServerTime(),
                             a.getDuplicate()};
    }
    case wire::ServerFrame::GROUP_CREATED: {
      const auto g = in.getGroupCreated();
      request = g.getRequest();
      return server::GroupCreated{request, g.getChannel()};
    }
    case wire::ServerFrame::HISTORY_PAGE: {
      const auto h = in.getHistoryPage();
      request = h.getRequest();
      server::HistoryPage page{request, h.getChannel(), {}, h.getHasMore()};
      const auto messages = h.getMessages();
      page.messages.reserve(messages.size());
      for (const auto message : messages)
        page.messages.push_back(read_message(message));
      return page;
    }
    case wire::ServerFrame::OK:
      request = in.getOk().getRequest();
      return server::Ok{request};
    case wire::ServerFrame::FAILURE: {
      const auto f = in.getFailure();
      request = f.getRequest();
      const auto code_text = f.getCode();
      const auto code =
          engine::error_code_from_string(std::string_view(code_text.begin(), code_text.size()));
      if (!code) throw BadFrame("unknown error code \"" + text_of(code_text) + "\"");
      return server::Failure{request, *code, text_of(f.getMessage())};
    }
    case wire::ServerFrame::PRESENCE:
      return server::Presence{read_presence(in.getPresence())};
    case wire::ServerFrame::PRESENCE_LIST: {
      const auto p = in.getPresenceList();
      request = p.getRequest();
      server::PresenceList list{request, {}};
      const auto entries = p.getEntries();
      list.entries.reserve(entries.size());
      for (const auto entry : entries)
        list.entries.push_back(read_presence(entry));
      return list;
    }
    case wire::ServerFrame::CONTACT_LIST: {
      const auto c = in.getContactList();
      request = c.getRequest();
      server::ContactList list{request, {}};
      const auto contacts = c.getContacts();
      list.contacts.reserve(contacts.size());
      for (const auto contact : contacts) {
        list.contacts.push_back({contact.getUser(), text_of(contact.getName()),
                                 from_wire(contact.getState()), contact.getMutual()});
      }
      return list;
    }
    case wire::ServerFrame::UNREAD_COUNTS: {
      const auto u = in.getUnreadCounts();
      request = u.getRequest();
      server::UnreadCounts counts{request, u.getTotal(), {}, u.getMore()};
      const auto channels = u.getChannels();
      counts.channels.reserve(channels.size());
      for (const auto channel : channels) {
        counts.channels.emplace_back(channel.getChannel(), channel.getCount());
      }
      return counts;
    }
    case wire::ServerFrame::CHANNEL_LIST: {
      const auto c = in.getChannelList();
      request = c.getRequest();
      server::ChannelList list{request, {}, c.getMore()};
      const auto channels = c.getChannels();
      list.channels.reserve(channels.size());
      for (const auto channel : channels)
        list.channels.push_back(read_channel_summary(channel));
      return list;
    }
  }
  throw BadFrame("unknown server frame type " + std::to_string(static_cast<unsigned>(in.which())) +
                 " (a newer protocol?)");
}

// ---- Shared plumbing -----------------------------------------------------------------------

template <typename Frame, typename Fill>
std::string encode(Encoding encoding, Fill&& fill) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<Frame>();
  fill(root);
  if (encoding == Encoding::json) {
    const kj::String text = json_codec().encode(root.asReader());
    return std::string(text.cStr(), text.size());
  }
  const kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  const auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Decodes a Frame into the engine type `Result`; never throws.
template <typename Frame, typename Result, typename Read>
std::variant<Result, DecodeError> decode(std::string_view bytes, Encoding encoding, Read&& read) {
  const char* const what = encoding == Encoding::json ? "JSON" : "binary";
  engine::RequestId request = 0;
  try {
    if (encoding == Encoding::json) {
      capnp::MallocMessageBuilder message;
      auto root = message.initRoot<Frame>();
      decode_json<Frame>(bytes, root, request);
      return read(root.asReader(), request);
    }
    return decode_binary<Frame>(
        bytes, [&](typename Frame::Reader root) -> Result { return read(root, request); });
  } catch (const BadFrame& e) {
    return DecodeError{request, sanitize(e.what())};
  } catch (const kj::Exception& e) {
    return DecodeError{request,
                       sanitize(std::string("malformed ") + what + " frame: " + describe(e))};
  } catch (const std::exception& e) {
    return DecodeError{request, sanitize(std::string("malformed ") + what + " frame: " + e.what())};
  } catch (...) {
    return DecodeError{request, std::string("malformed ") + what + " frame"};
  }
}

}  // namespace

std::variant<ClientFrame, DecodeError> decode_client_frame(std::string_view bytes,
                                                           Encoding encoding) {
  return decode<wire::ClientFrame, ClientFrame>(bytes, encoding, read_client_frame);
}

std::string encode_server_event(const engine::server::Event& event, Encoding encoding) {
  return encode<wire::ServerFrame>(
      encoding, [&](wire::ServerFrame::Builder root) { fill_server_frame(root, event); });
}

std::string encode_client_frame(const ClientFrame& frame, Encoding encoding) {
  return encode<wire::ClientFrame>(
      encoding, [&](wire::ClientFrame::Builder root) { fill_client_frame(root, frame); });
}

std::variant<engine::server::Event, DecodeError> decode_server_event(std::string_view bytes,
                                                                     Encoding encoding) {
  return decode<wire::ServerFrame, engine::server::Event>(bytes, encoding, read_server_frame);
}

}  // namespace parley::net
