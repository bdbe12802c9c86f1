#pragma once

#include <cstddef>
#include <ostream>

namespace parley::cli {

// Signs up alice, bob and carol, gives alice two devices, and runs a 1:1 chat, a group and a
// reconnect through the engine, printing what each connection receives. Returns an exit code.
int run_demo(std::size_t messages_per_side, std::ostream& out);

}  // namespace parley::cli
