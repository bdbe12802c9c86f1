// The node's I/O: Asio threads run HTTP and WebSocket sessions; one engine thread runs the
// engine over LMDB in group-commit batches. They meet in two places only: the engine
// loop's bounded task queue (I/O -> engine), and asio::post onto a session's executor
// (engine -> I/O), after the batch has committed.
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <poll.h>
#include <sys/resource.h>

#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <future>
#include <list>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <variant>

#include "engine/clock.hpp"
#include "net/auth.hpp"
#include "net/codec.hpp"
#include "net/login_guard.hpp"
#include "net/metrics.hpp"
#include "net/node.hpp"
#include "net/push_worker.hpp"
#include "net/static_files.hpp"
#include "storage/lmdb_store.hpp"

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace parley::engine;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using FileResponse = http::response<http::file_body>;

// Where an HTTP answer goes, and what a handler may ask about the caller: its address (for
// per-address limits) and whether it hung up (slow work is skipped for callers who left).
class Reply {
 public:
  template <typename F>
  requires(std::is_invocable_v<F&, Response> && !std::is_same_v<std::decay_t<F>, Reply>)
      Reply(F send)  // NOLINT(google-explicit-constructor): handlers pass lambdas
      : send_(std::make_shared<std::function<void(Response)>>(std::move(send))) {}
  Reply(std::function<void(Response)> send, std::string address, std::function<bool()> gone)
      : send_(std::make_shared<std::function<void(Response)>>(std::move(send))),
        address_(std::move(address)),
        gone_(std::move(gone)) {}

  void operator()(Response response) const { (*send_)(std::move(response)); }
  const std::string& address() const { return address_; }
  bool caller_gone() const { return gone_ && gone_(); }

 private:
  std::shared_ptr<std::function<void(Response)>> send_;
  std::string address_;
  std::function<bool()> gone_;
};

// Password lengths in bytes (docs/protocol.md, "Accounts").
constexpr std::size_t kMinPasswordBytes = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;

std::int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

TimeUs wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void log_line(const std::string& text) {
  std::fprintf(stderr, "parley: %s\n", text.c_str());
  std::fflush(stderr);
}

class WsSession;

// What a task sees: the engine inside the open transaction, and where to put what must wait
// for the commit.
struct Txn {
  Engine& engine;
  Records& records;
  TimeUs now;
  Effects& effects;
  std::vector<std::function<void()>>& after_commit;
};
using Task = std::function<void(Txn&)>;

// Open connections per remote address. A slot is held by the session(s) of one connection
// and released when the last of them ends.
class AddressLimiter {
 public:
  using Slot = std::shared_ptr<void>;

  // Nothing when `address` already has `max` connections open, or the node `max_total`.
  Slot acquire(const asio::ip::address& address, std::size_t max, std::size_t max_total) {
    const std::string key = address.to_string();
    std::lock_guard lock(mutex_);
    if (total_ >= max_total) return nullptr;
    std::size_t& open = open_[key];
    if (open >= max) {
      if (open == 0) open_.erase(key);
      return nullptr;
    }
    ++open;
    ++total_;
    return Slot(this, [this, key](void*) { release(key); });
  }

 private:
  void release(const std::string& key) {
    std::lock_guard lock(mutex_);
    --total_;
    if (--open_[key] == 0) open_.erase(key);
  }
  std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> open_;
};

struct Shared {
  NodeConfig config;
  Metrics metrics;
  std::string discover_url;
  HashingQueue hashing{64};  // argon2id is slow on purpose: never on I/O or engine threads
  LoginThrottle throttle;
  std::atomic<ConnectionId> next_connection{1};  // 0 is the engine's "no connection"
  std::string dummy_hash;  // verified against for unknown names, to keep login timing flat
  AddressLimiter limiter;
  std::size_t max_connections = SIZE_MAX;  // node-wide, from the descriptor limit
  class EngineLoop* loop = nullptr;
  PushWorker* pushes = nullptr;  // null without --push-gateway
};

// ---- the engine thread ---------------------------------------------------------------------
class EngineLoop {
 public:
  EngineLoop(Shared& shared, storage::LmdbStore& store)
      : shared_(shared), store_(store), engine_(store, shared.config.engine) {
    store_.begin();
    // Presence restored from the store counts from now, before any input: an HTTP call in
    // the first batch (a logout, say) must see it.
    engine_.open(clock());
    store_.commit();
  }

  // From any thread. False when the queue is full: the caller answers `overloaded`.
  bool post(Task task) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || queue_.size() >= shared_.config.queue_max) {
        ++shared_.metrics.queue_rejections;
        return false;
      }
      queue_.push_back(std::move(task));
    }
    wake_.notify_one();
    return true;
  }

  // Commits what is queued, runs `last` on the engine thread, then the thread ends.
  void stop(std::function<void(EngineLoop&)> last) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      last_ = std::move(last);
    }
    wake_.notify_one();
  }

  void run() {
    TimeUs next_tick = 0;
    while (true) {
      std::vector<Task> batch;
      bool stop_now = false;
      {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(200),
                       [&] { return stopping_ || !queue_.empty(); });
        if (shared_.config.batch_wait_us > 0 && !stopping_ && !queue_.empty() &&
            queue_.size() < shared_.config.batch_max) {
          wake_.wait_for(lock, std::chrono::microseconds(shared_.config.batch_wait_us),
                         [&] { return stopping_ || queue_.size() >= shared_.config.batch_max; });
        }
        while (!queue_.empty() && batch.size() < shared_.config.batch_max) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        stop_now = stopping_ && queue_.empty();
      }
      const TimeUs now = clock();
      const bool tick = now >= next_tick;
      if (tick) next_tick = now + 1'000'000;
      if (!batch.empty() || tick) run_batch(batch, tick, now);
      if (stop_now) break;
    }
    if (last_) last_(*this);
  }

  // Engine thread only.
  std::unordered_map<ConnectionId, std::shared_ptr<WsSession>> sessions;
  Engine& engine() { return engine_; }

 private:
  // The engine's clock: anchored on the wall clock at start, then advanced by the monotonic
  // clock only (engine/clock.hpp), so a wall-clock step never expires presence.
  TimeUs clock() {
    last_now_ = std::max(last_now_ + 1, engine_clock_.now(wall_clock_us(), steady_now_us()));
    return last_now_;
  }

  void run_batch(std::vector<Task>& batch, bool tick, TimeUs now) {
    Effects effects;
    std::vector<std::function<void()>> after_commit;
    Txn txn{engine_, engine_.records(), now, effects, after_commit};
    try {
      store_.begin();
      for (Task& task : batch)
        task(txn);
      if (tick) {
        Effects ticked = engine_.handle(Tick{}, now);
        effects.insert(effects.end(), ticked.begin(), ticked.end());
      }
      const auto started = std::chrono::steady_clock::now();
      store_.commit();
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - started);
      shared_.metrics.count_commit(batch.size(), static_cast<std::uint64_t>(micros.count()));
    } catch (const std::exception& error) {
      // Nothing of this batch was released, and the engine's memory may now disagree with
      // the disk: stop, and let a restart rebuild from the store. A StoreError is the disk
      // (full, I/O, corrupt); anything else is a bug — client values are validated before
      // they reach the store (engine/store.hpp, storable_key), so no request can cause it.
      const bool disk = dynamic_cast<const StoreError*>(&error) != nullptr;
      log_line(std::string("fatal: ") + (disk ? "store failure: " : "internal error: ") +
               error.what() + "; stopping the node");
      std::_Exit(70);
    }
    release(effects);
    for (auto& reply : after_commit)
      reply();
  }

  void release(Effects& effects);

  Shared& shared_;
  storage::LmdbStore& store_;
  Engine engine_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::function<void(EngineLoop&)> last_;
  TimeUs last_now_ = 0;
  EngineClock engine_clock_;
};

