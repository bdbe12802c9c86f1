// libFuzzer target for the node's HTTP API: raw request bytes through the real parser,
// router and handlers of an in-process node (engine thread, LMDB store), as a socket would
// deliver them.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "net/node/node.hpp"
#include "storage/lmdb_store.hpp"

namespace {

// A web root with a file, a folder, and links that lead out of it (which must never be
// followed): the static path is fuzzed against the same rules as the socket path.
std::string make_web_root() {
  namespace fs = std::filesystem;
  const fs::path root = parley::storage::make_temp_directory("parley-fuzz-web");
  std::ofstream(root / "index.html") << "<!doctype html>";
  fs::create_directory(root / "assets");
  std::ofstream(root / "assets" / "app.js") << "1";
  std::error_code ignored;
  fs::create_symlink("/etc/passwd", root / "passwd", ignored);
  fs::create_directory_symlink("/etc", root / "etc", ignored);
  return root.string();
}

parley::net::InProcessNode& node() {
  static const std::string dir = parley::storage::make_temp_directory("parley-fuzz-http");
  static const std::string web_root = make_web_root();
  static parley::net::InProcessNode instance([] {
    parley::net::NodeConfig config;
    config.data = dir;
    config.password.opslimit = 1;  // keep sign-ups cheap under fuzzing
    config.password.memlimit_bytes = 8192;
    config.initial_map_mib = 1;
    config.web_root = web_root;
    config.login_attempts_per_minute = 1e9;  // explore logins, not the throttle
    return config;
  }());
  return instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(reinterpret_cast<const char*>(data), size);
  const std::string response = node().http(raw);
  if (response == "no answer within 30 s") __builtin_trap();  // a request that hangs
  // Nothing outside the web root is ever served: /etc/passwd's first line is root's. (Only
  // 200s: error messages echo the path, which the fuzzer may make look like that line.)
  if (response.rfind("HTTP/1.1 200", 0) == 0 && response.find("root:x:0:0:") != std::string::npos)
    __builtin_trap();
  return 0;
}
