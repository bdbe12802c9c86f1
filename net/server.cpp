// The node's I/O: Asio threads run HTTP and WebSocket sessions; one engine thread runs the
// engine over LMDB in group-commit batches. They meet in two places only: the engine
// loop's bounded task queue (I/O -> engine), and asio::post onto a session's executor
// (engine -> I/O), after the batch has committed.
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

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

#include "net/auth.hpp"
#include "net/codec.hpp"
#include "net/metrics.hpp"
#include "net/node.hpp"
#include "net/push_worker.hpp"
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
using Reply = std::function<void(Response)>;

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

  // Nothing when `address` already has `max` connections open.
  Slot acquire(const asio::ip::address& address, std::size_t max) {
    const std::string key = address.to_string();
    std::lock_guard lock(mutex_);
    std::size_t& open = open_[key];
    if (open >= max) return nullptr;
    ++open;
    return Slot(this, [this, key](void*) { release(key); });
  }

 private:
  void release(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (--open_[key] == 0) open_.erase(key);
  }
  std::mutex mutex_;
  std::unordered_map<std::string, std::size_t> open_;
};

struct Shared {
  NodeConfig config;
  Metrics metrics;
  std::string discover_url;
  asio::thread_pool hashing{1};  // argon2id is slow on purpose: never on I/O or engine threads
  std::atomic<ConnectionId> next_connection{1};  // 0 is the engine's "no connection"
  std::string dummy_hash;  // verified against for unknown names, to keep login timing flat
  AddressLimiter limiter;
  class EngineLoop* loop = nullptr;
  PushWorker* pushes = nullptr;  // null without --push-gateway
};

