#include "net/client/load.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <vector>

#include "net/client/load_accounts.hpp"
#include "net/client/load_discovery.hpp"
#include "net/client/load_measure.hpp"

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace client = engine::client;
namespace server = engine::server;

constexpr std::size_t kMaxConnections = 100'000;
constexpr double kMaxDurationS = 3600;
constexpr double kMaxRate = 10'000'000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

void check_bounds(const LoadConfig& config) {
  const auto address = asio::ip::make_address(config.host);
  if (!address.is_loopback()) {
    throw std::invalid_argument("parley load only targets loopback addresses, not " + config.host);
  }
  if (config.connections < 2 || config.connections > kMaxConnections) {
    throw std::invalid_argument("--connections must be 2.." + std::to_string(kMaxConnections));
  }
  if (config.duration_s < 0 || config.duration_s > kMaxDurationS) {
    throw std::invalid_argument("--duration must be 0..3600 s");
  }
  if (config.rate < 0 || config.rate > kMaxRate) {
    throw std::invalid_argument("--rate must be 0..10000000 messages per second");
  }
  if (config.group_size == 1 || config.group_size > 100 ||
      (config.group_size > 0 && config.connections < config.group_size)) {
    throw std::invalid_argument("--group-size must be 0 (1:1) or 2..100, and <= --connections");
  }
  if (config.source_addresses < 1 || config.source_addresses > 250) {
    throw std::invalid_argument("--source-addresses must be 1..250");
  }
  if (config.text_bytes < 24 || config.text_bytes > 60'000) {
    throw std::invalid_argument("--text-bytes must be 24..60000");
  }
}

// A delivery's identity: the receiving connection, and the sender's connection and message
// number from its clientMsgId "lSENDER-N" (load.cpp's send_one). Nothing for another id or
// numbers past the key's fields (2^20 connections, 2^24 messages per sender).
std::optional<std::uint64_t> delivery_key(std::size_t recipient, const std::string& id) {
  unsigned long long sender = 0;
  unsigned long long number = 0;
  if (std::sscanf(id.c_str(), "l%llu-%llu", &sender, &number) != 2) return std::nullopt;
  if (recipient >= (1u << 20) || sender >= (1u << 20) || number >= (1u << 24)) return std::nullopt;
  return (static_cast<std::uint64_t>(recipient) << 44) | (sender << 24) | number;
}

// ---- The WebSockets ---------------------------------------------------------------------------

class Load;

// One device's connection. All of it runs on the one io_context thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Load& load, std::size_t index, asio::io_context& io)
      : load_(load), index_(index), io_(io), retry_(io) {}

  void start(const tcp::endpoint& node, const asio::ip::address_v4& source,
             const std::string& token);
  void send(const ClientFrame& frame);
  // A send this connection resends after a reconnect until it is acked (--discover).
  void track(const client::Send& send) { unacked_.emplace(send.request, send); }
  // Whether `request` was an unacked send of this connection (it is not any more).
  bool settle(engine::RequestId request) { return unacked_.erase(request) > 0; }
  bool welcomed() const { return welcomed_; }
  bool ever_welcomed() const { return ever_welcomed_; }
  bool alive() const { return alive_; }
  std::size_t index() const { return index_; }
  void close();
  // Drops the socket; with --discover, a connection that was welcomed once reconnects.
  void fail(const std::string& kind);
  // Resends every unacked send after 200 ms on this connection (an `overloaded` refusal).
  void resend_later();

  engine::ChannelId channel = 0;  // the group this connection sends to (group traffic)
  engine::UserId peer = 0;        // the user it sends to (1:1 traffic)
  engine::UserId user = 0;
  std::uint64_t next_message = 0;

 private:
  using Stream = websocket::stream<tcp::socket>;
  void connect();
  void on_connected();
  void on_welcome();
  void reconnect_later();
  void read();
  void on_frame(std::size_t bytes);
  void write_next();
  void enqueue(const ClientFrame& frame);

  Load& load_;
  std::size_t index_;
  asio::io_context& io_;
  asio::steady_timer retry_;
  std::optional<Stream> ws_;
  tcp::endpoint node_;
  asio::ip::address_v4 source_;
  std::string token_;
  std::uint64_t generation_ = 0;  // a callback of an older socket is ignored
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  std::map<engine::RequestId, client::Send> unacked_;  // --discover only
  bool writing_ = false;
  bool welcomed_ = false;
  bool ever_welcomed_ = false;
  bool alive_ = true;
  bool closed_ = false;  // by the load: no reconnect
  engine::InboxSeq last_seen_ = 0;
};

