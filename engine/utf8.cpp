#include "engine/utf8.hpp"

#include <cstdint>

namespace parley::engine {
namespace {

// Length of the sequence a lead byte starts, or 0 for a byte that cannot lead.
std::size_t sequence_length(std::uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;  // continuation bytes, the overlong leads 0xc0/0xc1, and 0xf5..0xff
}

bool is_continuation(std::uint8_t byte) {
  return (byte & 0xc0) == 0x80;
}

// The second byte's range is narrower for some leads: that is what rules out overlong
// three- and four-byte forms, UTF-16 surrogates and code points past U+10FFFF.
bool second_byte_valid(std::uint8_t lead, std::uint8_t second) {
  switch (lead) {
    case 0xe0:
      return second >= 0xa0 && second <= 0xbf;
    case 0xed:
      return second >= 0x80 && second <= 0x9f;
    case 0xf0:
      return second >= 0x90 && second <= 0xbf;
    case 0xf4:
      return second >= 0x80 && second <= 0x8f;
    default:
      return is_continuation(second);
  }
}

}  // namespace

std::optional<std::size_t> utf8_code_points(std::string_view text) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<std::uint8_t>(text[i]);
    const std::size_t length = sequence_length(lead);
    if (length == 0 || text.size() - i < length) return std::nullopt;
    if (length > 1) {
      if (!second_byte_valid(lead, static_cast<std::uint8_t>(text[i + 1]))) return std::nullopt;
      for (std::size_t k = 2; k < length; ++k) {
        if (!is_continuation(static_cast<std::uint8_t>(text[i + k]))) return std::nullopt;
      }
    }
    i += length;
    ++count;
  }
  return count;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_code_points) {
  std::size_t i = 0;
  for (std::size_t count = 0; count < max_code_points && i < text.size(); ++count) {
    const std::size_t length = sequence_length(static_cast<std::uint8_t>(text[i]));
    i += length == 0 ? 1 : length;
  }
  return text.substr(0, std::min(i, text.size()));
}

namespace {
bool continuation(char byte) {
  return (static_cast<std::uint8_t>(byte) & 0xC0) == 0x80;
}
}  // namespace

std::string_view utf8_prefix_bytes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  while (max_bytes > 0 && continuation(text[max_bytes]))
    --max_bytes;
  return text.substr(0, max_bytes);
}

std::string_view utf8_suffix_bytes(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t start = text.size() - max_bytes;
  while (start < text.size() && continuation(text[start]))
    ++start;
  return text.substr(start);
}

}  // namespace parley::engine
