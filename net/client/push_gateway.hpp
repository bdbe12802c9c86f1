// `parley push-gateway`: a tiny reference push gateway for development and tests. It accepts
// the node's POSTs (docs/push.md), answers 200, and logs each push as one JSON line, so an
// operator can watch pushes locally. It can be told to fail the first N requests, or to
// report some tokens dead (410).
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace parley::net {

struct PushGatewayServerOptions {
  std::string listen = "127.0.0.1:8090";
  std::uint64_t fail_first = 0;  // answer the first N requests with `fail_status`
  int fail_status = 503;
  std::set<std::string> dead_tokens;  // answered with 410 {"error":"dead_token"}
  std::string log;                    // append JSON lines here (default: stdout)
  std::string port_file;
};

// Serves until SIGINT/SIGTERM; returns the exit code.
int run_push_gateway(const PushGatewayServerOptions& options);

}  // namespace parley::net
