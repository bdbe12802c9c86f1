// libFuzzer target for the node's HTTP API: raw request bytes through the real parser,
// router and handlers of an in-process node (engine thread, LMDB store), as a socket would
// deliver them.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "net/node.hpp"
#include "storage/lmdb_store.hpp"

namespace {

parley::net::InProcessNode& node() {
  static const std::string dir = parley::storage::make_temp_directory("parley-fuzz-http");
  static parley::net::InProcessNode instance([] {
    parley::net::NodeConfig config;
    config.data = dir;
    config.password.opslimit = 1;  // keep sign-ups cheap under fuzzing
    config.password.memlimit_bytes = 8192;
    config.initial_map_mib = 1;
    return config;
  }());
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  const std::string response = node().http(raw);
  if (response == "no answer within 30 s") __builtin_trap();  // a request that hangs
  return 0;
}
