#include "net/node/http_session.hpp"

#include <boost/asio.hpp>
#include <boost/beast/websocket.hpp>

#include <poll.h>

#include <chrono>
#include <exception>
#include <utility>

#include "net/node/auth.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/gateway_link.hpp"
#include "net/node/routes.hpp"
#include "net/node/ws_session.hpp"

namespace parley::net {

using namespace parley::engine;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

template <typename Body>
void HttpSession::write(http::response<Body> response, bool close_after) {
  auto message = std::make_shared<http::response<Body>>(std::move(response));
  const bool keep_alive = message->keep_alive() && !close_after;
  http::async_write(
      stream_, *message,
      [self = shared_from_this(), message, keep_alive](beast::error_code ec, std::size_t) {
        if (ec) return;
        if (!keep_alive) {
          beast::error_code ignored;
          self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          return;
        }
        self->read();
      });
}

void HttpSession::read() {
  parser_.emplace();
  parser_->body_limit(shared_.config.max_http_body_bytes);
  stream_.expires_after(std::chrono::milliseconds(shared_.config.handshake_timeout_ms));
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void HttpSession::on_read(beast::error_code ec) {
  if (ec == http::error::body_limit) {
    Request request;
    return write(error_response(shared_, request, http::status::payload_too_large,
                                ErrorCode::bad_request, "the body is too large"),
                 true);
  }
  if (ec) return;  // closed, or the 10 s timeout: drop the connection
  Request request = parser_->release();
  if (websocket::is_upgrade(request) && path_of(request.target()) == "/v1/ws") {
    if (shared_.cluster != nullptr && !shared_.serving) {
      if (shared_.cluster->role() == host::NodeRole::replica) {
        // Not a gateway: the client asks /v1/discover for one.
        return write(not_leader_response(shared_, request), true);
      }
      // A follower relays the client to the leader (net/node/gateway_link.hpp).
      stream_.expires_never();
      const std::string address = client_address(request);
      return std::make_shared<GatewayLink>(beast::tcp_stream(stream_.release_socket()), shared_,
                                           std::move(request), address, slot_)
          ->run();
    }
    return upgrade(std::move(request));
  }
  const bool head = request.method() == http::verb::head;
  auto self = shared_from_this();
  const Reply reply(
      [self, head](Response response) {
        asio::post(self->stream_.get_executor(),
                   [self, head, response = std::move(response)]() mutable {
                     if (head) response.body().clear();  // Content-Length stays: GET's
                     self->write(std::move(response), false);
                   });
      },
      client_address(request), [self] { return self->peer_gone(); });
  try {
    answer(shared_, request, reply, [self](FileResponse response) {
      // From the session's own thread (static files) or a snapshot's copier thread.
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        // The request's deadline does not fit a store's copy: a file gets 30 minutes (a
        // large store over a slow link).
        self->stream_.expires_after(std::chrono::minutes(30));
        self->write(std::move(response), false);
      });
    });
  } catch (const std::exception& error) {
    // A handler's bug must never take the node down; the client learns it failed.
    log_line(std::string("HTTP handler failed: ") + error.what());
    write(error_response(shared_, request, http::status::internal_server_error,
                         ErrorCode::bad_request, "internal error"),
          true);
  }
}

void HttpSession::upgrade(Request request) {
  auto self = shared_from_this();
  with_token(
      shared_, request,
      [self](Response response) {
        asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
          self->write(std::move(response), true);
        });
      },
      [self, request](Txn& txn, const TokenRecord& token) {
        txn.after_commit.push_back([self, request, token] {
          asio::post(self->stream_.get_executor(), [self, request, token] {
            self->stream_.expires_never();
            std::make_shared<WsSession>(self->stream_.release_socket(), self->shared_, token,
                                        token_hash(bearer_token(request)), self->slot_)
                ->run(request);
          });
        });
      });
}

std::string HttpSession::client_address(const Request& request) {
  std::string address = remote_address();
  const auto forwarded = request["X-Forwarded-For"];
  if (!forwarded.empty() && shared_.cluster != nullptr && shared_.cluster->is_peer(address)) {
    address = std::string(forwarded.substr(0, forwarded.find(',')));
  }
  return address;
}

std::string HttpSession::remote_address() {
  beast::error_code ec;
  const auto remote = stream_.socket().remote_endpoint(ec);
  return ec ? std::string() : remote.address().to_string();
}

bool HttpSession::peer_gone() {
  pollfd probe{stream_.socket().native_handle(), POLLRDHUP, 0};
  return ::poll(&probe, 1, 0) > 0 && (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

}  // namespace parley::net
