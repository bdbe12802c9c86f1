#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace parley::engine {

// Returns the number of code points in `text`, or nothing if it is not valid UTF-8
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::optional<std::size_t> utf8_code_points(std::string_view text);

// The first `max_code_points` code points of valid UTF-8 `text`.
std::string_view utf8_prefix(std::string_view text, std::size_t max_code_points);

// The longest prefix (suffix) of valid UTF-8 `text` of at most `max_bytes` bytes that cuts
// no code point in two.
std::string_view utf8_prefix_bytes(std::string_view text, std::size_t max_bytes);
std::string_view utf8_suffix_bytes(std::string_view text, std::size_t max_bytes);

}  // namespace parley::engine
