// libFuzzer target for the log entry codec (cluster/input_codec.hpp): any bytes must decode
// to a batch or give CorruptEntry, and a batch that decodes must encode to the same bytes
// (so a replica never applies something other than what the leader appended).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cluster/input_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  parley::cluster::LoggedBatch batch;
  try {
    batch = parley::cluster::decode_batch(bytes);
  } catch (const parley::cluster::CorruptEntry&) {
    return 0;
  }
  // Varints have more than one spelling, so compare a second round trip, which is canonical.
  const std::string canonical = parley::cluster::encode_batch(batch);
  if (parley::cluster::encode_batch(parley::cluster::decode_batch(canonical)) != canonical) {
    std::abort();
  }
  return 0;
}