// ---- WebSocket sessions ----------------------------------------------------------------------
// How long a closing WebSocket may take to send its close frame and hear the answer.
constexpr int kCloseGraceMs = 2'000;

class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // The engine knows the device's user; the session needs only the device.
  WsSession(tcp::socket&& socket, Shared& shared, const TokenRecord& token, std::string token_hash,
            AddressLimiter::Slot slot)
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

  void run(Request request) {
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

  // Engine thread -> this session, after the commit.
  void deliver(server::Event event) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), event = std::move(event)] {
      self->enqueue(encode_server_event(event, self->encoding_));
    });
  }

  void close_from_engine(CloseReason reason) {
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

  void close_going_away() {
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      self->registered_ = false;
      self->close(websocket::close_code::going_away, "the node is shutting down");
    });
  }

  ConnectionId id() const { return id_; }

 private:
  void on_accept(beast::error_code ec) {
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

  void read() {
    ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  void on_read(beast::error_code ec) {
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
    if (!closing_) read();
  }

  bool take_rate_token() {
    const auto now = std::chrono::steady_clock::now();
    const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
    tokens_ = std::min(shared_.config.rate_limit_burst,
                       tokens_ + elapsed * shared_.config.rate_limit_per_second);
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  void handle_frame(const std::string& bytes, Encoding encoding) {
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
      if (hello_done_)
        return fail(hello->request, ErrorCode::bad_request, "hello was already sent");
      encoding_ = encoding;
      const Connected input{id_, device_, hello->cursor};
      // The token may have been revoked (logout, re-login, password change) since the
      // upgrade: the engine thread checks it again, in order with those revocations.
      auto self = shared_from_this();
      const RequestId request = hello->request;
      // If the engine queue refuses it, the client may send hello again.
      hello_done_ = submit(
          [self, input, request](Txn& txn) -> Effects {
            const auto token = txn.records.token(self->token_hash_);
            if (!token || token->device != self->device_ || token->expires_at <= txn.now) {
              return {SendEvent{input.connection,
                                server::Failure{request, ErrorCode::unauthorized,
                                                "the token was revoked or expired; log in"}},
                      CloseConnection{input.connection, CloseReason::logged_out}};
            }
            return txn.engine.handle(input, txn.now);
          },
          hello->request);
      return;
    }
    auto& request = std::get<client::Request>(frame);
    const RequestId request_id = engine::request_id(request);
    if (!hello_done_) return fail(request_id, ErrorCode::hello_required, "send hello first");
    Received input{id_, std::move(request)};
    submit([input = std::move(input)](Txn& txn) { return txn.engine.handle(input, txn.now); },
           request_id);
  }

  template <typename F>
  bool submit(F handle, RequestId request) {
    const bool posted = shared_.loop->post([handle = std::move(handle)](Txn& txn) mutable {
      Effects more = handle(txn);
      txn.effects.insert(txn.effects.end(), std::make_move_iterator(more.begin()),
                         std::make_move_iterator(more.end()));
    });
    if (!posted) fail(request, ErrorCode::overloaded, "the node is overloaded; retry later");
    return posted;
  }

  void fail(RequestId request, ErrorCode code, std::string message) {
    shared_.metrics.count_error(std::string(to_string(code)));
    enqueue(encode_server_event(server::Failure{request, code, std::move(message)}, encoding_));
  }

  // A bounded outbound queue: a device that cannot keep up is closed, and resyncs from its
  // cursor when it reconnects. Nothing is lost: its inbox is durable.
  void enqueue(std::string bytes) {
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

  void write_next() {
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

  // Forgets every queued frame but the one being written (Asio still reads its buffer).
  void drop_outbox() { drop_outbox_after(0); }

  // Forgets every queued frame past the first `keep` and the one being written.
  void drop_outbox_after(std::size_t keep) {
    while (outbox_.size() > std::max<std::size_t>(keep, writing_ ? 1u : 0u)) {
      outbox_bytes_ -= outbox_.back().size();
      outbox_.pop_back();
    }
  }

  // Closes with a close frame once the frame being written is out. If the peer does not
  // take it (it stopped reading) or does not answer, the socket is torn down after
  // kCloseGraceMs: a closing connection never holds memory for longer than that.
  void close(websocket::close_code code, std::string reason) {
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

  // A frame over the limit: Beast's stream has failed, so the close frame (1009) goes out on
  // the socket directly; then the node shuts down its side and reads the rest of what the
  // client sends until it closes (at most kCloseGraceMs), so the client's unread bytes
  // cannot make the kernel reset the connection before the close frame is read.
  void refuse_oversized() {
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

  void send_raw_close() {
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

  // An unmasked close frame (RFC 6455 5.5.1); `reason` is under 124 bytes.
  static std::string close_frame(websocket::close_code code, const std::string& reason) {
    const auto value = static_cast<std::uint16_t>(code);
    std::string frame{static_cast<char>(0x88), static_cast<char>(2 + reason.size()),
                      static_cast<char>(value >> 8), static_cast<char>(value & 0xff)};
    return frame + reason;
  }

  void drain(std::shared_ptr<std::array<char, 4096>> scratch) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.async_read_some(asio::buffer(*scratch),
                           [self = shared_from_this(), scratch](beast::error_code ec, std::size_t) {
                             if (!ec) return self->drain(scratch);
                             beast::error_code ignored;
                             beast::get_lowest_layer(self->ws_).socket().close(ignored);
                             self->on_closed();
                           });
  }

  void tear_down() {
    if (finished_) return;
    ++shared_.metrics.forced_closes;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);  // pending operations end with errors
    on_closed();
  }

  void start_close() {
    close_pending_ = false;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code) { self->on_closed(); });
  }

  void on_closed() {
    if (finished_) return;
    finished_ = true;
    close_deadline_.cancel();
    if (counted_) --shared_.metrics.connections;
    if (!registered_) return;  // never registered, or the engine closed it itself
    const ConnectionId id = id_;
    Shared* shared = &shared_;
    // Refused only while the node stops, and then the engine is going away anyway.
    shared_.loop->post([shared, id](Txn& txn) {
      Effects more = txn.engine.handle(Disconnected{id}, txn.now);
      txn.effects.insert(txn.effects.end(), more.begin(), more.end());
      shared->loop->sessions.erase(id);
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  asio::steady_timer close_deadline_;
  beast::flat_buffer buffer_;  // its limit is the frame limit (set in run())
  Shared& shared_;
  AddressLimiter::Slot slot_;
  std::string token_hash_;  // re-checked at hello: the token may be revoked since the upgrade
  DeviceId device_;
  ConnectionId id_;
  Encoding encoding_ = Encoding::json;
  bool hello_done_ = false;
  bool registered_ = false;
  bool counted_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool close_pending_ = false;
  bool finished_ = false;
  bool raw_close_after_write_ = false;  // an oversized frame arrived mid-write
  websocket::close_reason close_reason_;
  // A list, not a deque: an empty std::deque still holds ~600 bytes, and most connections
  // are idle with nothing queued (docs/load.md, memory per connection).
  std::list<std::string> outbox_;
  std::size_t outbox_bytes_ = 0;
  double tokens_ = 0;
  std::chrono::steady_clock::time_point last_refill_;
};

void EngineLoop::release(Effects& effects) {
  for (Effect& effect : effects) {
    if (auto* send = std::get_if<SendEvent>(&effect)) {
      if (const auto* deliver = std::get_if<server::Deliver>(&send->event)) {
        shared_.metrics.messages_delivered += deliver->entries.size();
      } else if (std::holds_alternative<server::Presence>(send->event)) {
        ++shared_.metrics.presence_events;
      } else if (const auto* ack = std::get_if<server::SendAck>(&send->event)) {
        if (!ack->duplicate) ++shared_.metrics.messages_sent;
      } else if (const auto* failure = std::get_if<server::Failure>(&send->event)) {
        shared_.metrics.count_error(std::string(to_string(failure->code)));
      }
      const auto session = sessions.find(send->connection);
      if (session != sessions.end()) session->second->deliver(std::move(send->event));
    } else if (const auto* close = std::get_if<CloseConnection>(&effect)) {
      const auto session = sessions.find(close->connection);
      if (session != sessions.end()) {
        session->second->close_from_engine(close->reason);
        sessions.erase(session);
      }
    } else if (std::holds_alternative<PushNotification>(effect)) {
      ++shared_.metrics.push_intents;
      if (shared_.pushes != nullptr) shared_.pushes->wake();
    } else if (const auto* dropped = std::get_if<PushDropped>(&effect)) {
      ++shared_.metrics.push_dropped;
      log_line("push outbox full: no push for user " + std::to_string(dropped->user) + " about " +
               std::to_string(dropped->channel) + "/" + std::to_string(dropped->seq));
    } else if (std::holds_alternative<PresenceChange>(effect)) {
      ++shared_.metrics.presence_changes;
    }
  }
}

// ---- HTTP ------------------------------------------------------------------------------------
Response json_response(const Request& request, http::status status, const json::value& body) {
  Response response{status, request.version()};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = json::serialize(body);
  response.prepare_payload();
  return response;
}

Response error_response(Shared& shared, const Request& request, http::status status, ErrorCode code,
                        const std::string& message) {
  shared.metrics.count_error(std::string(to_string(code)));
  return json_response(request, status,
                       {{"error", {{"code", to_string(code)}, {"message", message}}}});
}

Response overloaded(Shared& shared, const Request& request) {
  return error_response(shared, request, http::status::service_unavailable, ErrorCode::overloaded,
                        "the node is overloaded; retry later");
}

http::status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::name_taken:
    case ErrorCode::already_member:
      return http::status::conflict;
    case ErrorCode::unauthorized:
      return http::status::unauthorized;
    case ErrorCode::not_a_member:
    case ErrorCode::not_admin:
    case ErrorCode::blocked:
    case ErrorCode::not_visible:
      return http::status::forbidden;
    case ErrorCode::unknown_user:
    case ErrorCode::unknown_channel:
      return http::status::not_found;
    case ErrorCode::overloaded:
      return http::status::service_unavailable;
    default:
      return http::status::bad_request;
  }
}

std::string query_param(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return "";
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto equals = pair.find('=');
    if (pair.substr(0, equals) == name && equals != std::string_view::npos) {
      return std::string(pair.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::string bearer_token(const Request& request) {
  const auto header = request[http::field::authorization];
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() > kPrefix.size() && header.substr(0, kPrefix.size()) == kPrefix) {
    return std::string(header.substr(kPrefix.size()));
  }
  return query_param(request.target(), "token");
}

// Adds effects of an engine call made inside a task to the batch, to be released after the
// commit.
void add_effects(Txn& txn, Effects more) {
  txn.effects.insert(txn.effects.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
}

// Resolves a bearer token on the engine thread; `then` runs there, inside the transaction,
// with the token's record, or `reply` gets 401.
void with_token(Shared& shared, const Request& request, Reply reply,
                std::function<void(Txn&, const TokenRecord&)> then) {
  const std::string token = bearer_token(request);
  if (token.empty()) {
    return reply(error_response(shared, request, http::status::unauthorized,
                                ErrorCode::unauthorized, "send Authorization: Bearer TOKEN"));
  }
  const std::string hash = token_hash(token);
  const bool posted = shared.loop->post([&shared, request, reply, then, hash](Txn& txn) {
    const auto record = txn.records.token(hash);
    if (!record || record->expires_at <= txn.now) {
      txn.after_commit.push_back([&shared, request, reply] {
        reply(error_response(shared, request, http::status::unauthorized, ErrorCode::unauthorized,
                             "the token is unknown or expired; log in"));
      });
      return;
    }
    then(txn, *record);
  });
  if (!posted) {
    reply(error_response(shared, request, http::status::service_unavailable, ErrorCode::overloaded,
                         "the node is overloaded; retry later"));
  }
}

std::optional<json::object> parse_body(Shared& shared, const Request& request, Reply& reply) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body(), ec);
  if (ec || !body.is_object()) {
    reply(error_response(shared, request, http::status::bad_request, ErrorCode::bad_request,
                         "the body must be a JSON object"));
    return std::nullopt;
  }
  return body.as_object();
}

// A field of a request body: absent, present with the expected type, or present with another
// (which the caller refuses: a wrong type is never read as "absent").
template <typename T>
struct Field {
  bool present = false;
  std::optional<T> value;  // empty when present with the wrong type or shape
  bool invalid() const { return present && !value; }
};

Field<std::string> string_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr) return {};
  if (!value->is_string()) return {true, std::nullopt};
  return {true, std::string(value->as_string())};
}

// A decimal string of digits only ("7", not " 7", "+7", "7abc", "-1" or "0x7"), or a JSON
// integer in 0..2^64-1. The same rule as the WebSocket JSON frames (docs/protocol.md).
std::optional<std::uint64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Field<std::uint64_t> id_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr) return {};
  if (value->is_uint64()) return {true, value->as_uint64()};
  if (value->is_int64() && value->as_int64() >= 0)
    return {true, static_cast<std::uint64_t>(value->as_int64())};
  if (value->is_string()) return {true, parse_id(value->as_string())};
  return {true, std::nullopt};
}

