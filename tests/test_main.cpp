// GoogleTest main for the engine suites: `--store=memory` (default) or `--store=lmdb` picks
// the Store every Harness runs on, so the whole engine suite runs against both stores and
// the two can never drift apart. ctest registers the suite once per store.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/harness.hpp"

namespace parley::testing {
namespace {
std::string g_store_kind = "memory";
}  // namespace

const std::string& store_kind() {
  return g_store_kind;
}

}  // namespace parley::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--store=", 8) == 0) parley::testing::g_store_kind = argv[i] + 8;
  }
  const std::string& kind = parley::testing::g_store_kind;
  if (kind != "memory" && kind != "lmdb" && kind != "pipelined") {
    std::fprintf(stderr, "--store must be memory, lmdb or pipelined\n");
    return 2;
  }
  return RUN_ALL_TESTS();
}
