// One WebSocket connection of one device: frames in (decoded, rate-limited, posted to the
// engine loop as inputs) and frames out (a bounded outbox, written one at a time). The
// engine thread reaches a session only through deliver() and the close calls, which post
// onto the session's executor after the batch has committed.
//
// Memory: most connections are idle, so an idle one holds no WebSocket buffers and no
// pending read. Between messages the session waits for readability on the raw socket and
// lets go of Beast's websocket::stream (about 2.5 KB, most of it Beast's read buffer); a
// fresh, already open stream over the same socket is made when bytes arrive or a frame
// must go out (attach()). The stream is let go only at a message boundary with nothing
// buffered in it and no operation pending (detach_if_idle()). Heartbeat pings and the idle
// timeout are the session's own (on_timer()): a ping after `ping_after_ms` without a byte
// from the peer, the connection dropped `ping_after_ms` after an unanswered one (the default,
// 150 s, is Beast's server default).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <array>
#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "engine/engine.hpp"
#include "net/node/http_api.hpp"
#include "net/node/shared.hpp"
#include "net/wire/codec.hpp"

namespace parley::net {

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // The engine knows the device's user; the session needs only the device. `token_hash` is
  // checked again at hello: the token may be revoked since the upgrade.
  WsSession(boost::asio::ip::tcp::socket&& socket, Shared& shared, const engine::TokenRecord& token,
            std::string token_hash, AddressLimiter::Slot slot);

  // Accepts the upgrade `request` and starts reading.
  void run(Request request);

  // Engine thread -> this session, after the commit.
  void deliver(engine::server::Event event);
  void close_from_engine(engine::CloseReason reason);
  void close_going_away();

  engine::ConnectionId id() const { return id_; }

 private:
  // The stream over socket_ (which it refers to, not owns); without deflate.
  using Stream = boost::beast::websocket::stream<boost::asio::ip::tcp::socket&, false>;

  void on_accept(boost::beast::error_code ec);
  // Makes ws_ (an open stream over socket_) unless it is there; lets it go when idle.
  void attach();
  void detach_if_idle();
  // Reads the next message: at once if Beast holds some of its bytes, else once the socket
  // is readable.
  void read();
  void on_readable(boost::beast::error_code ec);
  void read_message();
  void on_read(boost::beast::error_code ec);
  // Heartbeat ping and idle timeout while open; the close grace while closing.
  void on_timer(boost::beast::error_code ec);
  void wait_until(std::chrono::steady_clock::time_point at);
  void time_out();
  std::chrono::milliseconds ping_after() const;
  bool take_rate_token();
  void handle_frame(const std::string& bytes, Encoding encoding);
  // Posts `handle(txn)` to the engine loop, or answers `overloaded` and returns false.
  template <typename F>
  bool submit(F handle, engine::RequestId request);
  void fail(engine::RequestId request, engine::ErrorCode code, std::string message);

  // A bounded outbound queue: a device that cannot keep up is closed, and resyncs from its
  // cursor when it reconnects. Nothing is lost: its inbox is durable.
  void enqueue(std::string bytes);
  void write_next();
  void on_written(boost::beast::error_code ec, bool frame);
  // Forgets every queued frame but the one being written (Asio still reads its buffer).
  void drop_outbox() { drop_outbox_after(0); }
  // Forgets every queued frame past the first `keep` and the one being written.
  void drop_outbox_after(std::size_t keep);

  // Closes with a close frame once the frame being written is out. If the peer does not
  // take it (it stopped reading) or does not answer, the socket is torn down after
  // kCloseGraceMs: a closing connection never holds memory for longer than that.
  void close(boost::beast::websocket::close_code code, std::string reason);
  // A frame over the limit: Beast's stream has failed, so the close frame (1009) goes out on
  // the socket directly; then the node shuts down its side and reads the rest of what the
  // client sends until it closes (at most kCloseGraceMs), so the client's unread bytes
  // cannot make the kernel reset the connection before the close frame is read.
  void refuse_oversized();
  void send_raw_close();
  void drain(std::shared_ptr<std::array<char, 4096>> scratch);
  void tear_down();
  void start_close();
  void on_closed();

  boost::asio::ip::tcp::socket socket_;
  std::optional<Stream> ws_;  // only while reading, writing or closing (see the top)
  // While open: when to check for silence (ping, idle timeout); while closing: the grace.
  boost::asio::steady_timer timer_;
  boost::beast::flat_buffer buffer_;  // its limit is the frame limit (set in run())
  Shared& shared_;
  AddressLimiter::Slot slot_;
  // Re-checked at hello: the token may be revoked since the upgrade. Emptied once the hello
  // is queued (the engine task has its copy).
  std::string token_hash_;
  engine::DeviceId device_;
  engine::ConnectionId id_;
  std::chrono::steady_clock::time_point pinged_at_{};  // the unanswered ping, if any
  Encoding encoding_ = Encoding::json;
  bool hello_done_ = false;
  bool registered_ = false;
  bool counted_ = false;
  bool reading_ = false;   // a message read (Beast's async_read) is under way
  bool writing_ = false;   // a frame or a ping is being written
  bool pinging_ = false;   // ... and it is the ping
  bool ping_due_ = false;  // a ping waits for the frame being written
  bool closing_ = false;
  bool close_pending_ = false;
  bool finished_ = false;
  bool raw_close_after_write_ = false;  // an oversized frame arrived mid-write
  boost::beast::websocket::close_code close_code_ = boost::beast::websocket::close_code::none;
  std::string close_text_;
  // A list, not a deque: an empty std::deque still holds ~600 bytes, and most connections
  // are idle with nothing queued (docs/load.md, memory per connection).
  std::list<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point last_refill_;
};

}  // namespace parley::net