Response bad_field(Shared& shared, const Request& request, const std::string& what) {
  return error_response(shared, request, http::status::bad_request, ErrorCode::bad_request, what);
}

Response invalid_name(Shared& shared, const Request& request) {
  return error_response(shared, request, http::status::bad_request, ErrorCode::invalid_name,
                        "a user name is 1 to 32 of a-z A-Z 0-9 _ - ., starting with a letter "
                        "or digit");
}

// Runs `op` for an HTTP caller (Engine::handle_for) inside the open transaction. Returns the
// engine's answer to the caller (the event for connection 0); every other effect joins the
// batch, to be released after the commit.
std::optional<server::Event> handle_for_caller(Txn& txn, const TokenRecord& token,
                                               const client::Request& op) {
  std::optional<server::Event> answer;
  for (Effect& effect : txn.engine.handle_for(token.user, token.device, op, txn.now)) {
    auto* send = std::get_if<SendEvent>(&effect);
    if (send != nullptr && send->connection == 0) {
      answer = std::move(send->event);
    } else {
      txn.effects.push_back(std::move(effect));
    }
  }
  return answer;
}

// Runs a client request for an HTTP caller through the engine; replies with `render(event)`
// after the commit.
void engine_request(Shared& shared, const Request& request, Reply reply, client::Request op,
                    std::function<json::value(const server::Event&)> render) {
  with_token(shared, request, reply,
             [&shared, request, reply, op, render](Txn& txn, const TokenRecord& token) {
               const std::optional<server::Event> answer = handle_for_caller(txn, token, op);
               txn.after_commit.push_back([&shared, request, reply, answer, render] {
                 if (answer) {
                   if (const auto* failure = std::get_if<server::Failure>(&*answer)) {
                     return reply(error_response(shared, request, status_for(failure->code),
                                                 failure->code, failure->message));
                   }
                 }
                 reply(json_response(request, http::status::ok,
                                     answer ? render(*answer) : json::value(json::object{})));
               });
             });
}