class Load {
 public:
  Load(const LoadConfig& config, std::function<void(const LoadProgress&)> progress)
      : config_(config), progress_(std::move(progress)), heartbeat_(io_), ticker_(io_) {}

  LoadReport run();

  // Called by connections.
  void on_welcome(Connection& connection);
  void on_deliver(Connection& connection, const server::Deliver& deliver);
  void on_send_ack(Connection& connection, const server::SendAck& ack);
  void on_failure(Connection& connection, const server::Failure& failure);
  // --discover: a gateway to (re)connect to, other than `avoid` when there is another.
  std::optional<tcp::endpoint> pick_gateway(const tcp::endpoint& avoid) {
    return discovery_->pick(avoid);
  }
  void on_group_created(Connection& connection, const server::GroupCreated& created);
  void on_connection_lost() { ++lost_connections_; }
  void on_error(const std::string& kind) {
    ++report_.errors;
    ++report_.errors_by_kind[kind];
  }
  Encoding encoding() const { return config_.encoding; }

 private:
  void open_connections(const std::vector<LoadAccount>& accounts);
  void create_groups();
  void send_traffic();
  void drain();
  bool all_reconnected() const;
  void measure_node_cpu();
  void run_until(const std::function<bool()>& done, double timeout_s, const std::string& phase);
  void send_one(Connection& sender);
  void heartbeat_all();
  void report_progress(const std::string& phase, std::size_t done, std::size_t target);
  std::string message_text(std::int64_t sent_at) const;

  LoadConfig config_;
  std::function<void(const LoadProgress&)> progress_;
  std::unique_ptr<GatewayDiscovery> discovery_;  // --discover only
  asio::io_context io_;
  asio::steady_timer heartbeat_;
  asio::steady_timer ticker_;
  std::vector<std::shared_ptr<Connection>> connections_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::size_t welcomed_ = 0;
  std::size_t lost_connections_ = 0;
  std::size_t groups_created_ = 0;
  std::int64_t heartbeat_interval_us_ = 5'000'000;
  std::uint64_t recipients_per_message_ = 1;
  LoadReport report_;
  std::vector<std::uint32_t> delivery_us_;
  std::vector<std::uint32_t> ack_us_;
  std::vector<std::uint32_t> second_us_;  // this second's deliveries, for progress
  std::map<engine::RequestId, std::int64_t> send_times_;
  std::unordered_set<std::uint64_t> delivered_ids_;  // delivery_key of every delivery
  engine::RequestId next_request_ = 1;
  bool counting_window_ = false;
  std::uint64_t delivered_in_window_ = 0;
  Clock::time_point started_ = Clock::now();
  Clock::time_point last_progress_ = Clock::now();
  std::optional<CpuTicks> cpu_at_send_;  // the node's CPU time when the send window opened
  Clock::time_point cpu_at_send_time_;
  std::optional<CpuTicks> last_cpu_;  // ... at the last progress line, for its CPU %
  Clock::time_point last_cpu_time_;

  friend class Connection;
};

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

// ---- The run ---------------------------------------------------------------------------------

void Load::on_welcome(Connection&) {
  ++welcomed_;
}

void Load::on_deliver(Connection& connection, const server::Deliver& deliver) {
  const std::int64_t now = now_ns();
  for (const auto& entry : deliver.entries) {
    const auto& message = entry.message;
    if (message.kind != engine::MessageKind::text || message.sender == connection.user) continue;
    // The same message twice on a connection, whatever its inbox seq: stored twice.
    const auto key = delivery_key(connection.index(), message.client_msg_id);
    if (key && !delivered_ids_.insert(*key).second) {
      ++report_.delivered_twice;
      continue;
    }
    ++report_.delivered;
    if (counting_window_) ++delivered_in_window_;
    const auto space = message.text.find(' ');
    const std::int64_t sent_at = std::stoll(message.text.substr(0, space));
    const auto micros = static_cast<std::uint32_t>(std::max<std::int64_t>(0, now - sent_at) / 1000);
    delivery_us_.push_back(micros);
    second_us_.push_back(micros);
  }
}

