// Accepts connections on the node's port and hands each, within the per-address and
// node-wide connection limits, to an HttpSession.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <memory>

#include "net/node/shared.hpp"

namespace parley::net {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens at once: throws when it cannot (the address is in use, say).
  Listener(boost::asio::io_context& io, Shared& shared, boost::asio::ip::tcp::endpoint endpoint);

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void run() { accept(); }
  // Closes the acceptor: no new connections; open ones go on.
  void stop();

 private:
  // A bounded number of connections per remote address: a flood from one address cannot
  // take every socket from everyone else.
  void admit(boost::asio::ip::tcp::socket socket);
  void accept();
  // Out of descriptors (or another accept error): retrying at once would spin; the
  // connection stays in the backlog until a descriptor is free.
  void accept_later();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_{acceptor_.get_executor()};
  Shared& shared_;
};

}  // namespace parley::net
