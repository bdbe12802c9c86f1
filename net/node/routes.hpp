// Answers one HTTP request: the API through the route table (routes.cpp), every other path
// as a static file under the web root. A function of the request alone — no sockets — so the
// HTTP session, InProcessNode and the fuzzer share it.
#pragma once

#include <functional>
#include <optional>

#include "net/node/http_api.hpp"

namespace parley::net {

// A HEAD of a file is answered with its headers alone; `reply_file` gets GET's file bodies,
// streamed from their descriptor.
void answer(Shared& shared, const Request& request, const Reply& reply,
            const std::function<void(FileResponse)>& reply_file);

// A cluster node that does not serve clients now (it follows, or its takeover is not done)
// refuses client calls: 503 {"error": {"code": "not_leader", "message", "leader": the
// leader's WebSocket URL or ""}} (docs/cluster.md). Nothing while it serves.
std::optional<Response> refuse_unless_serving(Shared& shared, const Request& request);

}  // namespace parley::net
