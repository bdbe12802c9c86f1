// Reading JSON with simdjson's On-Demand API (json_reader.hpp), accepting exactly what the
// codec accepted when Cap'n Proto 0.9.2's JsonCodec parsed text frames (docs/protocol.md#json).
//
// On-Demand rather than simdjson's DOM: the DOM unescapes every string while it parses and
// refuses a lone surrogate (\ud800), which the protocol passes on to the engine as invalid
// UTF-8; On-Demand hands over each string raw, so this file unescapes it, and nothing is
// built besides the engine types themselves.
//
// Where simdjson alone would judge a frame differently, this file decides:
//   - On-Demand does not check what nobody reads, so every value is walked: unknown fields
//     and `unset` too (Reader::skip), with the nesting limit (16) counted on the way;
//   - strings are unescaped here (unescape()): every JSON escape, \uXXXX in either case,
//     surrogate pairs joined, a lone surrogate kept as its 3-byte form, \u0000 a NUL;
//   - numbers follow JsonCodec's grammar, which also takes an empty fraction ("1.", "1.e5"),
//     and its strtod, which rounds out-of-range values to 0 or infinity (number());
//   - JsonCodec took raw control characters and any bytes (valid UTF-8 or not) inside strings,
//     and simdjson refuses both. A frame refused for that is rewritten with private \xHH
//     escapes for those bytes and read again (repair()); the strings read the same.
//     (The node's WebSocket layer refuses text frames that are not UTF-8 before they get here.)
#include "net/wire/json_reader.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace parley::net::json {
namespace {

// The text of a frame up to this size goes into a buffer (and a simdjson parser, whose memory
// grows with the text) kept by each thread; a larger one gets its own, freed after it.
constexpr std::size_t kSharedBytes = 64 * 1024;
// JSON numbers above this lose precision in IEEE doubles (JavaScript's MAX_SAFE_INTEGER).
constexpr double kMaxSafeJsonInteger = 9007199254740991.0;

struct Shared {
  ondemand::parser parser;
  std::string buffer;
  bool in_use = false;
};

Shared& shared() {
  thread_local Shared state;
  return state;
}

[[noreturn]] void syntax(std::string_view what) {
  throw JsonSyntaxError("malformed JSON frame: " + std::string(what));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::uint32_t> hex4(const char* p) {
  std::uint32_t unit = 0;
  for (int i = 0; i < 4; ++i) {
    const int digit = hex_digit(p[i]);
    if (digit < 0) return std::nullopt;
    unit = (unit << 4) | static_cast<std::uint32_t>(digit);
  }
  return unit;
}

void append_utf8(std::string& out, std::uint32_t cp) {
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
}

// Reads the string whose text starts at `p` (past its opening quote, which simdjson found
// closed), appending it unescaped to `out` (or only checking it, without `out`). Returns the
// position past the closing quote.
const char* unescape(const char* p, std::string* out, bool repaired) {
  while (true) {
    const char* const run = p;
    while (*p != '"' && *p != '\\')
      ++p;
    if (out != nullptr) out->append(run, p);
    if (*p == '"') return p + 1;
    const char escape = p[1];
    p += 2;
    char plain = 0;
    switch (escape) {
      case '"':
      case '\\':
      case '/':
        plain = escape;
        break;
      case 'b':
        plain = '\b';
        break;
      case 'f':
        plain = '\f';
        break;
      case 'n':
        plain = '\n';
        break;
      case 'r':
        plain = '\r';
        break;
      case 't':
        plain = '\t';
        break;
      case 'u': {
        const auto unit = hex4(p);
        if (!unit) syntax("invalid \\u escape in a JSON string");
        p += 4;
        std::uint32_t cp = *unit;
        if (cp >= 0xD800 && cp <= 0xDBFF && p[0] == '\\' && p[1] == 'u') {
          const auto low = hex4(p + 2);
          if (low && *low >= 0xDC00 && *low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (*low - 0xDC00);
            p += 6;
          }
        }
        if (out != nullptr) append_utf8(*out, cp);
        continue;
      }
      case 'x':
        // Only repair() writes these, always with two hex digits.
        if (!repaired) syntax("Invalid escape in JSON string.");
        if (out != nullptr)
          out->push_back(static_cast<char>(hex_digit(p[0]) * 16 + hex_digit(p[1])));
        p += 2;
        continue;
      default:
        syntax("Invalid escape in JSON string.");
    }
    if (out != nullptr) out->push_back(plain);
  }
}

// The text of a frame simdjson refused for raw control characters or bytes that are not UTF-8
// in its strings, with each such byte (and every other non-ASCII byte in strings) as a \xHH
// escape, which unescape() takes only in repaired text. Bytes outside strings stay as they
// are (and are refused). A \x escape in the frame itself is refused here.
std::string repair(std::string_view in) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() + in.size() / 2);
  bool in_string = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    const auto byte = static_cast<unsigned char>(c);
    if (!in_string || c == '"') {
      if (c == '"') in_string = !in_string;
      out += c;
    } else if (c == '\\') {
      out += c;
      if (i + 1 == in.size()) break;  // the parse reports the truncation
      const char escape = in[++i];
      if (std::strchr("\"\\/bfnrtu", escape) == nullptr || escape == '\0') {
        syntax("Invalid escape in JSON string.");
      }
      out += escape;
    } else if (byte < 0x20 || byte >= 0x80) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out;
}

