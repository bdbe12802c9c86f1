#include "net/node/ws_session.hpp"

#include <boost/asio.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
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

using Clock = std::chrono::steady_clock;

// An idle connection keeps two operations pending: the readability wait and the timer. By
// default Asio takes their memory from blocks its thread cached from earlier operations, up
// to a kilobyte each (an HTTP write, a WebSocket read), and they would hold such a block for
// as long as the connection stays idle. Allocated through this, they take their own size.
template <typename T>
struct ExactAllocator {
  using value_type = T;
  ExactAllocator() = default;
  template <typename U>
  ExactAllocator(const ExactAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  friend bool operator==(const ExactAllocator&, const ExactAllocator&) noexcept { return true; }
};

template <typename Handler>
auto exact_size(Handler handler) {
  return asio::bind_allocator(ExactAllocator<void>{}, std::move(handler));
}

// How long ago the peer last sent data on `socket`, from the kernel (TCP_INFO): it counts
// every byte, also those Beast reads in the middle of a message. A broken socket counts as
// silent for as long as the kernel can say (2^32 ms, 49 days).
std::chrono::milliseconds silence(tcp::socket& socket) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(socket.native_handle(), IPPROTO_TCP, TCP_INFO, &info, &size) != 0) {
    return std::chrono::milliseconds(
        std::numeric_limits<decltype(info.tcpi_last_data_recv)>::max());
  }
  return std::chrono::milliseconds(info.tcpi_last_data_recv);
}

// Beast has no public way to open a websocket::stream without a handshake, nor to tell
// whether it holds bytes it read past the last message (its read buffer). Both are in the
// stream's private `impl_`, reached here through an explicit instantiation (whose
// arguments are not access-checked: [temp.spec.general]/6). If a Boost upgrade renames
// them, this stops compiling; it cannot silently misbehave.
using Stream = websocket::stream<tcp::socket&, false>;
struct StreamImpl {};
auto stream_impl(StreamImpl);
template <auto Member>
struct StreamImplAccess {
  friend auto stream_impl(StreamImpl) { return Member; }
};
template struct StreamImplAccess<&Stream::impl_>;

// Pings and the idle timeout are the session's own (WsSession::on_timer): Beast's timer
// only bounds the handshake and the close handshake.
void configure(Stream& ws, std::int64_t handshake_timeout_ms) {
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = std::chrono::milliseconds(handshake_timeout_ms);
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  // The frame limit is the read buffer's size, not Beast's read_message_max: past that,
  // Beast fails the connection itself and its teardown resets it with the client's bytes
  // unread, which destroys the close frame (docs/operations.md, "Limits").
  ws.read_message_max(0);
}

// Bytes Beast read from the socket and has not handed out yet.
std::size_t buffered(Stream& ws) {
  return (ws.*stream_impl(StreamImpl{}))->rd_buf.size();
}

// Puts a new stream in the state a server handshake leaves it in (what accept() does
// after writing its response); the handshake was done once, on the first stream.
void open_as_server(Stream& ws) {
  (ws.*stream_impl(StreamImpl{}))->open(beast::role_type::server);
}

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
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      shared_(shared),
      slot_(std::move(slot)),
      token_hash_(std::move(token_hash)),
      device_(token.device),
      id_(shared.next_connection++) {
  tokens_ = shared.config.rate_limit_burst;
  last_refill_ = std::chrono::steady_clock::now();
}

void WsSession::run(Request request) {
  buffer_.max_size(shared_.config.max_frame_bytes);
  ws_.emplace(socket_);
  configure(*ws_, shared_.config.handshake_timeout_ms);
  ws_->async_accept(request,
                    [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
}

void WsSession::deliver(server::Event event) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), event = std::move(event)] {
    self->enqueue(encode_server_event(event, self->encoding_));
  });
}

void WsSession::close_from_engine(CloseReason reason) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), reason] {
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
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
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
  // A cluster node that stopped leading since the upgrade: its engine takes no input.
  registered_ = shared_.serving && shared_.loop->post([self](Txn&) {
    self->shared_.loop->sessions[self->id_] = self;
  });
  wait_until(Clock::now() + ping_after());
  if (!registered_) {
    close(websocket::close_code::try_again_later, "the node is overloaded; retry later");
  }
  read();
}