// Stores a password hash for `token`'s user and signs every other device out, if the token
// is still live when the engine gets to it.
void store_new_password(Shared& shared, const Request& request, const Reply& reply,
                        const TokenRecord& caller, const std::string& hash) {
  const bool posted = shared.loop->post([&shared, request, reply, caller, hash](Txn& txn) {
    const auto live = txn.records.token(token_hash(bearer_token(request)));
    if (!live || live->user != caller.user || live->device != caller.device ||
        live->expires_at <= txn.now) {
      txn.after_commit.push_back([&shared, request, reply] {
        reply(error_response(shared, request, http::status::unauthorized, ErrorCode::unauthorized,
                             "the token is unknown or expired; log in"));
      });
      return;
    }
    txn.records.put_credential(caller.user, hash);
    std::vector<DeviceId> others = txn.records.devices_of(caller.user);
    std::erase(others, caller.device);
    add_effects(txn, txn.engine.sign_out_devices(caller.user, others, txn.now));
    const std::size_t signed_out = others.size();
    txn.after_commit.push_back([request, reply, signed_out] {
      reply(json_response(request, http::status::ok, {{"devices_signed_out", signed_out}}));
    });
  });
  if (!posted) reply(overloaded(shared, request));
}

Response engine_error(Shared& shared, const Request& request, const Error& failure) {
  return error_response(shared, request, status_for(failure.code), failure.code, failure.message);
}

// Refuses the attempt when the caller's address or the account is throttled (429 with
// Retry-After, net/login_guard.hpp).
bool throttled(Shared& shared, const Request& request, const Reply& reply,
               const std::string& account) {
  const auto wait_s = shared.throttle.admit(reply.address(), account, steady_now_us());
  if (!wait_s) return false;
  ++shared.metrics.logins_throttled;
  Response refused =
      error_response(shared, request, http::status::too_many_requests, ErrorCode::rate_limited,
                     "too many attempts; retry in " + std::to_string(*wait_s) + " s");
  refused.set(http::field::retry_after, std::to_string(*wait_s));
  reply(std::move(refused));
  return true;
}

// Runs `job` on the hashing thread unless its queue is full (503 with Retry-After). The job
// is skipped when the caller hung up while it waited: argon2 only for clients still there.
// `account` is the throttle slot the attempt holds (empty: none), given back if no verdict
// comes.
void hash_for(Shared& shared, const Request& request, const Reply& reply,
              const std::string& account, std::function<void()> job) {
  const bool queued = shared.hashing.try_post([&shared, reply, account, job = std::move(job)] {
    if (reply.caller_gone()) {
      ++shared.metrics.hash_jobs_skipped;
      shared.throttle.released(account);
      return;
    }
    job();
  });
  if (queued) return;
  shared.throttle.released(account);
  ++shared.metrics.hash_queue_rejections;
  Response refused = error_response(shared, request, http::status::service_unavailable,
                                    ErrorCode::overloaded, "too many logins at once; retry later");
  refused.set(http::field::retry_after, "1");
  reply(std::move(refused));
}

struct Credentials {
  std::string name;
  std::string password;
};

// {"name", "password"} of a sign-up or login, validated before anything is looked up.
std::optional<Credentials> read_credentials(Shared& shared, const Request& request,
                                            const Reply& reply, const json::object& body) {
  const auto name = string_field(body, "name");
  const auto password = string_field(body, "password");
  if (!name.value || !password.value) {
    reply(bad_field(shared, request, "send {\"name\": ..., \"password\": ...} as strings"));
    return std::nullopt;
  }
  if (!valid_user_name(*name.value)) {
    reply(invalid_name(shared, request));
    return std::nullopt;
  }
  if (password.value->size() > kMaxPasswordBytes) {
    reply(error_response(shared, request, http::status::bad_request, ErrorCode::weak_password,
                         "a password is 8 to 1024 bytes"));
    return std::nullopt;
  }
  return Credentials{*name.value, *password.value};
}

