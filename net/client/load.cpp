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
#include <deque>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "net/client/load_accounts.hpp"

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

// ---- /proc ---------------------------------------------------------------------------------

struct NodeMemory {
  std::uint64_t rss = 0;
  std::uint64_t anon = 0;
};

NodeMemory read_node_memory(int pid) {
  NodeMemory memory;
  if (pid <= 0) return memory;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  std::uint64_t kib = 0;
  std::string unit;
  while (status >> key) {
    if (key == "VmRSS:" || key == "RssAnon:") {
      status >> kib >> unit;
      (key == "VmRSS:" ? memory.rss : memory.anon) = kib * 1024;
    } else {
      status.ignore(1 << 16, '\n');
    }
  }
  return memory;
}

// The node's CPU time so far: utime and stime, fields 14 and 15 of /proc/PID/stat, in clock
// ticks, summed over its threads. None without a pid or when the file cannot be read.
struct CpuTicks {
  std::uint64_t user = 0;
  std::uint64_t system = 0;
};

std::optional<CpuTicks> read_node_cpu(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // Field 2, the command name, is in parentheses and may itself hold spaces and ')'.
  const auto name_end = stat.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(name_end + 1));
  std::string skipped;
  for (int field = 3; field < 14; ++field)
    fields >> skipped;
  CpuTicks ticks;
  if (!(fields >> ticks.user >> ticks.system)) return std::nullopt;
  return ticks;
}

double ticks_to_s(std::uint64_t ticks) {
  static const long per_second = ::sysconf(_SC_CLK_TCK);
  return static_cast<double>(ticks) / static_cast<double>(per_second > 0 ? per_second : 100);
}

// ---- Latencies -----------------------------------------------------------------------------

LatencySummary summarize(std::vector<std::uint32_t>& micros) {
  LatencySummary summary;
  summary.samples = micros.size();
  if (micros.empty()) return summary;
  std::sort(micros.begin(), micros.end());
  const auto at = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(micros.size() - 1));
    return static_cast<double>(micros[index]) / 1000.0;
  };
  summary.p50_ms = at(0.50);
  summary.p99_ms = at(0.99);
  summary.p999_ms = at(0.999);
  summary.max_ms = static_cast<double>(micros.back()) / 1000.0;
  return summary;
}

// ---- The WebSockets ---------------------------------------------------------------------------

class Load;

// One device's connection. All of it runs on the one io_context thread.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Load& load, std::size_t index, asio::io_context& io)
      : load_(load), index_(index), ws_(io) {}

  void start(const tcp::endpoint& node, const asio::ip::address_v4& source,
             const std::string& token);
  void send(const ClientFrame& frame);
  bool welcomed() const { return welcomed_; }
  bool alive() const { return alive_; }
  std::size_t index() const { return index_; }
  void close();

  engine::ChannelId channel = 0;  // the group this connection sends to (group traffic)
  engine::UserId peer = 0;        // the user it sends to (1:1 traffic)
  engine::UserId user = 0;
  std::uint64_t next_message = 0;

 private:
  void on_connected(const std::string& token);
  void read();
  void on_frame(std::size_t bytes);
  void write_next();
  void fail(const std::string& kind);

  Load& load_;
  std::size_t index_;
  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  bool writing_ = false;
  bool welcomed_ = false;
  bool alive_ = true;
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
  void on_send_ack(const server::SendAck& ack);
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
  void measure_node_cpu();
  void run_until(const std::function<bool()>& done, double timeout_s, const std::string& phase);
  void send_one(Connection& sender);
  void heartbeat_all();
  void report_progress(const std::string& phase, std::size_t done, std::size_t target);
  std::string message_text(std::int64_t sent_at) const;

  LoadConfig config_;
  std::function<void(const LoadProgress&)> progress_;
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
  auto& socket = ws_.next_layer();
  socket.open(tcp::v4());
#ifdef IP_BIND_ADDRESS_NO_PORT
  // Pick the port at connect time, per destination: many more connections per address.
  const int one = 1;
  ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
  socket.bind(tcp::endpoint(source, 0));
  socket.async_connect(node, [self = shared_from_this(), token](beast::error_code error) {
    if (error) return self->fail("connect: " + error.message());
    self->on_connected(token);
  });
}

void Connection::on_connected(const std::string& token) {
  beast::error_code ignored;
  ws_.next_layer().set_option(tcp::no_delay(true), ignored);  // as a phone's stack would
  ws_.binary(load_.encoding() == Encoding::binary);
  ws_.read_message_max(64 << 20);
  ws_.async_handshake(load_.config_.host, "/v1/ws?token=" + token,
                      [self = shared_from_this()](beast::error_code error) {
                        if (error) return self->fail("handshake: " + error.message());
                        self->send(Hello{1, 0});
                        self->read();
                      });
}

void Connection::read() {
  ws_.async_read(buffer_, [self = shared_from_this()](beast::error_code error, std::size_t bytes) {
    if (error) {
      if (self->alive_) self->fail("read: " + error.message());
      return;
    }
    self->on_frame(bytes);
    self->read();
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
    welcomed_ = true;
    user = welcome->user;
    load_.heartbeat_interval_us_ = welcome->heartbeat_interval_us;
    load_.on_welcome(*this);
  } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (const auto& entry : deliver->entries) {
      if (entry.inbox_seq <= last_seen_) ++load_.report_.redelivered;
      last_seen_ = std::max(last_seen_, entry.inbox_seq);
    }
    load_.on_deliver(*this, *deliver);
    if (!deliver->entries.empty()) send(client::Request{client::Ack{last_seen_}});
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    load_.on_send_ack(*ack);
  } else if (const auto* created = std::get_if<server::GroupCreated>(&event)) {
    load_.on_group_created(*this, *created);
  } else if (const auto* failure = std::get_if<server::Failure>(&event)) {
    load_.on_error(std::string(engine::to_string(failure->code)));
  }
}