// ---- the engine thread ---------------------------------------------------------------------
class EngineLoop {
 public:
  EngineLoop(Shared& shared, storage::LmdbStore& store)
      : shared_(shared), store_(store), engine_(store, shared.config.engine) {
    store_.begin();
    engine_.open();
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
  // The engine's clock: wall time, never going backwards.
  TimeUs clock() {
    last_now_ = std::max(last_now_ + 1, wall_clock_us());
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
      // the disk: stop, and let a restart rebuild from the store.
      log_line(std::string("fatal: ") + error.what() + "; stopping the node");
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
};

// ---- WebSocket sessions ----------------------------------------------------------------------
class WsSession : public std::enable_shared_from_this<WsSession> {
 public:
  // The engine knows the device's user; the session needs only the device.
  WsSession(tcp::socket&& socket, Shared& shared, DeviceId device, AddressLimiter::Slot slot)
      : ws_(std::move(socket)),
        shared_(shared),
        slot_(std::move(slot)),
        device_(device),
        id_(shared.next_connection++) {
    tokens_ = shared.config.rate_limit_burst;
    last_refill_ = std::chrono::steady_clock::now();
  }

  void run(Request request) {
    websocket::stream_base::timeout timeouts =
        websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.handshake_timeout = std::chrono::milliseconds(shared_.config.handshake_timeout_ms);
    ws_.set_option(timeouts);
    ws_.read_message_max(shared_.config.max_frame_bytes);
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
    if (ec == websocket::error::message_too_big) {
      shared_.metrics.count_error("malformed_frame");
      close(websocket::close_code::too_big,
            "frames are limited to " + std::to_string(shared_.config.max_frame_bytes) + " bytes");
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
      // If the engine queue refuses it, the client may send hello again.
      hello_done_ =
          submit([input](Txn& txn) { return txn.engine.handle(input, txn.now); }, hello->request);
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
      // Drop the backlog, but not the frame being written: its buffer is in use.
      while (outbox_.size() > (writing_ ? 1u : 0u)) {
        outbox_bytes_ -= outbox_.back().size();
        outbox_.pop_back();
      }
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
                      if (ec) return self->on_closed();
                      ++self->shared_.metrics.frames_out;
                      self->outbox_bytes_ -= self->outbox_.front().size();
                      self->outbox_.pop_front();
                      self->write_next();
                    });
  }

  void close(websocket::close_code code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason(code, reason);
    close_pending_ = true;
    if (!writing_) start_close();
  }

  void start_close() {
    close_pending_ = false;
    ws_.async_close(close_reason_,
                    [self = shared_from_this()](beast::error_code) { self->on_closed(); });
  }

  void on_closed() {
    if (finished_) return;
    finished_ = true;
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
  beast::flat_buffer buffer_;
  Shared& shared_;
  AddressLimiter::Slot slot_;
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

std::optional<std::string> string_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return std::string(value->as_string());
}

std::optional<std::uint64_t> id_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr) return std::nullopt;
  if (value->is_uint64()) return value->as_uint64();
  if (value->is_int64() && value->as_int64() > 0)
    return static_cast<std::uint64_t>(value->as_int64());
  if (value->is_string()) {
    try {
      return std::stoull(std::string(value->as_string()));
    } catch (...) {
    }
  }
  return std::nullopt;
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

void sign_up(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto name = string_field(*body, "name");
  const auto password = string_field(*body, "password");
  if (!name || !password) {
    return reply(error_response(shared, request, http::status::bad_request, ErrorCode::bad_request,
                                "send {\"name\": ..., \"password\": ...}"));
  }
  if (password->size() < 8 || password->size() > 1024) {
    return reply(error_response(shared, request, http::status::bad_request,
                                ErrorCode::weak_password, "a password is 8 to 1024 bytes"));
  }
  asio::post(shared.hashing, [&shared, request, reply, name = *name, password = *password] {
    const std::string hash = hash_password(password, shared.config.password);
    const bool posted = shared.loop->post([&shared, request, reply, name, hash](Txn& txn) {
      auto created = txn.engine.create_user(name, txn.now);
      if (const auto* error = std::get_if<Error>(&created)) {
        const Error failure = *error;
        txn.after_commit.push_back([&shared, request, reply, failure] {
          reply(error_response(shared, request, status_for(failure.code), failure.code,
                               failure.message));
        });
        return;
      }
      const UserId user = std::get<UserId>(created);
      txn.records.put_credential(user, hash);
      txn.after_commit.push_back([request, reply, user, name] {
        reply(json_response(request, http::status::created, {{"user", user}, {"name", name}}));
      });
    });
    if (!posted) {
      reply(error_response(shared, request, http::status::service_unavailable,
                           ErrorCode::overloaded, "the node is overloaded; retry later"));
    }
  });
}

// Issues a token for a device (an existing one of the user's, or a new one).
void issue_token(Shared& shared, const Request& request, Reply reply, UserId user,
                 std::optional<std::uint64_t> device, std::string label) {
  const bool posted = shared.loop->post([&shared, request, reply, user, device, label](Txn& txn) {
    DeviceId id = device.value_or(0);
    const auto existing = id != 0 ? txn.records.device(id) : std::nullopt;
    if (id != 0 && (!existing || existing->user != user)) {
      txn.after_commit.push_back([&shared, request, reply] {
        reply(error_response(shared, request, http::status::bad_request, ErrorCode::unknown_device,
                             "that device is not yours"));
      });
      return;
    }
    if (id == 0) {
      auto added = txn.engine.add_device(user, label, txn.now);
      if (const auto* error = std::get_if<Error>(&added)) {
        const Error failure = *error;
        txn.after_commit.push_back([&shared, request, reply, failure] {
          reply(error_response(shared, request, status_for(failure.code), failure.code,
                               failure.message));
        });
        return;
      }
      id = std::get<DeviceId>(added);
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
  const auto name = string_field(*body, "name");
  const auto password = string_field(*body, "password");
  const auto device = id_field(*body, "device");
  const std::string label = string_field(*body, "device_label").value_or("web");
  if (!name || !password) {
    return reply(error_response(shared, request, http::status::bad_request, ErrorCode::bad_request,
                                "send {\"name\": ..., \"password\": ...}"));
  }
  const auto refuse = [&shared, request, reply] {
    reply(error_response(shared, request, http::status::unauthorized, ErrorCode::unauthorized,
                         "wrong name or password"));
  };
  const bool posted = shared.loop->post([&shared, request, reply, name = *name,
                                         password = *password, device, label, refuse](Txn& txn) {
    const auto user = txn.records.user_by_name(name);
    const auto hash = user ? txn.records.credential(*user) : std::nullopt;
    txn.after_commit.push_back([&shared, request, reply, user, hash, password, device, label,
                                refuse] {
      asio::post(shared.hashing,
                 [&shared, request, reply, user, hash, password, device, label, refuse] {
                   // Unknown names cost a hash too, so timing does not tell which names exist.
                   const bool matches = verify_password(hash.value_or(shared.dummy_hash), password);
                   if (!hash || !matches) return refuse();
                   issue_token(shared, request, reply, *user, device, label);
                 });
    });
  });
  if (!posted) reply(overloaded(shared, request));
}

void log_out(Shared& shared, const Request& request, Reply reply) {
  const std::string token = bearer_token(request);
  with_token(shared, request, reply, [request, reply, token](Txn& txn, const TokenRecord&) {
    txn.records.erase_token(token_hash(token));
    txn.after_commit.push_back(
        [request, reply] { reply(json_response(request, http::status::ok, json::object{})); });
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
  const std::string action = string_field(*body, "action").value_or("add");
  const std::map<std::string, client::ContactAction> actions{
      {"add", client::ContactAction::add},
      {"remove", client::ContactAction::remove},
      {"block", client::ContactAction::block},
      {"unblock", client::ContactAction::unblock}};
  const auto chosen = actions.find(action);
  const auto user = id_field(*body, "user");
  const auto name = string_field(*body, "name");
  if (chosen == actions.end() || (!user && !name)) {
    return reply(error_response(shared, request, http::status::bad_request, ErrorCode::bad_request,
                                "send {\"user\": ID or \"name\": NAME, \"action\": "
                                "\"add|remove|block|unblock\"}"));
  }
  const client::ContactAction contact_action = chosen->second;
  with_token(
      shared, request, reply,
      [&shared, request, reply, user, name, contact_action](Txn& txn, const TokenRecord& token) {
        const auto target = user ? user : txn.records.user_by_name(*name);
        if (!target) {
          txn.after_commit.push_back([&shared, request, reply] {
            reply(error_response(shared, request, http::status::not_found, ErrorCode::unknown_user,
                                 "no such user"));
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
            return reply(error_response(shared, request, status_for(failure->code), failure->code,
                                        failure->message));
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
  with_token(shared, request, reply, [&shared, request, reply, name](Txn& txn, const TokenRecord&) {
    const auto user = txn.records.user_by_name(name);
    txn.after_commit.push_back([&shared, request, reply, user, name] {
      if (!user) {
        return reply(error_response(shared, request, http::status::not_found,
                                    ErrorCode::unknown_user, "no user named '" + name + "'"));
      }
      reply(json_response(request, http::status::ok, {{"user", *user}, {"name", name}}));
    });
  });
}

Response static_file(Shared& shared, const Request& request, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path root = shared.config.web_root;
  if (!root.empty() && path.find("..") == std::string::npos) {
    fs::path file = root / (path == "/" ? "index.html" : path.substr(1));
    std::ifstream in(file, std::ios::binary);
    if (in) {
      Response response{http::status::ok, request.version()};
      const std::string ext = file.extension().string();
      const char* type = ext == ".html"  ? "text/html; charset=utf-8"
                         : ext == ".js"  ? "text/javascript; charset=utf-8"
                         : ext == ".css" ? "text/css; charset=utf-8"
                         : ext == ".png" ? "image/png"
                         : ext == ".svg" ? "image/svg+xml"
                                         : "application/octet-stream";
      response.set(http::field::content_type, type);
      response.body().assign(std::istreambuf_iterator<char>(in), {});
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      return response;
    }
  }
  if (path == "/") {
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
  return error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                        "no route " + path);
}

void route(Shared& shared, const Request& request, Reply reply) {
  ++shared.metrics.http_requests;
  const std::string path = path_of(request.target());
  const auto method = request.method();
  const auto only = [&](http::verb verb) {
    if (method == verb) return true;
    reply(error_response(shared, request, http::status::method_not_allowed, ErrorCode::bad_request,
                         "use " + std::string(http::to_string(verb)) + " for " + path));
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
  if (path == "/v1/logout") {
    if (only(http::verb::post)) log_out(shared, request, reply);
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
  if (method != http::verb::get) {
    return reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                                "no route " + path));
  }
  reply(static_file(shared, request, path));
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
    auto self = shared_from_this();
    route(shared_, request, [self](Response response) {
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->write(std::move(response), false);
      });
    });
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
              std::make_shared<WsSession>(self->stream_.release_socket(), self->shared_,
                                          token.device, self->slot_)
                  ->run(request);
            });
          });
        });
  }

  void write(Response response, bool close_after) {
    auto message = std::make_shared<Response>(std::move(response));
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
    auto slot =
        shared_.limiter.acquire(remote.address(), shared_.config.max_connections_per_address);
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
                             if (!ec) {
                               // Frames are small and latency-bound: without this, Nagle's
                               // algorithm and the peer's delayed ACKs hold one for ~40 ms.
                               beast::error_code ignored;
                               socket.set_option(tcp::no_delay(true), ignored);
                               self->admit(std::move(socket));
                             }
                             self->accept();
                           });
  }

  asio::io_context& io_;
  tcp::acceptor acceptor_;
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
  auto answer = std::make_shared<std::promise<Response>>();
  auto future = answer->get_future();
  route(impl_->shared, request, [answer](Response response) {
    try {
      answer->set_value(std::move(response));
    } catch (const std::future_error&) {
      // Answered twice: a bug the caller will see as a wrong response, not a crash here.
    }
  });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return "no answer within 30 s";
  }
  std::ostringstream out;
  out << future.get();
  return out.str();
}

int run_node(const NodeConfig& config) {
  init_crypto();
  Shared shared;
  shared.config = config;
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