void WsSession::attach() {
  if (ws_) return;
  ws_.emplace(socket_);
  configure(*ws_, shared_.config.handshake_timeout_ms);
  open_as_server(*ws_);
}

void WsSession::detach_if_idle() {
  // Beast's operations hold only weak references to its state: none may be pending. A
  // closing stream stays (the close handshake needs it), and so do bytes Beast buffered.
  if (!ws_ || reading_ || writing_ || closing_ || finished_ || !ws_->is_open()) return;
  if (buffered(*ws_) != 0) return;
  ws_.reset();  // the socket is socket_'s: it stays open
}

void WsSession::read() {
  if (finished_) return;
  // Bytes of the next frame may already be in Beast's buffer, and the socket may never
  // become readable again for them: read them now.
  if (ws_ && buffered(*ws_) != 0) return read_message();
  socket_.async_wait(
      tcp::socket::wait_read,
      exact_size([self = shared_from_this()](beast::error_code ec) { self->on_readable(ec); }));
  detach_if_idle();
}

void WsSession::on_readable(beast::error_code ec) {
  // A close reads by itself (Beast's close handshake, or drain()).
  if (finished_ || closing_) return;
  if (ec) return on_closed();
  read_message();
}

void WsSession::read_message() {
  attach();
  reading_ = true;
  ws_->async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
    self->on_read(ec);
  });
}

void WsSession::on_read(beast::error_code ec) {
  reading_ = false;
  if (ec == websocket::error::buffer_overflow) {
    shared_.metrics.count_error("malformed_frame");
    return refuse_oversized();
  }
  if (ec) return on_closed();
  ++shared_.metrics.frames_in;
  const Encoding encoding = ws_->got_text() ? Encoding::json : Encoding::binary;
  const std::string bytes = beast::buffers_to_string(buffer_.data());
  buffer_.consume(buffer_.size());
  buffer_.shrink_to_fit();  // an idle connection keeps no read buffer
  handle_frame(bytes, encoding);
  if (closing_) return;
  // Push back before refusing: with the engine queue long, the next frame stays in the
  // socket (and TCP slows the sender) until the queue drains.
  const bool paused = shared_.loop->pause_reading([self = shared_from_this()] {
    asio::post(self->socket_.get_executor(), [self] {
      if (!self->closing_) self->read();
    });
  });
  if (paused) return detach_if_idle();
  read();
}

void WsSession::wait_until(Clock::time_point at) {
  timer_.expires_at(at);
  timer_.async_wait(
      exact_size([self = shared_from_this()](beast::error_code ec) { self->on_timer(ec); }));
}

void WsSession::on_timer(beast::error_code ec) {
  if (ec || finished_) return;
  const auto now = Clock::now();
  if (closing_) {
    // The grace is over (an earlier deadline's handler may run late: check the time).
    if (timer_.expiry() <= now) tear_down();
    return;
  }
  const auto ping_after = this->ping_after();
  const auto silent = silence(socket_);
  if (pinged_at_ != Clock::time_point{}) {
    // Answered or not, without comparing the time of the last byte with the ping's: the
    // kernel counts silence in jiffies (1 to 10 ms, by its HZ), and a pong comes within
    // one. Unanswered, the peer has been silent for at least ping_after more than the time
    // since the ping; answered, for at most that time.
    const auto since_ping = now - pinged_at_;
    if (silent < since_ping + ping_after / 2) {
      pinged_at_ = {};
    } else if (since_ping < ping_after) {
      return wait_until(pinged_at_ + ping_after);
    } else {
      ++shared_.metrics.ping_timeouts;
      return time_out();
    }
  }
  if (silent < ping_after) return wait_until(now - silent + ping_after);
  pinged_at_ = now;
  wait_until(now + ping_after);
  ping_due_ = true;
  if (!writing_) write_next();
}

