// libFuzzer targets for the wire decoders: untrusted bytes from any client. Built with
// `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). FUZZ_ENCODING picks the
// decoder: 0 = Cap'n Proto binary, 1 = JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "net/wire/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto encoding =
      FUZZ_ENCODING == 0 ? parley::net::Encoding::binary : parley::net::Encoding::json;
  auto decoded = parley::net::decode_client_frame(bytes, encoding);
  if (auto* frame = std::get_if<parley::net::ClientFrame>(&decoded)) {
    // Whatever decodes must encode again and decode to a frame of the same kind.
    const std::string again = parley::net::encode_client_frame(*frame, encoding);
    auto redecoded = parley::net::decode_client_frame(again, encoding);
    auto* second = std::get_if<parley::net::ClientFrame>(&redecoded);
    if (second == nullptr || second->index() != frame->index()) __builtin_trap();
  }
  // And the client side: what a node could send.
  (void)parley::net::decode_server_event(bytes, encoding);
  return 0;
}
