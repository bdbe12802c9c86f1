// parley load's insides (net/client/load.hpp is the interface): one Connection per device,
// driven by the Load run on one io_context thread. load.cpp runs the load; load_connection.cpp
// is a connection's socket, reconnects and resends.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "net/client/load.hpp"
#include "net/client/load_accounts.hpp"
#include "net/client/load_discovery.hpp"
#include "net/client/load_measure.hpp"

namespace parley::net::load_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
namespace client = engine::client;
namespace server = engine::server;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
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

}  // namespace parley::net::load_internal
