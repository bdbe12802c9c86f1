#include "net/node/ws_session.hpp"

#include <boost/asio.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <variant>

#include "net/node/engine_loop.hpp"

namespace parley::net {

using namespace parley::engine;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// How long a closing WebSocket may take to send its close frame and hear the answer.
constexpr int kCloseGraceMs = 2'000;

// An unmasked close frame (RFC 6455 5.5.1); `reason` is under 124 bytes.
std::string close_frame(websocket::close_code code, const std::string& reason) {
  const auto value = static_cast<std::uint16_t>(code);
  std::string frame{static_cast<char>(0x88), static_cast<char>(2 + reason.size()),
                    static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
  return frame + reason;
}

}  // namespace

WsSession::WsSession(tcp::socket&& socket, Shared& shared, const TokenRecord& token,
                     std::string token_hash, AddressLimiter::Slot slot)
    : ws_(std::move(socket)),
      close_deadline_(ws_.get_executor()),
      shared_(shared),
      slot_(std::move(slot)),
      token_hash_(std::move(token_hash)),
      device_(token.device),
      id_(shared.next_connection++) {
  tokens_ = shared.config.rate_limit_burst;
  last_refill_ = std::chrono::steady_clock::now();
}

void WsSession::run(Request request) {
  websocket::stream_base::timeout timeouts =
      websocket::stream_base::timeout::suggested(beast::role_type::server);
  timeouts.handshake_timeout = std::chrono::milliseconds(shared_.config.handshake_timeout_ms);
  buffer_.max_size(shared_.config.max_frame_bytes);
  ws_.set_option(timeouts);
  // The frame limit is the read buffer's size, not Beast's read_message_max: past that,
  // Beast fails the connection itself and its teardown resets it with the client's bytes
  // unread, which destroys the close frame (docs/operations.md, "Limits").
  ws_.read_message_max(0);
  ws_.async_accept(request,
                   [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void WsSession::deliver(server::Event event) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), event = std::move(event)] {
    self->enqueue(encode_server_event(event, self->encoding_));
  });
}

void WsSession::close_from_engine(CloseReason reason) {
  asio::post(ws_.get_executor(), [self = shared_from_this(), reason] {
    const auto code = reason == CloseReason::logged_out || reason == CloseReason::replaced
                          ? websocket::close_code::normal
                          : websocket::close_code::policy_error;
    self->registered_ = false;  // the engine already forgot this connection
    // A replaced or signed-out connection owns nothing any more: what it has queued goes
    // at once but the frame being written (the answer to its own logout, say), and if the
    // peer does not take the close frame within kCloseGraceMs — it stopped reading — the
    // socket goes (docs/operations.md, "Limits").
    if (reason == CloseReason::replaced || reason == CloseReason::logged_out) {
      self->drop_outbox_after(self->outbox_.empty() ? 0 : 1);
    }
    self->close(code, std::string(to_string(reason)));
  });
}

void WsSession::close_going_away() {
  asio::post(ws_.get_executor(), [self = shared_from_this()] {
    self->registered_ = false;
    self->close(websocket::close_code::going_away, "the node is shutting down");
  });
}

void WsSession::on_accept(beast::error_code ec) {
  if (ec) return;
  ++shared_.metrics.connections;
  ++shared_.metrics.connections_total;
  counted_ = true;
  auto self = shared_from_this();
  registered_ =
      shared_.loop->post([self](Txn&) { self->shared_.loop->sessions[self->id_] = self; });
  if (!registered_) {
    close(websocket::close_code::try_again_later, "the node is overloaded; retry later");
  }
  read();
}

