// One HTTP connection: reads requests (bounded body, 10 s to arrive), answers each through
// the routes (routes.hpp), keeps the connection alive when the client asks, and hands an
// upgrade to /v1/ws with a live token over to a WsSession.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>
#include <string>

#include "net/node/http_api.hpp"
#include "net/node/shared.hpp"

namespace parley::net {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket&& socket, Shared& shared, AddressLimiter::Slot slot)
      : stream_(std::move(socket)), shared_(shared), slot_(std::move(slot)) {}

  void run() { read(); }

 private:
  void read();
  void on_read(boost::beast::error_code ec);
  void upgrade(Request request);
  std::string remote_address();
  // The address limits and throttles count: the peer's, or for a cluster peer's relayed
  // request the client's it names in X-Forwarded-For.
  std::string client_address(const Request& request);
  // True once the client closed or reset its side. Safe from any thread: poll() only reads,
  // and the caller holds the session (so the descriptor stays open).
  bool peer_gone();
  template <typename Body>
  void write(http::response<Body> response, bool close_after);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared& shared_;
  AddressLimiter::Slot slot_;
};

}  // namespace parley::net
