// Table keys: big-endian fixed-width integers (and raw bytes for names), so that byte order
// is numeric order and every store scans alike (engine/store.hpp). Public for the storage
// tests and for tools that dump a store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::engine {

// 8 bytes, big-endian.
std::string encode_u64_key(std::uint64_t value);
// 16 bytes: `first` then `second`, so a scan over a `first` prefix walks `second` in order.
std::string encode_pair_key(std::uint64_t first, std::uint64_t second);
// The integer in the first 8 bytes. REQUIRES: at least 8 bytes (InvariantViolation).
std::uint64_t decode_u64_key(std::string_view bytes);
// The key just past every key that starts with `prefix`: the bound for a prefix scan (empty,
// meaning no bound, when every byte of `prefix` is 0xff).
std::string prefix_end(std::string prefix);

}  // namespace parley::engine