std::chrono::milliseconds WsSession::ping_after() const {
  return std::chrono::milliseconds(shared_.config.ping_after_ms);
}

void WsSession::time_out() {
  // As Beast's idle timeout did: no close frame, the socket just goes.
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);  // pending operations end with errors
  on_closed();
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
        [self, input, request, hash = token_hash_](Txn& txn) {
          const auto token = txn.engine().token(hash);
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
    if (hello_done_) std::string().swap(token_hash_);  // not needed again
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
  if (!shared_.serving) {
    // A cluster node that stopped leading: its engine takes no input (docs/cluster.md).
    fail(request, ErrorCode::not_leader, "this node no longer leads the cluster; reconnect");
    close(websocket::close_code::going_away, "not_leader");
    return false;
  }
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
  if (ping_due_ && !closing_) {
    ping_due_ = false;
    writing_ = true;
    pinging_ = true;
    attach();
    ws_->async_ping(
        {}, [self = shared_from_this()](beast::error_code ec) { self->on_written(ec, false); });
    return;
  }
  ping_due_ = false;
  if (outbox_.empty()) {
    writing_ = false;
    if (close_pending_) return start_close();
    return detach_if_idle();
  }
  writing_ = true;
  attach();
  ws_->text(encoding_ == Encoding::json);
  ws_->async_write(asio::buffer(outbox_.front()),
                   [self = shared_from_this()](beast::error_code ec, std::size_t) {
                     self->on_written(ec, true);
                   });
}

void WsSession::on_written(beast::error_code ec, bool frame) {
  pinging_ = false;
  if (raw_close_after_write_) {
    writing_ = false;
    // Aborted because the read failed: the socket itself is fine.
    if (ec && ec != asio::error::operation_aborted) return tear_down();
    return send_raw_close();
  }
  if (ec) return on_closed();
  if (frame) {
    ++shared_.metrics.frames_out;
    outbox_bytes_ -= outbox_.front().size();
    outbox_.pop_front();
  }
  write_next();
}

void WsSession::drop_outbox_after(std::size_t keep) {
  const std::size_t in_flight = writing_ && !pinging_ ? 1 : 0;
  while (outbox_.size() > std::max(keep, in_flight)) {
    outbox_bytes_ -= outbox_.back().size();
    outbox_.pop_back();
  }
}

void WsSession::close(websocket::close_code code, std::string reason) {
  if (closing_) return;
  closing_ = true;
  close_code_ = code;
  close_text_ = std::move(reason);
  close_pending_ = true;
  wait_until(Clock::now() + std::chrono::milliseconds(kCloseGraceMs));
  if (!writing_) start_close();
}

void WsSession::refuse_oversized() {
  if (closing_ || finished_) return tear_down();  // a close is already under way
  closing_ = true;
  drop_outbox();
  wait_until(Clock::now() + std::chrono::milliseconds(kCloseGraceMs));
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
  asio::async_write(socket_, asio::buffer(*frame),
                    [self = shared_from_this(), frame](beast::error_code ec, std::size_t) {
                      beast::error_code ignored;
                      self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
                      if (ec) return self->tear_down();
                      self->drain(std::make_shared<std::array<char, 4096>>());
                    });
}

void WsSession::drain(std::shared_ptr<std::array<char, 4096>> scratch) {
  socket_.async_read_some(asio::buffer(*scratch),
                          [self = shared_from_this(), scratch](beast::error_code ec, std::size_t) {
                            if (!ec) return self->drain(scratch);
                            beast::error_code ignored;
                            self->socket_.close(ignored);
                            self->on_closed();
                          });
}

void WsSession::tear_down() {
  if (finished_) return;
  ++shared_.metrics.forced_closes;
  beast::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);  // pending operations end with errors
  on_closed();
}

void WsSession::start_close() {
  close_pending_ = false;
  attach();
  ws_->async_close(websocket::close_reason(close_code_, close_text_),
                   [self = shared_from_this()](beast::error_code) { self->on_closed(); });
}

void WsSession::on_closed() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
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
