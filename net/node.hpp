// The production chat node: HTTP + WebSocket on one port (Boost.Beast on Asio), the engine
// and its LMDB store on one thread with group commit, Cap'n Proto frames (binary or JSON).
#pragma once

#include "net/config.hpp"

namespace parley::net {

// Runs until SIGINT or SIGTERM, then stops accepting, commits what is queued, closes every
// WebSocket with 1001 (going away) and returns 0. Returns 70 after a store failure (the
// node never runs on with state the disk lacks) and 78 when it cannot start (bad data
// directory, address in use), after printing why.
int run_node(const NodeConfig& config);

}  // namespace parley::net