void sign_up(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto credentials = read_credentials(shared, request, reply, *body);
  if (!credentials) return;
  if (credentials->password.size() < kMinPasswordBytes) {
    return reply(error_response(shared, request, http::status::bad_request,
                                ErrorCode::weak_password, "a password is 8 to 1024 bytes"));
  }
  if (throttled(shared, request, reply, "")) return;  // only the address's bucket
  hash_for(shared, request, reply, "", [&shared, request, reply, credentials = *credentials] {
    const std::string hash = hash_password(credentials.password, shared.config.password);
    const std::string name = credentials.name;
    const bool posted = shared.loop->post([&shared, request, reply, name, hash](Txn& txn) {
      auto created = txn.engine.create_user(name, txn.now);
      if (const auto* error = std::get_if<Error>(&created)) {
        const Error failure = *error;
        txn.after_commit.push_back(
            [&shared, request, reply, failure] { reply(engine_error(shared, request, failure)); });
        return;
      }
      const UserId user = std::get<UserId>(created);
      txn.records.put_credential(user, hash);
      txn.after_commit.push_back([request, reply, user, name] {
        reply(json_response(request, http::status::created, {{"user", user}, {"name", name}}));
      });
    });
    if (!posted) reply(overloaded(shared, request));
  });
}

// Issues a token for a device (an existing one of the user's, or a new one). An existing
// device's older tokens stop working and its open socket closes: one live token per device.
//
// `verified_hash` is the credential the password was checked against, off the engine thread:
// if it changed since (a password change won the race), no token is issued.
void issue_token(Shared& shared, const Request& request, Reply reply, UserId user,
                 std::optional<std::uint64_t> device, std::string label,
                 std::string verified_hash) {
  const bool posted =
      shared.loop->post([&shared, request, reply, user, device, label, verified_hash](Txn& txn) {
        if (txn.records.credential(user) != verified_hash) {
          txn.after_commit.push_back([&shared, request, reply] {
            reply(error_response(shared, request, http::status::unauthorized,
                                 ErrorCode::unauthorized, "wrong name or password"));
          });
          return;
        }
        DeviceId id = device.value_or(0);
        const auto existing = id != 0 ? txn.records.device(id) : std::nullopt;
        if (id != 0 && (!existing || existing->user != user)) {
          txn.after_commit.push_back([&shared, request, reply] {
            reply(error_response(shared, request, http::status::bad_request,
                                 ErrorCode::unknown_device, "that device is not yours"));
          });
          return;
        }
        if (id == 0) {
          auto added = txn.engine.add_device(user, label, txn.now);
          if (const auto* error = std::get_if<Error>(&added)) {
            const Error failure = *error;
            txn.after_commit.push_back([&shared, request, reply, failure] {
              reply(engine_error(shared, request, failure));
            });
            return;
          }
          id = std::get<DeviceId>(added);
        } else {
          add_effects(txn, txn.engine.revoke_device_tokens(user, id));
        }
        const std::string token = new_token();
        const TimeUs expires = txn.now + shared.config.token_ttl_hours * 3'600'000'000LL;
        txn.records.put_token(token_hash(token), {user, id, expires});
        txn.after_commit.push_back([request, reply, user, id, token, expires] {
          reply(json_response(
              request, http::status::ok,
              {{"user", user}, {"device", id}, {"token", token}, {"expires_at_us", expires}}));
        });
      });
  if (!posted) reply(overloaded(shared, request));
}

void log_in(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto credentials = read_credentials(shared, request, reply, *body);
  if (!credentials) return;
  const auto device = id_field(*body, "device");
  const auto label = string_field(*body, "device_label");
  if (device.invalid() || label.invalid()) {
    return reply(bad_field(shared, request,
                           "\"device\" is a decimal id string or number, \"device_label\" a "
                           "string"));
  }
  const std::string account = fold_user_name(credentials->name);
  if (throttled(shared, request, reply, account)) return;
  const bool posted = shared.loop->post([&shared, request, reply, credentials = *credentials,
                                         device = device.value, account,
                                         label = label.value.value_or("web")](Txn& txn) {
    const auto user = txn.records.user_by_name(credentials.name);
    const auto hash = user ? txn.records.credential(*user) : std::nullopt;
    txn.after_commit.push_back([&shared, request, reply, user, hash, credentials, device, label,
                                account] {
      hash_for(shared, request, reply, account,
               [&shared, request, reply, user, hash, credentials, device, label, account] {
                 // Unknown names cost a hash too, so timing does not tell which names exist.
                 const bool matches =
                     verify_password(hash.value_or(shared.dummy_hash), credentials.password);
                 if (!hash || !matches) {
                   shared.throttle.failed(account, steady_now_us());
                   return reply(error_response(shared, request, http::status::unauthorized,
                                               ErrorCode::unauthorized, "wrong name or password"));
                 }
                 shared.throttle.succeeded(account);
                 issue_token(shared, request, reply, *user, device, label, *hash);
               });
    });
  });
  if (!posted) {
    shared.throttle.released(account);
    reply(overloaded(shared, request));
  }
}

// POST /v1/logout: this token's device is signed out; POST /v1/logout/all: every device of
// the user. Either way the tokens stop working and their sockets close at once.
void log_out(Shared& shared, const Request& request, Reply reply, bool everywhere) {
  with_token(
      shared, request, reply, [request, reply, everywhere](Txn& txn, const TokenRecord& token) {
        const std::vector<DeviceId> devices =
            everywhere ? txn.records.devices_of(token.user) : std::vector<DeviceId>{token.device};
        add_effects(txn, txn.engine.sign_out_devices(token.user, devices, txn.now));
        txn.after_commit.push_back([request, reply, count = devices.size()] {
          reply(json_response(request, http::status::ok, {{"devices_signed_out", count}}));
        });
      });
}

// POST /v1/password {"old_password", "new_password"}: every other device is signed out; the
// caller's token keeps working.
void change_password(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto old_password = string_field(*body, "old_password");
  const auto new_password = string_field(*body, "new_password");
  if (!old_password.value || !new_password.value) {
    return reply(bad_field(shared, request,
                           "send {\"old_password\": ..., \"new_password\": ...} as strings"));
  }
  if (new_password.value->size() < kMinPasswordBytes ||
      new_password.value->size() > kMaxPasswordBytes ||
      old_password.value->size() > kMaxPasswordBytes) {
    return reply(error_response(shared, request, http::status::bad_request,
                                ErrorCode::weak_password, "a password is 8 to 1024 bytes"));
  }
  with_token(
      shared, request, reply,
      [&shared, request, reply, old_password = *old_password.value,
       new_password = *new_password.value](Txn& txn, const TokenRecord& token) {
        const auto hash = txn.records.credential(token.user);
        const auto user = txn.records.user(token.user);
        const std::string account = fold_user_name(user ? user->name : "");
        txn.after_commit.push_back(
            [&shared, request, reply, hash, token, account, old_password, new_password] {
              if (throttled(shared, request, reply, account)) return;
              hash_for(shared, request, reply, account,
                       [&shared, request, reply, hash, token, account, old_password, new_password] {
                         if (!hash || !verify_password(*hash, old_password)) {
                           shared.throttle.failed(account, steady_now_us());
                           return reply(error_response(shared, request, http::status::unauthorized,
                                                       ErrorCode::unauthorized, "wrong password"));
                         }
                         shared.throttle.succeeded(account);
                         store_new_password(shared, request, reply, token,
                                            hash_password(new_password, shared.config.password));
                       });
            });
      });
}

