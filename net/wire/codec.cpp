// The wire codec: engine types <-> net/wire/parley.capnp, in Cap'n Proto binary or JSON. The
// conversion of each frame is in frames.cpp; this file adds the encodings around it.
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
#include "net/wire/codec.hpp"

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

#include "net/wire/frames.hpp"

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