void Load::on_send_ack(Connection& connection, const server::SendAck& ack) {
  if (config_.discover) {
    // Each message counts once, at its first ack. A duplicate is a resend of a message
    // that landed before its connection died: it is delivered all the same.
    if (!connection.settle(ack.request)) return;
    ++report_.acked;
    report_.duplicates += ack.duplicate ? 1 : 0;
    report_.expected_deliveries += recipients_per_message_;
  } else {
    ++report_.acked;
    if (ack.duplicate) {
      ++report_.duplicates;
    } else {
      report_.expected_deliveries += recipients_per_message_;
    }
  }
  const auto sent = send_times_.find(ack.request);
  if (sent == send_times_.end()) return;
  ack_us_.push_back(static_cast<std::uint32_t>((now_ns() - sent->second) / 1000));
  send_times_.erase(sent);
}

void Load::on_failure(Connection& connection, const server::Failure& failure) {
  // Through a cluster, a node that stopped leading refuses and then closes: nothing was
  // done, and the reconnect resends. `overloaded` (a queue past its delay bound, as a new
  // leader's is while it catches up) changed nothing either: resend on this connection
  // after a pause, as an app backs off (a node shutting down closes the socket as well).
  if (config_.discover && failure.code == engine::ErrorCode::not_leader) {
    return connection.fail(std::string(engine::to_string(failure.code)));
  }
  if (config_.discover && failure.code == engine::ErrorCode::overloaded) {
    ++report_.disconnects_by_kind["overloaded (resent)"];
    return connection.resend_later();
  }
  on_error(std::string(engine::to_string(failure.code)));
}

void Load::on_group_created(Connection& connection, const server::GroupCreated& created) {
  ++groups_created_;
  const std::size_t first = connection.index();
  for (std::size_t i = first; i < first + config_.group_size && i < connections_.size(); ++i)
    connections_[i]->channel = created.channel;
}

std::string Load::message_text(std::int64_t sent_at) const {
  std::string text = std::to_string(sent_at) + " ";
  text.resize(config_.text_bytes, 'x');
  return text;
}

void Load::send_one(Connection& sender) {
  // With --discover a connection waiting to reconnect still takes its sends: they go out
  // after its welcome with the other unacked ones.
  if (!sender.alive() && !(config_.discover && sender.ever_welcomed())) return;
  const engine::RequestId request = next_request_++;
  const std::int64_t sent_at = now_ns();
  send_times_[request] = sent_at;
  client::Send send{
      request, sender.channel, sender.channel == 0 ? sender.peer : 0,
      "l" + std::to_string(sender.index()) + "-" + std::to_string(sender.next_message++),
      message_text(sent_at)};
  if (config_.discover) sender.track(send);
  sender.send(client::Request{std::move(send)});
  ++report_.sent;
}

void Load::heartbeat_all() {
  for (auto& connection : connections_)
    if (connection->welcomed()) connection->send(client::Request{client::Heartbeat{}});
  heartbeat_.expires_after(std::chrono::microseconds(heartbeat_interval_us_));
  heartbeat_.async_wait([this](beast::error_code error) {
    if (!error) heartbeat_all();
  });
}

void Load::report_progress(const std::string& phase, std::size_t done, std::size_t target) {
  if (Clock::now() - last_progress_ < std::chrono::seconds(1)) return;
  last_progress_ = Clock::now();
  LoadProgress progress;
  progress.phase = phase;
  progress.elapsed_s = seconds_since(started_);
  progress.done = done;
  progress.target = target;
  progress.sent = report_.sent;
  progress.delivered = report_.delivered;
  progress.errors = report_.errors;
  const auto second = summarize(second_us_);
  progress.p99_ms = second.p99_ms;
  progress.p50_ms = second.p50_ms;
  second_us_.clear();
  const auto now = Clock::now();
  const auto cpu = read_node_cpu(config_.node_pid);
  const double wall_s = std::chrono::duration<double>(now - last_cpu_time_).count();
  if (cpu && last_cpu_ && wall_s > 0) {
    const auto ticks = (cpu->user + cpu->system) - (last_cpu_->user + last_cpu_->system);
    progress.node_cpu_percent = 100 * ticks_to_s(ticks) / wall_s;
  }
  last_cpu_ = cpu;
  last_cpu_time_ = now;
  progress_(progress);
}