json::value render_contacts(const server::Event& event) {
  json::array contacts;
  if (const auto* list = std::get_if<server::ContactList>(&event)) {
    for (const auto& contact : list->contacts) {
      contacts.push_back({{"user", contact.user},
                          {"name", contact.name},
                          {"state", contact.state == ContactState::blocked ? "blocked" : "contact"},
                          {"mutual", contact.mutual}});
    }
  }
  return {{"contacts", contacts}};
}

void change_contact(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto action = string_field(*body, "action");
  const std::map<std::string, client::ContactAction> actions{
      {"add", client::ContactAction::add},
      {"remove", client::ContactAction::remove},
      {"block", client::ContactAction::block},
      {"unblock", client::ContactAction::unblock}};
  const auto chosen = actions.find(action.value.value_or(action.present ? "" : "add"));
  const auto user = id_field(*body, "user");
  const auto name = string_field(*body, "name");
  if (chosen == actions.end() || user.invalid() || name.invalid() || (!user.value && !name.value)) {
    return reply(bad_field(shared, request,
                           "send {\"user\": ID or \"name\": NAME, \"action\": "
                           "\"add|remove|block|unblock\"}"));
  }
  if (name.value && !valid_user_name(*name.value)) return reply(invalid_name(shared, request));
  const client::ContactAction contact_action = chosen->second;
  with_token(shared, request, reply,
             [&shared, request, reply, user = user.value, name = name.value, contact_action](
                 Txn& txn, const TokenRecord& token) {
               const auto target = user ? user : txn.records.user_by_name(*name);
               if (!target) {
                 txn.after_commit.push_back([&shared, request, reply] {
                   reply(error_response(shared, request, http::status::not_found,
                                        ErrorCode::unknown_user, "no such user"));
                 });
                 return;
               }
               const auto answer =
                   handle_for_caller(txn, token, client::ChangeContact{1, contact_action, *target});
               std::optional<server::Failure> failure;
               if (answer) {
                 if (const auto* f = std::get_if<server::Failure>(&*answer)) failure = *f;
               }
               const UserId target_id = *target;
               txn.after_commit.push_back([&shared, request, reply, failure, target_id] {
                 if (failure) {
                   return reply(error_response(shared, request, status_for(failure->code),
                                               failure->code, failure->message));
                 }
                 reply(json_response(request, http::status::ok, {{"user", target_id}}));
               });
             });
}

void profile(Shared& shared, const Request& request, Reply reply) {
  with_token(shared, request, reply, [request, reply](Txn& txn, const TokenRecord& token) {
    const auto user = txn.records.user(token.user);
    json::array devices;
    for (DeviceId id : txn.records.devices_of(token.user)) {
      const auto device = txn.records.device(id);
      devices.push_back({{"device", id}, {"label", device ? device->label : ""}});
    }
    json::value body = {{"user", token.user},
                        {"name", user ? user->name : ""},
                        {"created_at_us", user ? user->created_at : 0},
                        {"device", token.device},
                        {"devices", devices}};
    txn.after_commit.push_back(
        [request, reply, body] { reply(json_response(request, http::status::ok, body)); });
  });
}

void find_user(Shared& shared, const Request& request, Reply reply, std::string name) {
  if (!valid_user_name(name)) {
    return reply(error_response(shared, request, http::status::not_found, ErrorCode::unknown_user,
                                "no user with that name"));
  }
  with_token(shared, request, reply, [&shared, request, reply, name](Txn& txn, const TokenRecord&) {
    const auto user = txn.records.user_by_name(name);
    const auto record = user ? txn.records.user(*user) : std::nullopt;
    txn.after_commit.push_back([&shared, request, reply, user, record, name] {
      if (!user) {
        return reply(error_response(shared, request, http::status::not_found,
                                    ErrorCode::unknown_user, "no user named '" + name + "'"));
      }
      // The spelling the user chose, whatever case the lookup used.
      reply(json_response(request, http::status::ok,
                          {{"user", *user}, {"name", record ? record->name : name}}));
    });
  });
}

// The page at "/" when the node runs without a web client (--web-root).
Response placeholder_page(const Request& request) {
  Response response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.body() =
      "<!doctype html><title>parley</title><h1>parley node</h1><p>The web client is not "
      "installed (--web-root). API: <code>POST /v1/signup</code>, <code>POST /v1/login"
      "</code>, <code>GET /v1/discover</code>, WebSocket <code>/v1/ws</code>; see "
      "docs/protocol.md.</p>";
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

// GET or HEAD of a path outside the API: a file under the web root (net/static_files.hpp),
// streamed from its descriptor, never read whole into memory.
std::variant<Response, FileResponse> static_response(Shared& shared, const Request& request,
                                                     const std::string& path) {
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    Response refused = error_response(shared, request, http::status::method_not_allowed,
                                      ErrorCode::bad_request, "use GET or HEAD for " + path);
    refused.set(http::field::allow, "GET, HEAD");
    return refused;
  }
  StaticFile file = open_static_file(shared.config.web_root, path);
  if (file.fd < 0) {
    if (path == "/") return placeholder_page(request);
    return error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                          "no route " + path);
  }
  beast::file handle;
  handle.native_handle(file.fd);  // owns it from here: closed with the response
  FileResponse response{http::status::ok, request.version()};
  beast::error_code ec;
  response.body().reset(std::move(handle), ec);
  if (ec) {
    return error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                          "no route " + path);
  }
  response.set(http::field::content_type, file.content_type);
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::cache_control, "no-cache");
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

// The API's paths; every other path is a static file.
bool is_api_path(const std::string& path) {
  return path == "/healthz" || path == "/metrics" || path.rfind("/v1/", 0) == 0 || path == "/v1";
}