// Cap'n Proto's parser read numbers with strtod, which gives 0 or infinity for a value out of
// double's range; from_chars reports out_of_range for those. Which one: whether the first
// significant digit stands before the decimal point, once the exponent is applied.
double out_of_range(std::string_view token) {
  const bool negative = token.front() == '-';
  std::size_t i = negative ? 1 : 0;
  long long scale = 0;
  bool significant = false;
  for (; i < token.size() && is_digit(token[i]); ++i) {
    if (significant || token[i] != '0') {
      significant = true;
      ++scale;
    }
  }
  if (i < token.size() && token[i] == '.') {
    for (++i; i < token.size() && is_digit(token[i]) && !significant; ++i) {
      if (token[i] == '0') {
        --scale;
      } else {
        significant = true;
      }
    }
    while (i < token.size() && is_digit(token[i]))
      ++i;
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    const bool minus = i < token.size() && token[i] == '-';
    if (i < token.size() && (token[i] == '-' || token[i] == '+')) ++i;
    long long exponent = 0;
    for (; i < token.size() && is_digit(token[i]); ++i)
      exponent = std::min<long long>(exponent * 10 + (token[i] - '0'), 1'000'000'000);
    scale += minus ? -exponent : exponent;
  }
  const double magnitude = scale > 0 ? std::numeric_limits<double>::infinity() : 0.0;
  return negative ? -magnitude : magnitude;
}

// JsonCodec took an enum ordinal as static_cast<uint16_t>(double), which x86-64 compiles to a
// truncating conversion to a 32-bit integer (0x80000000 when out of range), keeping its low
// 16 bits: 2.9 is 2, -1 is 65535, 65538 is 2, 1e10 is 0. Unknown ordinals are refused later.
std::uint16_t ordinal_of(double number) {
  if (!(number > -2147483649.0 && number < 2147483648.0)) return 0;
  return static_cast<std::uint16_t>(static_cast<std::uint32_t>(static_cast<std::int32_t>(number)));
}

template <typename T>
std::optional<T> parse_decimal(std::string_view text) {
  T value{};
  const char* const end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value, 10);
  if (text.empty() || error != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

template <typename T>
std::optional<T> integer_of_number(double number) {
  if (!std::isfinite(number) || std::trunc(number) != number) return std::nullopt;
  if (std::fabs(number) > kMaxSafeJsonInteger) return std::nullopt;
  if (number < static_cast<double>(std::numeric_limits<T>::min()) ||
      number > static_cast<double>(std::numeric_limits<T>::max())) {
    return std::nullopt;
  }
  return static_cast<T>(number);
}

std::string shown_number(double number) {
  std::array<char, 32> text;
  const auto end = std::to_chars(text.data(), text.data() + text.size(), number).ptr;
  return "number " + std::string(text.data(), end);
}

// A scalar's token: simdjson's raw token runs to the next token, spaces included.
std::string_view trimmed(std::string_view token) {
  while (!token.empty() && is_space(token.back()))
    token.remove_suffix(1);
  return token;
}

}  // namespace

void fail(simdjson::error_code error) {
  switch (error) {
    case simdjson::EMPTY:
    case simdjson::UNCLOSED_STRING:
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      syntax("JSON message ends prematurely.");
    case simdjson::DEPTH_ERROR:
      syntax("JSON message nested too deeply.");
    case simdjson::TRAILING_CONTENT:
      syntax("Input remains after parsing JSON.");
    case simdjson::MEMALLOC:
    case simdjson::CAPACITY:
      syntax(simdjson::error_message(error));
    default:
      syntax("Unexpected input in JSON message.");
  }
}

// ---- Document --------------------------------------------------------------------------------

Document::Document(std::string_view text) : size_(text.size()) {
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) {
    throw JsonSyntaxError("JSON frame contains a NUL byte");
  }
  Shared& state = shared();
  if (text.size() <= kSharedBytes && !state.in_use) {
    state.in_use = true;
    lease_.reset(&state.in_use);
    parser_ = &state.parser;
    buffer_ = &state.buffer;
  } else {
    own_parser_ = std::make_unique<ondemand::parser>();
    parser_ = own_parser_.get();
    buffer_ = &own_buffer_;
  }
  buffer_->assign(text);
  buffer_->append(simdjson::SIMDJSON_PADDING, '\0');
  const auto error = parser_->iterate(buffer_->data(), size_, buffer_->size()).get(document_);
  if (error == simdjson::UTF8_ERROR || error == simdjson::UNESCAPED_CHARS) {
    const std::string repaired = repair(text);
    size_ = repaired.size();
    buffer_->assign(repaired);
    buffer_->append(simdjson::SIMDJSON_PADDING, '\0');
    repaired_ = true;
    iterate();
  } else if (error) {
    fail(error);
  }
}