void WsSession::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void WsSession::on_read(beast::error_code ec) {
  if (ec == websocket::error::buffer_overflow) {
    shared_.metrics.count_error("malformed_frame");
    return refuse_oversized();
  }
  if (ec) return on_closed();
  ++shared_.metrics.frames_in;
  const Encoding encoding = ws_.got_text() ? Encoding::json : Encoding::binary;
  const std::string bytes = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  buffer_.shrink_to_fit();  // an idle connection keeps no read buffer
  handle_frame(bytes, encoding);
  if (closing_) return;
  // Push back before refusing: with the engine queue long, the next frame stays in the
  // socket (and TCP slows the sender) until the queue drains.
  const bool paused = shared_.loop->pause_reading([self = shared_from_this()] {
    asio::post(self->ws_.get_executor(), [self] {
      if (!self->closing_) self->read();
    });
  });
  if (!paused) read();
}

bool WsSession::take_rate_token() {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  last_refill_ = now;
  tokens_ = std::min(shared_.config.rate_limit_burst,
                     tokens_ + elapsed * shared_.config.rate_limit_per_second);
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

void WsSession::handle_frame(const std::string& bytes, Encoding encoding) {
  if (!hello_done_) encoding_ = encoding;
  if (!take_rate_token()) {
    ++shared_.metrics.rate_limited;
    return fail(0, ErrorCode::rate_limited, "too many frames; slow down");
  }
  auto decoded = decode_client_frame(bytes, encoding);
  if (const auto* error = std::get_if<DecodeError>(&decoded)) {
    return fail(error->request, ErrorCode::malformed_frame, error->message);
  }
  auto& frame = std::get<ClientFrame>(decoded);
  if (const auto* hello = std::get_if<Hello>(&frame)) {
    if (hello_done_) return fail(hello->request, ErrorCode::bad_request, "hello was already sent");
    encoding_ = encoding;
    const Connected input{id_, device_, hello->cursor};
    // The token may have been revoked (logout, re-login, password change) since the
    // upgrade: the engine thread checks it again, in order with those revocations.
    auto self = shared_from_this();
    const RequestId request = hello->request;
    // If the engine queue refuses it, the client may send hello again.
    hello_done_ = submit(
        [self, input, request](Txn& txn) {
          const auto token = txn.engine().token(self->token_hash_);
          if (!token || token->device != self->device_ || token->expires_at <= txn.now) {
            return txn.add_local(
                {SendEvent{input.connection,
                           server::Failure{request, ErrorCode::unauthorized,
                                           "the token was revoked or expired; log in"}},
                 CloseConnection{input.connection, CloseReason::logged_out}});
          }
          txn.run(input);
        },
        hello->request);
    return;
  }
  auto& request = std::get<client::Request>(frame);
  const RequestId request_id = engine::request_id(request);
  if (!hello_done_) return fail(request_id, ErrorCode::hello_required, "send hello first");
  Received input{id_, std::move(request)};
  submit([input = std::move(input)](Txn& txn) { txn.run(input); }, request_id);
}

template <typename F>
bool WsSession::submit(F handle, RequestId request) {
  const bool posted = shared_.loop->post(std::move(handle));
  if (!posted) fail(request, ErrorCode::overloaded, "the node is overloaded; retry later");
  return posted;
}

void WsSession::fail(RequestId request, ErrorCode code, std::string message) {
  shared_.metrics.count_error(std::string(to_string(code)));
  enqueue(encode_server_event(server::Failure{request, code, std::move(message)}, encoding_));
}

void WsSession::enqueue(std::string bytes) {
  if (closing_) return;
  // One frame alone is always allowed, however large: the limits are on the backlog.
  if (!outbox_.empty() && (outbox_.size() >= shared_.config.outbound_frames_max ||
                           outbox_bytes_ + bytes.size() > shared_.config.outbound_bytes_max)) {
    ++shared_.metrics.slow_consumer_closes;
    drop_outbox();
    return close(websocket::close_code::policy_error,
                 "too slow: reconnect and resync from your cursor");
  }
  outbox_bytes_ += bytes.size();
  outbox_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void WsSession::write_next() {
  if (outbox_.empty()) {
    writing_ = false;
    if (close_pending_) start_close();
    return;
  }
  writing_ = true;
  ws_.text(encoding_ == Encoding::json);
  ws_.async_write(asio::buffer(outbox_.front()),
                  [self = shared_from_this()](beast::error_code ec, std::size_t) {
                    if (self->raw_close_after_write_) {
                      self->writing_ = false;
                      // Aborted because the read failed: the socket itself is fine.
                      if (ec && ec != asio::error::operation_aborted) return self->tear_down();
                      return self->send_raw_close();
                    }
                    if (ec) return self->on_closed();
                    ++self->shared_.metrics.frames_out;
                    self->outbox_bytes_ -= self->outbox_.front().size();
                    self->outbox_.pop_front();
                    self->write_next();
                  });
}

void WsSession::drop_outbox_after(std::size_t keep) {
  while (outbox_.size() > std::max<std::size_t>(keep, writing_ ? 1u : 0u)) {
    outbox_bytes_ -= outbox_.back().size();
    outbox_.pop_back();
  }
}

void WsSession::close(websocket::close_code code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_reason_ = websocket::close_reason(code, reason);
  close_pending_ = true;
  close_deadline_.expires_after(std::chrono::milliseconds(kCloseGraceMs));
  close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->tear_down();
  });
  if (!writing_) start_close();
}