void route(Shared& shared, const Request& request, Reply reply) {
  ++shared.metrics.http_requests;
  const std::string path = path_of(request.target());
  const auto method = request.method();
  const auto only = [&](http::verb verb) {
    if (method == verb || (verb == http::verb::get && method == http::verb::head)) return true;
    Response refused =
        error_response(shared, request, http::status::method_not_allowed, ErrorCode::bad_request,
                       "use " + std::string(http::to_string(verb)) + " for " + path);
    refused.set(http::field::allow,
                verb == http::verb::get ? "GET, HEAD" : std::string(http::to_string(verb)));
    reply(std::move(refused));
    return false;
  };
  if (path == "/healthz") {
    return reply(json_response(request, http::status::ok, {{"status", "ok"}}));
  }
  if (path == "/metrics") {
    Response response{http::status::ok, request.version()};
    response.set(http::field::content_type, "text/plain; version=0.0.4");
    response.body() = shared.metrics.render();
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return reply(std::move(response));
  }
  if (path == "/v1/discover") {
    return reply(json_response(request, http::status::ok, {{"websocket", shared.discover_url}}));
  }
  if (path == "/v1/signup") {
    if (only(http::verb::post)) sign_up(shared, request, reply);
    return;
  }
  if (path == "/v1/login") {
    if (only(http::verb::post)) log_in(shared, request, reply);
    return;
  }
  if (path == "/v1/logout" || path == "/v1/logout/all") {
    if (only(http::verb::post)) log_out(shared, request, reply, path == "/v1/logout/all");
    return;
  }
  if (path == "/v1/password") {
    if (only(http::verb::post)) change_password(shared, request, reply);
    return;
  }
  if (path == "/v1/profile") {
    if (only(http::verb::get)) profile(shared, request, reply);
    return;
  }
  if (path == "/v1/contacts") {
    if (method == http::verb::get) {
      return engine_request(shared, request, reply, client::ListContacts{1}, render_contacts);
    }
    if (only(http::verb::post)) change_contact(shared, request, reply);
    return;
  }
  if (path.rfind("/v1/users/", 0) == 0) {
    if (only(http::verb::get)) find_user(shared, request, reply, path.substr(10));
    return;
  }
  reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                       "no route " + path));
}