// Runs the io_context in short slices until `done` or the timeout.
void Load::run_until(const std::function<bool()>& done, double timeout_s,
                     const std::string& phase) {
  const auto start = Clock::now();
  while (!done() && seconds_since(start) < timeout_s) {
    io_.run_for(std::chrono::milliseconds(5));
    report_progress(phase, phase == "connect" ? welcomed_ : 0,
                    phase == "connect" ? connections_.size() : 0);
  }
}

void Load::open_connections(const std::vector<LoadAccount>& accounts) {
  const tcp::endpoint server(asio::ip::make_address(config_.host), config_.port);
  const auto started = Clock::now();
  std::size_t next = 0;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    connections_.push_back(std::make_shared<Connection>(*this, i, io_));
    connections_.back()->user = accounts[i].user;
  }
  // Keep a bounded number of handshakes in flight, as a fleet of reconnecting phones would.
  const auto settled = [&] { return welcomed_ + lost_connections_; };
  const double timeout_s = 60 + static_cast<double>(connections_.size()) / 100;
  while (settled() < connections_.size() && seconds_since(started) < timeout_s) {
    while (next < connections_.size() && next - settled() < config_.connect_concurrency) {
      const auto source = asio::ip::address_v4(
          0x7F000001u + static_cast<std::uint32_t>(next % config_.source_addresses));
      // Through a cluster: spread over the gateways discovery names, round robin.
      const auto node = discovery_ ? discovery_->pick().value_or(server) : server;
      connections_[next]->start(node, source, accounts[next].token);
      ++next;
    }
    io_.run_for(std::chrono::milliseconds(5));
    report_progress("connect", welcomed_, connections_.size());
  }
  report_.connected = welcomed_;
  report_.connect_s = seconds_since(started);
  report_.connect_rate = static_cast<double>(welcomed_) / std::max(report_.connect_s, 1e-9);
}

void Load::create_groups() {
  std::size_t groups = 0;
  for (std::size_t first = 0; first + config_.group_size <= connections_.size();
       first += config_.group_size) {
    client::CreateGroup create{next_request_++, "load group " + std::to_string(groups), {}};
    for (std::size_t i = first + 1; i < first + config_.group_size; ++i)
      create.members.push_back(connections_[i]->user);
    connections_[first]->send(client::Request{std::move(create)});
    ++groups;
  }
  run_until([&] { return groups_created_ == groups; }, 60, "groups");
  if (groups_created_ != groups) on_error("groups not created in time");
  recipients_per_message_ = config_.group_size - 1;
}

void Load::send_traffic() {
  std::vector<Connection*> senders;
  for (auto& connection : connections_) {
    if (connection->welcomed() && (connection->channel != 0 || connection->peer != 0))
      senders.push_back(connection.get());
  }
  cpu_at_send_ = read_node_cpu(config_.node_pid);
  cpu_at_send_time_ = Clock::now();
  if (senders.empty() || config_.rate <= 0 || config_.duration_s <= 0) return;
  const auto start = Clock::now();
  counting_window_ = true;
  std::uint64_t due_total = 0;
  std::size_t next_sender = 0;
  while (seconds_since(start) < config_.duration_s) {
    const auto due = static_cast<std::uint64_t>(seconds_since(start) * config_.rate);
    for (; due_total < due; ++due_total) {
      send_one(*senders[next_sender]);
      next_sender = (next_sender + 1) % senders.size();
    }
    io_.poll();
    report_progress("send", 0, 0);
    if (due_total >= due) io_.run_for(std::chrono::microseconds(500));
  }
  counting_window_ = false;
  report_.send_window_s = seconds_since(start);
}

// The node's CPU time from the start of the send window to now (the end of the drain), per
// delivery and per message sent so far.
void Load::measure_node_cpu() {
  const auto end = read_node_cpu(config_.node_pid);
  if (!cpu_at_send_ || !end) return;
  NodeCpu cpu;
  cpu.window_s = seconds_since(cpu_at_send_time_);
  cpu.user_s = ticks_to_s(end->user - cpu_at_send_->user);
  cpu.system_s = ticks_to_s(end->system - cpu_at_send_->system);
  const auto per = [](double seconds, std::uint64_t count) {
    return count == 0 ? 0.0 : seconds * 1e6 / static_cast<double>(count);
  };
  cpu.us_per_delivered = per(cpu.user_s + cpu.system_s, report_.delivered);
  cpu.user_us_per_delivered = per(cpu.user_s, report_.delivered);
  cpu.system_us_per_delivered = per(cpu.system_s, report_.delivered);
  cpu.us_per_sent = per(cpu.user_s + cpu.system_s, report_.sent);
  report_.node_cpu = cpu;
}

