#include "engine/keys.hpp"

#include "engine/types.hpp"

namespace parley::engine {

std::string encode_u64_key(std::uint64_t value) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return key;
}

std::string encode_pair_key(std::uint64_t first, std::uint64_t second) {
  return encode_u64_key(first) + encode_u64_key(second);
}

std::uint64_t decode_u64_key(std::string_view bytes) {
  PARLEY_ASSERT(bytes.size() >= 8);
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i)
    value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return {};
}

}  // namespace parley::engine