// Answers one HTTP request: the API through route(), every other path as a static file. A
// HEAD of a file is answered with its headers alone; `reply_file` gets GET's file bodies.
void answer(Shared& shared, const Request& request, const Reply& reply,
            const std::function<void(FileResponse)>& reply_file) {
  const std::string path = path_of(request.target());
  if (is_api_path(path)) return route(shared, request, reply);
  ++shared.metrics.http_requests;
  auto response = static_response(shared, request, path);
  if (auto* file = std::get_if<FileResponse>(&response)) {
    if (request.method() != http::verb::head) return reply_file(std::move(*file));
    Response headers{std::move(file->base())};  // the descriptor closes with `response`
    return reply(std::move(headers));
  }
  reply(std::move(std::get<Response>(response)));
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket&& socket, Shared& shared, AddressLimiter::Slot slot)
      : stream_(std::move(socket)), shared_(shared), slot_(std::move(slot)) {}

  void run() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(shared_.config.max_http_body_bytes);
    stream_.expires_after(std::chrono::milliseconds(shared_.config.handshake_timeout_ms));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      Request request;
      return write(error_response(shared_, request, http::status::payload_too_large,
                                  ErrorCode::bad_request, "the body is too large"),
                   true);
    }
    if (ec) return;  // closed, or the 10 s timeout: drop the connection
    Request request = parser_->release();
    if (websocket::is_upgrade(request) && path_of(request.target()) == "/v1/ws") {
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
        remote_address(), [self] { return self->peer_gone(); });
    try {
      answer(shared_, request, reply,
             [self](FileResponse response) { self->write(std::move(response), false); });
    } catch (const std::exception& error) {
      // A handler's bug must never take the node down; the client learns it failed.
      log_line(std::string("HTTP handler failed: ") + error.what());
      write(error_response(shared_, request, http::status::internal_server_error,
                           ErrorCode::bad_request, "internal error"),
            true);
    }
  }

  void upgrade(Request request) {
    auto self = shared_from_this();
    with_token(
        shared_, request,
        [self](Response response) {
          asio::post(self->stream_.get_executor(),
                     [self, response = std::move(response)]() mutable {
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

  std::string remote_address() {
    beast::error_code ec;
    const auto remote = stream_.socket().remote_endpoint(ec);
    return ec ? std::string() : remote.address().to_string();
  }

  // True once the client closed or reset its side. Safe from any thread: poll() only reads,
  // and the caller holds the session (so the descriptor stays open).
  bool peer_gone() {
    pollfd probe{stream_.socket().native_handle(), POLLRDHUP, 0};
    return ::poll(&probe, 1, 0) > 0 && (probe.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  template <typename Body>
  void write(http::response<Body> response, bool close_after) {
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

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Shared& shared_;
  AddressLimiter::Slot slot_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io, Shared& shared, tcp::endpoint endpoint)
      : io_(io), acceptor_(io), shared_(shared) {
    acceptor_.open(endpoint.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  void run() { accept(); }
  void stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }

 private:
  // A bounded number of connections per remote address: a flood from one address cannot
  // take every socket from everyone else.
  void admit(tcp::socket socket) {
    beast::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    auto slot = shared_.limiter.acquire(
        remote.address(), shared_.config.max_connections_per_address, shared_.max_connections);
    if (!slot) {
      ++shared_.metrics.connections_refused;
      socket.close(ec);
      return;
    }
    std::make_shared<HttpSession>(std::move(socket), shared_, std::move(slot))->run();
  }

  void accept() {
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

  // Out of descriptors (or another accept error): retrying at once would spin; the
  // connection stays in the backlog until a descriptor is free.
  void accept_later() {
    retry_.expires_after(std::chrono::milliseconds(50));
    retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->accept();
    });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_{acceptor_.get_executor()};
  Shared& shared_;
};

// Reads outbox intents on the engine thread for the push worker (which waits for them).
std::vector<PushIntent> fetch_intents(Shared& shared, std::uint64_t after, std::size_t limit) {
  auto promise = std::make_shared<std::promise<std::vector<PushIntent>>>();
  auto future = promise->get_future();
  const bool posted = shared.loop->post([promise, after, limit](Txn& txn) {
    promise->set_value(txn.records.push_intents_after(after, limit));
  });
  if (!posted || future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  return future.get();
}

tcp::endpoint parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT");
  const auto address = asio::ip::make_address(listen.substr(0, colon));
  const unsigned long port = std::stoul(listen.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("--listen port must be 0 to 65535");
  return {address, static_cast<std::uint16_t>(port)};
}

void write_port_file(const std::string& path, std::uint16_t port) {
  const std::string temporary = path + ".tmp";
  std::ofstream(temporary) << port << "\n";
  std::filesystem::rename(temporary, path);
}

void configure_throttle(Shared& shared) {
  LoginThrottleOptions options;
  options.address_attempts_per_second = shared.config.login_attempts_per_minute / 60.0;
  options.address_burst = std::max(1.0, shared.config.login_attempts_per_minute);
  shared.throttle.set_options(options);
}

}  // namespace

struct InProcessNode::Impl {
  Shared shared;
  std::unique_ptr<storage::LmdbStore> store;
  std::unique_ptr<EngineLoop> loop;
  std::thread engine_thread;
};

InProcessNode::InProcessNode(const NodeConfig& config) : impl_(std::make_unique<Impl>()) {
  init_crypto();
  impl_->shared.config = config;
  configure_throttle(impl_->shared);
  impl_->shared.dummy_hash = hash_password("not a real password", config.password);
  storage::LmdbOptions options;
  options.sync = false;
  options.initial_map_bytes = config.initial_map_mib << 20;
  impl_->store = std::make_unique<storage::LmdbStore>(config.data, options);
  impl_->loop = std::make_unique<EngineLoop>(impl_->shared, *impl_->store);
  impl_->shared.loop = impl_->loop.get();
  impl_->shared.discover_url = "ws://in-process/v1/ws";
  impl_->engine_thread = std::thread([this] { impl_->loop->run(); });
}

InProcessNode::~InProcessNode() {
  impl_->loop->stop([](EngineLoop&) {});
  impl_->engine_thread.join();
  impl_->shared.hashing.join();
}

std::string InProcessNode::http(std::string_view raw_request) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(impl_->shared.config.max_http_body_bytes);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(raw_request.data(), raw_request.size()), ec);
  if (ec || !parser.is_done()) return "";
  const Request request = parser.release();
  if (websocket::is_upgrade(request)) return "";  // WebSockets need a socket
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  const bool head = request.method() == http::verb::head;
  const auto settle = [promise](const auto& response) {
    std::ostringstream out;
    out << response;
    try {
      promise->set_value(out.str());
    } catch (const std::future_error&) {
      // Answered twice: a bug the caller will see as a wrong response, not a crash here.
    }
  };
  answer(
      impl_->shared, request,
      [settle, head](Response response) {
        if (head) response.body().clear();
        settle(response);
      },
      [promise](FileResponse response) {
        // Beast cannot print a file body: the headers, then the file's bytes.
        std::ostringstream out;
        out << response.base();
        auto& file = response.body().file();
        beast::error_code read_error;
        file.seek(0, read_error);
        char chunk[4096];
        while (!read_error) {
          const std::size_t n = file.read(chunk, sizeof chunk, read_error);
          if (n == 0) break;
          out.write(chunk, static_cast<std::streamsize>(n));
        }
        promise->set_value(out.str());
      });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return "no answer within 30 s";
  }
  return future.get();
}

// Raises the soft limit on open descriptors to the hard limit (the common soft limit of 1,024
// lets one client hold every socket) and sizes the connection limits from it: the node keeps
// kReservedDescriptors for its store, files and push connections; one address may hold an
// eighth of the rest unless --max-connections-per-address says otherwise.
constexpr std::size_t kReservedDescriptors = 128;

void size_connection_limits(Shared& shared) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    if (limit.rlim_cur < limit.rlim_max) {
      rlimit raised = limit;
      raised.rlim_cur = limit.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
  }
  const std::size_t descriptors =
      limit.rlim_cur == RLIM_INFINITY ? 1'048'576 : static_cast<std::size_t>(limit.rlim_cur);
  shared.max_connections =
      descriptors > 2 * kReservedDescriptors ? descriptors - kReservedDescriptors : descriptors / 2;
  if (shared.config.max_connections_per_address == 0) {
    shared.config.max_connections_per_address =
        std::clamp<std::size_t>(shared.max_connections / 8, 16, 4096);
  }
  log_line("descriptors: " + std::to_string(descriptors) + "; connections: at most " +
           std::to_string(shared.max_connections) + ", " +
           std::to_string(shared.config.max_connections_per_address) + " per address");
}

int run_node(const NodeConfig& config) {
  init_crypto();
  Shared shared;
  shared.config = config;
  size_connection_limits(shared);
  configure_throttle(shared);
  shared.dummy_hash = hash_password("not a real password", config.password);
  std::unique_ptr<storage::LmdbStore> store;
  std::unique_ptr<EngineLoop> loop;
  tcp::endpoint endpoint;
  try {
    endpoint = parse_listen(config.listen);
    storage::LmdbOptions options;
    options.initial_map_bytes = config.initial_map_mib << 20;
    options.max_map_bytes = std::max(config.max_map_mib, config.initial_map_mib) << 20;
    store = std::make_unique<storage::LmdbStore>(config.data, options);
    loop = std::make_unique<EngineLoop>(shared, *store);
  } catch (const std::exception& error) {
    log_line(std::string("cannot start: ") + error.what());
    return 78;
  }
  shared.loop = loop.get();
  asio::io_context io(static_cast<int>(std::max(1u, config.io_threads)));
  std::shared_ptr<Listener> listener;
  try {
    listener = std::make_shared<Listener>(io, shared, endpoint);
  } catch (const std::exception& error) {
    log_line("cannot listen on " + config.listen + ": " + error.what());
    return 78;
  }
  const std::uint16_t port = listener->port();
  const std::string host = endpoint.address().to_string();
  shared.discover_url = config.public_url.empty()
                            ? "ws://" + host + ":" + std::to_string(port) + "/v1/ws"
                            : config.public_url;
  listener->run();
  std::thread engine_thread([&loop] { loop->run(); });
  std::unique_ptr<PushWorker> pushes;
  if (!config.push.url.empty()) {
    try {
      pushes = std::make_unique<PushWorker>(
          config.push, shared.metrics,
          [&shared](std::uint64_t after, std::size_t limit) {
            return fetch_intents(shared, after, limit);
          },
          [&shared](const PushResult& result) {
            return shared.loop->post([result](Txn& txn) {
              Effects more = txn.engine.handle(result, txn.now);
              txn.effects.insert(txn.effects.end(), more.begin(), more.end());
            });
          });
    } catch (const std::exception& error) {
      log_line(std::string("cannot start: ") + error.what());
      std::_Exit(78);
    }
    shared.pushes = pushes.get();
    pushes->start();
  }
  if (!config.port_file.empty()) write_port_file(config.port_file, port);
  log_line("listening on http://" + host + ":" + std::to_string(port) + " (data: " + config.data +
           ")");

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  signals.async_wait([&](beast::error_code, int signal) {
    log_line("signal " + std::to_string(signal) + ": stopping");
    listener->stop();
    if (pushes) pushes->stop();  // what is not delivered stays in the outbox
    // Commit what is queued, then tell every client we are going away.
    loop->stop([](EngineLoop& stopped) {
      for (auto& [id, session] : stopped.sessions)
        session->close_going_away();
      stopped.sessions.clear();
    });
    grace.expires_after(std::chrono::milliseconds(500));
    grace.async_wait([&io](beast::error_code) { io.stop(); });
  });

  std::vector<std::thread> io_threads;
  for (unsigned i = 1; i < std::max(1u, config.io_threads); ++i) {
    io_threads.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (auto& thread : io_threads)
    thread.join();
  engine_thread.join();
  shared.hashing.join();
  log_line("stopped");
  return 0;
}

}  // namespace parley::net
