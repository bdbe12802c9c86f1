// Reading the JSON of text frames with simdjson's On-Demand API, by the rules of
// docs/protocol.md#json: the grammar, escapes, integers and enums exactly as the codec read
// them through Cap'n Proto 0.9.2's JsonCodec (json_reader.cpp says where those differ from
// what simdjson checks on its own). json_frames.cpp maps the values onto engine types.
// Internal to parley_codec.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "net/wire/bad_frame.hpp"
#include "net/wire/json.hpp"

namespace parley::net::json {

namespace ondemand = simdjson::ondemand;
using Value = ondemand::value;

// Objects and arrays nest at most this deep; the frame's own object is depth 1. The deepest
// frame (deliver > entries > entry > message > users) nests 6 levels.
inline constexpr int kMaxDepth = 16;

// Throws JsonSyntaxError for a simdjson error, else returns the value.
[[noreturn]] void fail(simdjson::error_code error);
template <typename T>
T take(simdjson::simdjson_result<T>&& result) {
  T value{};
  if (const auto error = std::move(result).get(value)) fail(error);
  return value;
}

// One frame's text, parsed (simdjson reads it lazily, as the frame is walked). simdjson needs
// SIMDJSON_PADDING readable bytes past the text, so the text is copied: into a buffer each
// thread reuses for ordinary frames, into one of its own for a large one.
class Document {
 public:
  explicit Document(std::string_view text);
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  // The document from its start: parsed anew after the first call.
  ondemand::document& restart();
  // Throws unless the walk reached the end of the text.
  void expect_end();
  // Where the text ends (the start of the padding).
  const char* end() const { return buffer_->data() + size_; }
  // Whether the text was rewritten with \xHH escapes (json_reader.cpp, repair()).
  bool repaired() const { return repaired_; }

 private:
  struct Release {
    void operator()(bool* in_use) const { *in_use = false; }
  };

  void iterate();

  std::unique_ptr<bool, Release> lease_;  // the thread's buffer and parser, while in use
  std::unique_ptr<ondemand::parser> own_parser_;
  std::string own_buffer_;
  ondemand::parser* parser_ = nullptr;
  std::string* buffer_ = nullptr;
  std::size_t size_ = 0;
  bool repaired_ = false;
  bool walked_ = false;
  ondemand::document document_;
};

// Walks values, checking everything JsonCodec checked, and reads them into C++ values.
// Whatever it is handed it reads to the end, strings included: simdjson skips what is left
// unread laxly (json_iterator::skip_child takes a string followed by ':' for a key).
class Reader {
 public:
  explicit Reader(bool repaired) : repaired_(repaired) {}

  // The fields of an object in order: on_field(key, value) reads the value and returns true,
  // or returns false and the value is skipped (checked, then ignored).
  template <typename OnField>
  void object(Value& value, OnField&& on_field) {
    if (type(value) != ondemand::json_type::object) throw not_an_object();
    auto object = take(value.get_object());
    fields(object, on_field);
  }
  template <typename OnField>
  void fields(ondemand::object& object, OnField&& on_field) {
    const Nest nest(depth_);
    for (auto result : object) {
      ondemand::field field = take(std::move(result));
      std::string unescaped;  // only for a key with escapes
      const std::string_view key = text_of(field.key().raw(), unescaped);
      if (!on_field(key, field.value())) skip(field.value());
    }
  }
  // The elements of a list.
  template <typename OnElement>
  void array(Value& value, OnElement&& on_element) {
    if (type(value) != ondemand::json_type::array) throw malformed("Expected list value");
    auto array = take(value.get_array());
    const Nest nest(depth_);
    for (auto result : array) {
      Value element = take(std::move(result));
      on_element(element);
    }
  }
  // Checks a value that nothing reads: an unknown field's, or `unset`'s.
  void skip(Value& value);
  void skip_array(ondemand::array& array);
  // A scalar from its raw token (simdjson's: spaces to the next token included).
  void skip_scalar(std::string_view raw_token);