void Document::iterate() {
  if (const auto error = parser_->iterate(buffer_->data(), size_, buffer_->size()).get(document_)) {
    fail(error);
  }
}

ondemand::document& Document::restart() {
  if (walked_) iterate();
  walked_ = true;
  return document_;
}

void Document::expect_end() {
  // current_location() is an error only at the end of the text.
  if (!document_.current_location().error()) syntax("Input remains after parsing JSON.");
}

// ---- Reader ----------------------------------------------------------------------------------

Reader::Nest::Nest(int& depth) : depth_(depth) {
  if (++depth_ > kMaxDepth) syntax("JSON message nested too deeply.");
}

BadFrame Reader::malformed(std::string_view what) {
  return BadFrame("malformed JSON frame: " + std::string(what));
}

BadFrame Reader::not_an_object() {
  return malformed("expected a JSON object (every alternative and nested struct is an object)");
}

ondemand::json_type Reader::type(Value& value) {
  return take(value.type());
}

std::string_view Reader::text_of(const char* raw, std::string& unescaped) {
  const char* p = raw;
  while (*p != '"' && *p != '\\')
    ++p;
  if (*p == '"') return std::string_view(raw, static_cast<std::size_t>(p - raw));
  unescape(raw, &unescaped, repaired_);
  return unescaped;
}

std::optional<std::string_view> Reader::plain_string(Value& value, const char*& raw) {
  // simdjson starts a new token right after a string's closing quote.
  const std::string_view token = trimmed(value.raw_json_token());
  raw = take(value.get_raw_json_string()).raw();
  if (token.size() < 2 || token.back() != '"') return std::nullopt;
  const std::string_view text = token.substr(1, token.size() - 2);
  if (std::memchr(text.data(), '\\', text.size()) != nullptr) return std::nullopt;
  return text;
}

std::string_view Reader::text_of(Value& value, std::string& unescaped) {
  const char* raw = nullptr;
  if (const auto plain = plain_string(value, raw)) return *plain;
  unescape(raw, &unescaped, repaired_);
  return unescaped;
}

void Reader::skip(Value& value) {
  switch (type(value)) {
    case ondemand::json_type::object: {
      auto object = take(value.get_object());
      fields(object, [](std::string_view, Value&) { return false; });
      return;
    }
    case ondemand::json_type::array: {
      auto array = take(value.get_array());
      skip_array(array);
      return;
    }
    case ondemand::json_type::string: {
      // Consumed here: simdjson, left to skip a string followed by ':', would take it for a
      // key and skip on (json_iterator::skip_child). Other scalars it skips exactly.
      const char* raw = nullptr;
      if (!plain_string(value, raw)) unescape(raw, nullptr, repaired_);
      return;
    }
    default:
      skip_scalar(value.raw_json_token());
  }
}

void Reader::skip_array(ondemand::array& array) {
  const Nest nest(depth_);
  for (auto result : array) {
    Value element = take(std::move(result));
    skip(element);
  }
}

