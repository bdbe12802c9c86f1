// Answers one HTTP request: the API through the route table (routes.cpp), every other path
// as a static file under the web root. A function of the request alone — no sockets — so the
// HTTP session, InProcessNode and the fuzzer share it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include "net/node/http_api.hpp"

namespace parley::net {

// A HEAD of a file is answered with its headers alone; `reply_file` gets GET's file bodies,
// streamed from their descriptor.
void answer(Shared& shared, const Request& request, const Reply& reply,
            const std::function<void(FileResponse)>& reply_file);

// A cluster node's refusal when no leader can take a call: 503 {"error": {"code":
// "not_leader", "message", "leader": the leader's WebSocket URL or ""}} (docs/cluster.md).
// REQUIRES: shared.cluster.
Response not_leader_response(Shared& shared, const Request& request);

// A cluster follower relays a client API call to the leader and its answer back
// (leader_forward.cpp); not_leader when no leader is known, overloaded past 64 relays.
void forward_to_leader(Shared& shared, const Request& request, const Reply& reply);
// Waits up to `limit` for relays in flight to answer (the node's shutdown).
void drain_relays(std::chrono::milliseconds limit);

}  // namespace parley::net