void WsSession::refuse_oversized() {
  if (closing_ || finished_) return tear_down();  // a close is already under way
  closing_ = true;
  drop_outbox();
  close_deadline_.expires_after(std::chrono::milliseconds(kCloseGraceMs));
  close_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->tear_down();
  });
  // A frame being written goes out first; the close frame follows it (a control frame may
  // come between the fragments of a message: RFC 6455 5.4).
  if (writing_) {
    raw_close_after_write_ = true;
    return;
  }
  send_raw_close();
}

void WsSession::send_raw_close() {
  const std::string reason =
      "frames are limited to " + std::to_string(shared_.config.max_frame_bytes) + " bytes";
  auto frame = std::make_shared<std::string>(close_frame(websocket::close_code::too_big, reason));
  asio::async_write(beast::get_lowest_layer(ws_).socket(), asio::buffer(*frame),
                    [self = shared_from_this(), frame](beast::error_code ec, std::size_t) {
                      beast::error_code ignored;
                      auto& socket = beast::get_lowest_layer(self->ws_).socket();
                      socket.shutdown(tcp::socket::shutdown_send, ignored);
                      if (ec) return self->tear_down();
                      self->drain(std::make_shared<std::array<char, 4096>>());
                    });
}

void WsSession::drain(std::shared_ptr<std::array<char, 4096>> scratch) {
  auto& socket = beast::get_lowest_layer(ws_).socket();
  socket.async_read_some(asio::buffer(*scratch),
                         [self = shared_from_this(), scratch](beast::error_code ec, std::size_t) {
                           if (!ec) return self->drain(scratch);
                           beast::error_code ignored;
                           beast::get_lowest_layer(self->ws_).socket().close(ignored);
                           self->on_closed();
                         });
}

void WsSession::tear_down() {
  if (finished_) return;
  ++shared_.metrics.forced_closes;
  beast::error_code ignored;
  beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
  beast::get_lowest_layer(ws_).socket().close(ignored);  // pending operations end with errors
  on_closed();
}

void WsSession::start_close() {
  close_pending_ = false;
  ws_.async_close(close_reason_,
                  [self = shared_from_this()](beast::error_code) { self->on_closed(); });
}

void WsSession::on_closed() {
  if (finished_) return;
  finished_ = true;
  close_deadline_.cancel();
  if (counted_) --shared_.metrics.connections;
  if (!registered_) return;  // never registered, or the engine closed it itself
  const ConnectionId id = id_;
  Shared* shared = &shared_;
  // Refused only while the node stops, and then the engine is going away anyway.
  shared_.loop->post([shared, id](Txn& txn) {
    txn.run(Disconnected{id});
    shared->loop->sessions.erase(id);
  });
}

}  // namespace parley::net