void Connection::send(const ClientFrame& frame) {
  if (!alive_) return;
  outbox_.push_back(encode_client_frame(frame, load_.encoding()));
  if (!writing_) write_next();
}

void Connection::write_next() {
  if (outbox_.empty() || !alive_) {
    writing_ = false;
    return;
  }
  writing_ = true;
  ws_.async_write(asio::buffer(outbox_.front()),
                  [self = shared_from_this()](beast::error_code error, std::size_t) {
                    if (error) return self->fail("write: " + error.message());
                    self->outbox_.pop_front();
                    self->write_next();
                  });
}

void Connection::fail(const std::string& kind) {
  if (!alive_) return;
  alive_ = false;
  load_.on_connection_lost();
  load_.on_error(kind);
  beast::error_code ignored;
  ws_.next_layer().close(ignored);
}

void Connection::close() {
  if (!alive_) return;
  alive_ = false;
  beast::error_code ignored;
  ws_.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
  ws_.next_layer().close(ignored);
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
    ++report_.delivered;
    if (counting_window_) ++delivered_in_window_;
    const auto space = message.text.find(' ');
    const std::int64_t sent_at = std::stoll(message.text.substr(0, space));
    const auto micros = static_cast<std::uint32_t>(std::max<std::int64_t>(0, now - sent_at) / 1000);
    delivery_us_.push_back(micros);
    second_us_.push_back(micros);
  }
}

void Load::on_send_ack(const server::SendAck& ack) {
  ++report_.acked;
  if (ack.duplicate) {
    ++report_.duplicates;
  } else {
    report_.expected_deliveries += recipients_per_message_;
  }
  const auto sent = send_times_.find(ack.request);
  if (sent == send_times_.end()) return;
  ack_us_.push_back(static_cast<std::uint32_t>((now_ns() - sent->second) / 1000));
  send_times_.erase(sent);
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
  if (!sender.alive()) return;
  const engine::RequestId request = next_request_++;
  const std::int64_t sent_at = now_ns();
  send_times_[request] = sent_at;
  client::Send send{
      request, sender.channel, sender.channel == 0 ? sender.peer : 0,
      "l" + std::to_string(sender.index()) + "-" + std::to_string(sender.next_message++),
      message_text(sent_at)};
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
  const tcp::endpoint node(asio::ip::make_address(config_.host), config_.port);
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

void Load::drain() {
  run_until(
      [&] {
        return report_.acked == report_.sent && report_.delivered >= report_.expected_deliveries;
      },
      config_.drain_s, "drain");
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

json::object latency_json(const LatencySummary& summary) {
  return {{"samples", summary.samples},
          {"p50_ms", summary.p50_ms},
          {"p99_ms", summary.p99_ms},
          {"p999_ms", summary.p999_ms},
          {"max_ms", summary.max_ms}};
}

json::value node_cpu_json(const std::optional<NodeCpu>& cpu) {
  if (!cpu) return nullptr;
  return json::object{{"window_s", cpu->window_s},
                      {"user_s", cpu->user_s},
                      {"system_s", cpu->system_s},
                      {"us_per_delivered", cpu->us_per_delivered},
                      {"user_us_per_delivered", cpu->user_us_per_delivered},
                      {"system_us_per_delivered", cpu->system_us_per_delivered},
                      {"us_per_sent", cpu->us_per_sent}};
}

}  // namespace

LoadReport run_load(const LoadConfig& config,
                    const std::function<void(const LoadProgress&)>& progress) {
  check_bounds(config);
  Load load(config, progress);
  return load.run();
}

std::string to_json(const LoadReport& report) {
  const auto& config = report.config;
  json::object errors;
  for (const auto& [kind, count] : report.errors_by_kind)
    errors[kind] = count;
  json::object out{
      {"config",
       {{"server", config.host + ":" + std::to_string(config.port)},
        {"connections", config.connections},
        {"duration_s", config.duration_s},
        {"rate", config.rate},
        {"traffic", config.group_size == 0 ? "1:1" : "group"},
        {"group_size", config.group_size},
        {"encoding", config.encoding == Encoding::binary ? "binary" : "json"},
        {"text_bytes", config.text_bytes},
        {"source_addresses", config.source_addresses}}},
      {"setup_s", report.setup_s},
      {"connected", report.connected},
      {"connect_s", report.connect_s},
      {"connects_per_s", report.connect_rate},
      {"node_memory",
       {{"rss_before_bytes", report.node_rss_before},
        {"rss_after_bytes", report.node_rss_after},
        {"anon_before_bytes", report.node_anon_before},
        {"anon_after_bytes", report.node_anon_after},
        {"bytes_per_connection", report.node_bytes_per_connection}}},
      {"sent", report.sent},
      {"acked", report.acked},
      {"duplicate_acks", report.duplicates},
      {"expected_deliveries", report.expected_deliveries},
      {"delivered", report.delivered},
      {"redelivered", report.redelivered},
      {"send_window_s", report.send_window_s},
      {"delivered_per_s", report.delivered_per_s},
      {"acked_per_s", report.acked_per_s},
      {"delivery_latency", latency_json(report.delivery)},
      {"ack_latency", latency_json(report.ack)},
      {"node_cpu", node_cpu_json(report.node_cpu)},
      {"errors", report.errors},
      {"errors_by_kind", errors},
      {"complete", report.complete()},
      {"wall_s", report.wall_s},
  };
  return json::serialize(out);
}

}  // namespace parley::net
