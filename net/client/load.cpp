#include "net/client/load.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <unordered_set>
#include <vector>

#include "net/client/load_accounts.hpp"
#include "net/client/load_discovery.hpp"
#include "net/client/load_measure.hpp"

#include "net/client/load_internal.hpp"

namespace parley::net {
namespace load_internal {
namespace {

constexpr std::size_t kMaxConnections = 100'000;
constexpr double kMaxDurationS = 3600;
constexpr double kMaxRate = 10'000'000;

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

}  // namespace

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

}  // namespace load_internal

LoadReport run_load(const LoadConfig& config,
                    const std::function<void(const LoadProgress&)>& progress) {
  load_internal::check_bounds(config);
  load_internal::Load load(config, progress);
  return load.run();
}

}  // namespace parley::net