// --discover: every connection that was welcomed once is welcomed again now.
bool Load::all_reconnected() const {
  if (!config_.discover) return true;
  return std::all_of(connections_.begin(), connections_.end(), [](const auto& connection) {
    return !connection->ever_welcomed() || connection->welcomed();
  });
}

void Load::drain() {
  run_until(
      [&] {
        return report_.acked == report_.sent && report_.delivered >= report_.expected_deliveries &&
               all_reconnected();
      },
      config_.drain_s, "drain");
  if (!config_.discover) return;
  // A copy stored twice would arrive after the last expected delivery: wait a little more.
  run_until([] { return false; }, 0.3, "drain");
  for (const auto& connection : connections_) {
    if (connection->ever_welcomed() && !connection->welcomed())
      on_error("not reconnected by the end of the drain");
  }
}

LoadReport Load::run() {
  report_.config = config_;
  const std::string prefix = config_.name_prefix.empty() ? random_prefix() : config_.name_prefix;
  const auto setup_started = Clock::now();
  const auto accounts = set_up_accounts(config_, prefix, [&](std::size_t done) {
    LoadProgress progress;
    progress.phase = "setup";
    progress.elapsed_s = seconds_since(started_);
    progress.done = done;
    progress.target = config_.connections;
    progress_(progress);
  });
  report_.setup_s = seconds_since(setup_started);
  if (config_.discover) {
    discovery_ = std::make_unique<GatewayDiscovery>(config_.host, config_.port);
    if (!discovery_->wait_ready(std::chrono::seconds(30))) {
      throw std::runtime_error("/v1/discover on " + config_.host + ":" +
                               std::to_string(config_.port) + " named no gateway within 30 s");
    }
  }

  const auto before = read_node_memory(config_.node_pid);
  last_cpu_ = read_node_cpu(config_.node_pid);  // the first progress line's CPU % starts here
  last_cpu_time_ = Clock::now();
  open_connections(accounts);
  // Pair users for 1:1 traffic: 0<->1, 2<->3, ... (an odd one out talks to user 0).
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    const std::size_t partner = (i ^ 1) < connections_.size() ? (i ^ 1) : 0;
    connections_[i]->peer = connections_[partner]->user;
  }
  heartbeat_all();
  run_until([] { return false; }, config_.idle_s, "idle");
  const auto after = read_node_memory(config_.node_pid);
  report_.node_rss_before = before.rss;
  report_.node_rss_after = after.rss;
  report_.node_anon_before = before.anon;
  report_.node_anon_after = after.anon;
  if (report_.connected > 0 && after.anon > before.anon) {
    report_.node_bytes_per_connection =
        static_cast<double>(after.anon - before.anon) / static_cast<double>(report_.connected);
  }

  if (config_.group_size > 0) create_groups();
  send_traffic();
  drain();
  measure_node_cpu();
  heartbeat_.cancel();
  for (auto& connection : connections_)
    connection->close();
  io_.run_for(std::chrono::milliseconds(100));

  if (report_.send_window_s > 0) {
    report_.delivered_per_s = static_cast<double>(delivered_in_window_) / report_.send_window_s;
    report_.acked_per_s = static_cast<double>(report_.acked) / report_.send_window_s;
  }
  report_.delivery = summarize(delivery_us_);
  report_.ack = summarize(ack_us_);
  if (report_.connected < connections_.size()) {
    report_.errors_by_kind["not connected"] += connections_.size() - report_.connected;
    report_.errors += connections_.size() - report_.connected;
  }
  report_.wall_s = seconds_since(started_);
  return report_;
}

}  // namespace

LoadReport run_load(const LoadConfig& config,
                    const std::function<void(const LoadProgress&)>& progress) {
  check_bounds(config);
  Load load(config, progress);
  return load.run();
}

}  // namespace parley::net
