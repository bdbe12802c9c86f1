// A cluster follower's HTTP API: each call is relayed to the leader as is, with the
// caller's address in X-Forwarded-For (the leader trusts it from cluster peers only), and
// the leader's answer relayed back. Password hashing, the throttle and every check stay
// the leader's. A relay holds a thread for its exchange (a login's hash included): at most
// kMaxRelays at once, beyond which callers get `overloaded`.
#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <atomic>
#include <thread>

#include "net/node/cluster_member.hpp"
#include "net/node/routes.hpp"

namespace parley::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr int kMaxRelays = 64;
std::atomic<int> relays{0};

// One exchange with the leader, synchronously (on the relay's own thread).
Response exchange(const std::string& host, const std::string& port, Request request) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(30));
  stream.connect(tcp::resolver(io).resolve(host, port));
  request.keep_alive(false);
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  http::read(stream, buffer, parser);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return parser.release();
}

}  // namespace

void forward_to_leader(Shared& shared, const Request& request, const Reply& reply) {
  const auto leader = shared.cluster->leader_peer();
  if (!leader) {
    return reply(not_leader_response(shared, request));  // no leader known: not_leader
  }
  if (relays.fetch_add(1) >= kMaxRelays) {
    --relays;
    return reply(overloaded(shared, request));
  }
  Request relayed = request;
  relayed.set("X-Forwarded-For", reply.address());
  std::thread([&shared, reply, relayed = std::move(relayed), leader = *leader]() mutable {
    const bool keep_alive = relayed.keep_alive();
    try {
      Response response = exchange(leader.host, std::to_string(leader.port), relayed);
      response.keep_alive(keep_alive);
      reply(std::move(response));
    } catch (const std::exception&) {
      // The leader went away mid-call: whether it did anything is unknown, as for any
      // network failure; the caller retries (sign-up and login are safe to retry).
      Response refused = not_leader_response(shared, relayed);
      refused.keep_alive(keep_alive);
      reply(std::move(refused));
    }
    --relays;
  }).detach();
}

void drain_relays(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (relays.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace parley::net
