// parley load: one device's connection (net/client/load_internal.hpp): connect, hello,
// frames in and out, and with --discover the reconnect through discovery and the resends.
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "net/client/load_internal.hpp"

namespace parley::net::load_internal {

void Connection::start(const tcp::endpoint& node, const asio::ip::address_v4& source,
                       const std::string& token) {
  node_ = node;
  source_ = source;
  token_ = token;
  connect();
}

void Connection::connect() {
  ws_.emplace(io_);
  buffer_.clear();
  outbox_.clear();  // acks and heartbeats of the old socket; its sends are in unacked_
  writing_ = false;
  alive_ = true;
  auto& socket = ws_->next_layer();
  socket.open(tcp::v4());
#ifdef IP_BIND_ADDRESS_NO_PORT
  // Pick the port at connect time, per destination: many more connections per address.
  const int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  socket.bind(tcp::endpoint(source_, 0));
  socket.async_connect(
      node_, [self = shared_from_this(), generation = generation_](beast::error_code error) {
        if (generation != self->generation_) return;
        if (error) return self->fail("connect: " + error.message());
        self->on_connected();
      });
}

void Connection::on_connected() {
  beast::error_code ignored;
  ws_->next_layer().set_option(tcp::no_delay(true), ignored);  // as a phone's stack would
  ws_->binary(load_.encoding() == Encoding::binary);
  ws_->read_message_max(64 << 20);
  ws_->async_handshake(
      node_.address().to_string(), "/v1/ws?token=" + token_,
      [self = shared_from_this(), generation = generation_](beast::error_code error) {
        if (generation != self->generation_) return;
        if (error) return self->fail("handshake: " + error.message());
        self->enqueue(Hello{1, self->last_seen_});  // the cursor: no repeats
        self->read();
      });
}

void Connection::on_welcome() {
  welcomed_ = true;
  const bool again = ever_welcomed_;
  ever_welcomed_ = true;
  if (!again) return;
  // Reconnected: every send not acked yet, again under its clientMsgId (a stored one is
  // answered as a duplicate with its seq).
  for (const auto& [request, unacked] : unacked_)
    send(client::Request{unacked});
}

void Connection::read() {
  ws_->async_read(buffer_, [self = shared_from_this(), generation = generation_](
                               beast::error_code error, std::size_t bytes) {
    if (generation != self->generation_) return;
    if (error) return self->fail("read: " + error.message());
    self->on_frame(bytes);
    if (generation == self->generation_ && self->alive_) self->read();
  });
}

void Connection::on_frame(std::size_t bytes) {
  const auto data = buffer_.cdata();
  auto decoded = decode_server_event(std::string_view(static_cast<const char*>(data.data()), bytes),
                                     load_.encoding());
  buffer_.consume(bytes);
  if (const auto* bad = std::get_if<DecodeError>(&decoded)) {
    return load_.on_error("undecodable frame: " + bad->message.substr(0, 60));
  }
  auto& event = std::get<server::Event>(decoded);
  if (const auto* welcome = std::get_if<server::Welcome>(&event)) {
    user = welcome->user;
    load_.heartbeat_interval_us_ = welcome->heartbeat_interval_us;
    if (!ever_welcomed_) load_.on_welcome(*this);  // a reconnect is no new connection
    on_welcome();
  } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (const auto& entry : deliver->entries) {
      if (entry.inbox_seq <= last_seen_) {
        ++load_.report_.redelivered;
        continue;
      }
      if (entry.inbox_seq != last_seen_ + 1) ++load_.report_.out_of_order;
      last_seen_ = entry.inbox_seq;
    }
    load_.on_deliver(*this, *deliver);
    if (!deliver->entries.empty()) send(client::Request{client::Ack{last_seen_}});
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    load_.on_send_ack(*this, *ack);
  } else if (const auto* created = std::get_if<server::GroupCreated>(&event)) {
    load_.on_group_created(*this, *created);
  } else if (const auto* failure = std::get_if<server::Failure>(&event)) {
    load_.on_failure(*this, *failure);
  }
}

void Connection::send(const ClientFrame& frame) {
  // Before the welcome (a reconnect under way) a frame would meet hello_required: a send
  // goes out with the resends after the welcome, acks and heartbeats are not needed.
  if (welcomed_) enqueue(frame);
}

void Connection::enqueue(const ClientFrame& frame) {
  if (!alive_ || !ws_) return;
  outbox_.push_back(encode_client_frame(frame, load_.encoding()));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (outbox_.empty() || !alive_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  ws_->async_write(
      asio::buffer(outbox_.front()),
      [self = shared_from_this(), generation = generation_](beast::error_code error, std::size_t) {
        if (generation != self->generation_) return;
        if (error) return self->fail("write: " + error.message());
        self->outbox_.pop_front();
        self->write_next();
      });
}

void Connection::fail(const std::string& kind) {
  if (!alive_ || closed_) return;
  alive_ = false;
  welcomed_ = false;
  ++generation_;
  beast::error_code ignored;
  ws_->next_layer().close(ignored);
  if (load_.config_.discover && ever_welcomed_) {
    ++load_.report_.reconnects;
    ++load_.report_.disconnects_by_kind[kind];
    return reconnect_later();
  }
  load_.on_connection_lost();
  load_.on_error(kind);
}

// Through discovery again, after 100-300 ms (a crowd of clients does not arrive at once).
void Connection::reconnect_later() {
  retry_.expires_after(std::chrono::milliseconds(100 + (index_ * 37) % 200));
  retry_.async_wait([self = shared_from_this()](beast::error_code error) {
    if (error || self->closed_) return;
    const auto gateway = self->load_.pick_gateway(self->node_);
    if (!gateway) return self->reconnect_later();  // no answer yet: a failover under way
    self->node_ = *gateway;
    self->connect();
  });
}

void Connection::resend_later() {
  retry_.expires_after(std::chrono::milliseconds(200));
  retry_.async_wait([self = shared_from_this(), generation = generation_](beast::error_code error) {
    if (error || generation != self->generation_ || !self->welcomed_) return;  // reconnect resends
    for (const auto& [request, unacked] : self->unacked_)
      self->send(client::Request{unacked});
  });
}

void Connection::close() {
  closed_ = true;
  retry_.cancel();
  if (!alive_ || !ws_) return;
  alive_ = false;
  ++generation_;
  beast::error_code ignored;
  ws_->next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_->next_layer().close(ignored);
}

}  // namespace parley::net::load_internal