void Reader::skip_scalar(std::string_view raw_token) {
  const std::string_view token = trimmed(raw_token);
  if (token.empty()) syntax("Unexpected input in JSON message.");
  switch (token.front()) {
    case '"':
      if (unescape(token.data() + 1, nullptr, repaired_) != token.data() + token.size()) {
        syntax("Unexpected input in JSON message.");
      }
      return;
    case 't':
    case 'f':
    case 'n':
      if (token != "true" && token != "false" && token != "null") {
        syntax("Unexpected input in JSON message.");
      }
      return;
    default:
      (void)number(token);
  }
}

double Reader::number(std::string_view token) {
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t start = i;
    while (i < token.size() && is_digit(token[i]))
      ++i;
    return i - start;
  };
  if (i < token.size() && token[i] == '-') ++i;
  if (i < token.size() && token[i] == '0') {
    ++i;
  } else if (i == token.size() || digits() == 0) {
    syntax("Unexpected input in JSON message.");
  }
  if (i < token.size() && token[i] == '.') {
    ++i;
    digits();
  }
  if (i < token.size() && (token[i] == 'e' || token[i] == 'E')) {
    ++i;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) ++i;
    if (digits() == 0) syntax("bad number " + std::string(token));
  }
  if (i != token.size()) syntax("Unexpected input in JSON message.");
  double value = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error == std::errc::result_out_of_range) return out_of_range(token);
  if (error != std::errc{} || end != token.data() + token.size()) {
    syntax("bad number " + std::string(token));
  }
  return value;
}

template <typename T>
std::optional<T> Reader::integer_of(Value& value, std::string& shown) {
  switch (type(value)) {
    case ondemand::json_type::string: {
      std::string unescaped;
      const auto text = text_of(value, unescaped);
      if (auto integer = parse_decimal<T>(text)) return integer;
      shown = "string \"" + std::string(text) + "\"";
      return std::nullopt;
    }
    case ondemand::json_type::number: {
      const double number = this->number(trimmed(value.raw_json_token()));
      if (auto integer = integer_of_number<T>(number)) return integer;
      shown = shown_number(number);
      return std::nullopt;
    }
    default:
      shown = "non-integer value";
      return std::nullopt;
  }
}

template <typename T>
T Reader::integer(Value& value) {
  std::string shown;
  if (const auto integer = integer_of<T>(value, shown)) return *integer;
  throw BadFrame("bad integer (" + shown + "): expected a " +
                 (std::is_signed_v<T> ? "signed " : "non-negative ") +
                 (sizeof(T) == 8 ? "64" : "32") +
                 "-bit integer, as a decimal string or an exact JSON number up to 2^53-1");
}

void Reader::read(Value& value, std::uint64_t& out) {
  out = integer<std::uint64_t>(value);
}
void Reader::read(Value& value, std::int64_t& out) {
  out = integer<std::int64_t>(value);
}
void Reader::read(Value& value, std::uint32_t& out) {
  out = integer<std::uint32_t>(value);
}

void Reader::read(Value& value, bool& out) {
  if (type(value) != ondemand::json_type::boolean) throw malformed("Expected boolean value");
  const auto token = trimmed(value.raw_json_token());
  if (token != "true" && token != "false") syntax("Unexpected input in JSON message.");
  out = token == "true";
}

void Reader::read(Value& value, std::string& out) {
  if (type(value) != ondemand::json_type::string) throw malformed("Expected text value");
  const char* raw = nullptr;
  if (const auto plain = plain_string(value, raw)) {
    out.assign(*plain);
  } else {
    out.clear();
    unescape(raw, &out, repaired_);
  }
}

std::uint16_t Reader::enum_ordinal(Value& value, const std::string_view* names, std::size_t count) {
  switch (type(value)) {
    case ondemand::json_type::number:
      return ordinal_of(number(trimmed(value.raw_json_token())));
    case ondemand::json_type::string: {
      std::string unescaped;
      const auto text = text_of(value, unescaped);
      for (std::size_t i = 0; i < count; ++i) {
        if (names[i] == text) return static_cast<std::uint16_t>(i);
      }
      throw malformed("invalid enum value \"" + std::string(text) + "\"");
    }
    default:
      throw malformed("invalid enum value");
  }
}

std::optional<std::uint64_t> Reader::request_id(Value& value) {
  const auto kind = type(value);
  if (kind == ondemand::json_type::object || kind == ondemand::json_type::array) {
    skip(value);
    return std::nullopt;
  }
  std::string shown;
  return integer_of<std::uint64_t>(value, shown);
}

}  // namespace parley::net::json
