// The production chat node: HTTP + WebSocket on one port (Boost.Beast on Asio), the engine
// and its LMDB store on one thread with group commit (host::Core), Cap'n Proto frames
// (binary or JSON). The public entry of net/node/: everything else in the folder is internal.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "net/node/config.hpp"

namespace parley::net {

// Runs until SIGINT or SIGTERM, then stops accepting, commits what is queued, closes every
// WebSocket with 1001 (going away) and returns 0. Returns 70 after a store failure (the
// node never runs on with state the disk lacks) and 78 when it cannot start (bad data
// directory, address in use), after printing why.
int run_node(const NodeConfig& config);

// The node without sockets, for fuzzing and tests: a real store (LMDB in `config.data`), the
// engine thread, and the real HTTP parser and router. http() feeds one request as raw bytes,
// exactly as a socket would deliver them, and returns the raw response ("" if the bytes
// are not a complete HTTP request).
class InProcessNode {
 public:
  explicit InProcessNode(const NodeConfig& config);
  ~InProcessNode();
  InProcessNode(const InProcessNode&) = delete;
  InProcessNode& operator=(const InProcessNode&) = delete;

  std::string http(std::string_view raw_request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
