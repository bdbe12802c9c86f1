#include "net/node/listener.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>

#include <chrono>
#include <utility>

#include "net/node/cluster_member.hpp"
#include "net/node/http_session.hpp"

namespace parley::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& io, Shared& shared, tcp::endpoint endpoint)
    : io_(io), acceptor_(io), shared_(shared) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void Listener::stop() {
  asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ignored;
    self->acceptor_.close(ignored);
  });
}

void Listener::admit(tcp::socket socket) {
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;
  const std::string address = remote.address().to_string();
  // A cluster peer's gateway relays many clients over its own address: only the node-wide
  // limit applies to it (docs/cluster.md, "Gateways").
  const bool peer = shared_.cluster != nullptr && shared_.cluster->is_peer(address);
  auto slot = shared_.limiter.acquire(
      address, peer ? shared_.max_connections : shared_.config.max_connections_per_address,
      shared_.max_connections);
  if (!slot) {
    ++shared_.metrics.connections_refused;
    socket.close(ec);
    return;
  }
  std::make_shared<HttpSession>(std::move(socket), shared_, std::move(slot))->run();
}

void Listener::accept() {
  acceptor_.async_accept(asio::make_strand(io_),
                         [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                           if (ec == asio::error::operation_aborted) return;
                           if (ec) return self->accept_later();  // EMFILE, ENFILE, ...
                           {
                             // Frames are small and latency-bound: without this, Nagle's
                             // algorithm and the peer's delayed ACKs hold one for ~40 ms.
                             beast::error_code ignored;
                             socket.set_option(tcp::no_delay(true), ignored);
                             self->admit(std::move(socket));
                           }
                           self->accept();
                         });
}

void Listener::accept_later() {
  retry_.expires_after(std::chrono::milliseconds(50));
  retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->accept();
  });
}

}  // namespace parley::net