  // Scalars (json_reader.cpp). Integers: a decimal string, or a JSON number that is an exact
  // integer of magnitude at most 2^53 - 1, within the type's range.
  void read(Value& value, std::uint64_t& out);
  void read(Value& value, std::int64_t& out);
  void read(Value& value, std::uint32_t& out);
  void read(Value& value, bool& out);
  void read(Value& value, std::string& out);
  // The raw wire ordinal (a name, or a number converted as JsonCodec converted it).
  std::uint16_t enum_ordinal(Value& value, const std::string_view* names, std::size_t count);
  // A request id, if `value` is a valid one (for a frame that fails later: DecodeError).
  std::optional<std::uint64_t> request_id(Value& value);

  ondemand::json_type type(Value& value);

  static BadFrame malformed(std::string_view what);
  static BadFrame not_an_object();

 private:
  // Counts one level of nesting for its lifetime; throws past kMaxDepth.
  class Nest {
   public:
    explicit Nest(int& depth);
    ~Nest() { --depth_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    int& depth_;
  };

  // A string's text, from its raw start (past the quote) or its value: a view of the frame
  // when it has no escapes, else `unescaped`.
  std::string_view text_of(const char* raw, std::string& unescaped);
  std::string_view text_of(Value& value, std::string& unescaped);
  // Reads a string value: its text if it has no escapes, else nullopt and `raw` is its start.
  std::optional<std::string_view> plain_string(Value& value, const char*& raw);
  double number(std::string_view token);
  template <typename T>
  std::optional<T> integer_of(Value& value, std::string& shown);
  template <typename T>
  T integer(Value& value);

  bool repaired_;
  int depth_ = 0;
};

// ---- Reading into engine types: read(reader, value, out) for every type of field ------------

inline void read(Reader& r, Value& v, std::uint64_t& out) {
  r.read(v, out);
}
inline void read(Reader& r, Value& v, std::int64_t& out) {
  r.read(v, out);
}
inline void read(Reader& r, Value& v, std::uint32_t& out) {
  r.read(v, out);
}
inline void read(Reader& r, Value& v, bool& out) {
  r.read(v, out);
}
inline void read(Reader& r, Value& v, std::string& out) {
  r.read(v, out);
}

// An enum is stored as read, even when it names no enumerator: like JsonCodec, the reader
// takes any ordinal, and the frame is refused only if the value is still unknown once the
// whole frame is read (a later duplicate field may replace it). check() does that.
template <typename Enum, typename = std::enable_if_t<std::is_enum_v<Enum>>>
void read(Reader& r, Value& v, Enum& out) {
  using Names = EnumNames<Enum>;
  const unsigned raw = r.enum_ordinal(v, Names::names.data(), Names::names.size()) + Names::first;
  out = static_cast<Enum>(raw < 255 ? raw : 255);  // 255 names nothing in any of them
}
template <typename Enum>
void check(Enum value) {
  using Names = EnumNames<Enum>;
  const unsigned ordinal = wire_ordinal(value);
  if (ordinal >= Names::names.size()) {
    throw BadFrame(std::string("unknown ") + Names::what + " " + std::to_string(ordinal) +
                   (static_cast<unsigned>(value) == 255 ? " or more" : ""));
  }
}

// A list replaces any earlier value of the same field, like every field.
template <typename T>
void read(Reader& r, Value& v, std::vector<T>& out) {
  out.clear();
  r.array(v, [&](Value& element) { read(r, element, out.emplace_back()); });
}

template <typename T>
struct Field {
  std::string_view name;
  T* target;
};
template <typename T>
Field<T> field(std::string_view name, T& target) {
  return Field<T>{name, &target};
}
// Reads `value` into whichever of `fields` is named `key`; false when none is. Inlined, so
// that each name is a constant and its comparison needs no call to memcmp (decoding a
// delivery took 1.8x as long without: bench/CHANGES.md, "JSON decoding of a delivery").
template <typename... T>
[[gnu::always_inline]] inline bool read_field(Reader& r, std::string_view key, Value& value,
                                              Field<T>... fields) {
  return ((key == fields.name && (read(r, value, *fields.target), true)) || ...);
}

}  // namespace parley::net::json
