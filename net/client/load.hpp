// `parley load`: a load generator for a parley node on this machine.
//
// It signs up and logs in one user per connection, opens every WebSocket (spreading source
// addresses over 127.0.0.0/8, so that no one address runs out of ports or hits the node's
// per-address limit), heartbeats like a real client, then sends 1:1 or group messages at a
// target rate for a fixed time and waits for them to be delivered. Each message carries its
// send time; the receiver is in the same process, so one clock times the delivery.
// Everything is bounded: connections, duration and rate have hard caps, and only loopback
// addresses are accepted.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "net/wire/codec.hpp"

namespace parley::net {

struct LoadConfig {
  std::string host = "127.0.0.1";  // must be a loopback address
  std::uint16_t port = 8080;
  std::size_t connections = 100;      // one user, one device, one WebSocket each
  double duration_s = 10;             // how long messages are sent
  double rate = 1000;                 // messages per second, over all senders; 0: idle
  std::size_t group_size = 0;         // 0: 1:1 pairs; else groups of this many members
  std::size_t source_addresses = 16;  // 127.0.0.1 .. 127.0.0.N
  std::size_t connect_concurrency = 256;
  std::size_t setup_threads = 4;
  std::size_t text_bytes = 64;  // length of each message's text
  double drain_s = 10;          // after sending, wait at most this long for deliveries
  double idle_s = 2;            // idle time before the node's memory is read
  Encoding encoding = Encoding::binary;
  int node_pid = 0;  // read the node's memory and CPU time from /proc when set
  std::string password = "load-password";
  std::string name_prefix;  // users are PREFIX0, PREFIX1, ...; empty: a random prefix
  // A cluster (docs/load.md, "Through a cluster"): every connection goes to a gateway that
  // /v1/discover on host:port names, and a connection lost after its welcome reconnects
  // through discovery (hello with its cursor) and resends its unacked sends under the same
  // clientMsgId, as an app does. Lost connections are then counted, not errors.
  bool discover = false;
};

struct LatencySummary {
  std::size_t samples = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double p999_ms = 0;
  double max_ms = 0;
};

// The node's CPU time (/proc/PID/stat utime and stime, all its threads) from the start of the
// send window to the end of the drain, and per message. A per-message figure is 0 when
// nothing was delivered (or sent).
struct NodeCpu {
  double window_s = 0;  // wall time between the two readings
  double user_s = 0;
  double system_s = 0;
  double us_per_delivered = 0;  // (user + system) µs / deliveries (one per group recipient)
  double user_us_per_delivered = 0;
  double system_us_per_delivered = 0;
  double us_per_sent = 0;  // (user + system) µs / messages sent
};

struct LoadReport {
  LoadConfig config;
  double setup_s = 0;  // sign-ups and logins
  std::size_t connected = 0;
  double connect_s = 0;
  double connect_rate = 0;  // WebSockets welcomed per second
  // The node's memory before the WebSockets and after they are open and idle (/proc).
  std::uint64_t node_rss_before = 0;
  std::uint64_t node_rss_after = 0;
  std::uint64_t node_anon_before = 0;
  std::uint64_t node_anon_after = 0;
  double node_bytes_per_connection = 0;  // growth of anonymous memory / connections
  std::uint64_t sent = 0;
  std::uint64_t acked = 0;       // sendAcks: durable
  std::uint64_t duplicates = 0;  // sendAcks marked duplicate (never expected)
  std::uint64_t expected_deliveries = 0;
  std::uint64_t delivered = 0;    // text deliveries to recipients other than the sender
  std::uint64_t redelivered = 0;  // inbox entries received twice on a connection
  // Inbox entries that did not follow the connection's last one (inbox seq + 1): a gap or
  // an entry out of order.
  std::uint64_t out_of_order = 0;
  // Messages a connection received twice under different inbox seqs (by the sender's
  // clientMsgId): stored twice. Not counted in `delivered`.
  std::uint64_t delivered_twice = 0;
  std::uint64_t reconnects = 0;  // --discover: connection attempts lost after a first welcome
  std::map<std::string, std::uint64_t> disconnects_by_kind;  // --discover: why they were lost
  double send_window_s = 0;                                  // the time spent sending
  double delivered_per_s = 0;  // deliveries in the send window / send_window_s
  double acked_per_s = 0;
  LatencySummary delivery;          // send to receipt by a recipient
  LatencySummary ack;               // send to sendAck
  std::optional<NodeCpu> node_cpu;  // none without a node pid (or /proc unreadable)
  std::uint64_t errors = 0;
  std::map<std::string, std::uint64_t> errors_by_kind;  // failure codes, disconnects
  double wall_s = 0;
  bool complete() const {
    return errors == 0 && delivered == expected_deliveries && acked == sent && redelivered == 0 &&
           out_of_order == 0 && delivered_twice == 0;
  }
};

// One progress line a second while running.
struct LoadProgress {
  std::string phase;  // "setup", "connect", "idle", "send", "drain"
  double elapsed_s = 0;
  std::size_t done = 0;  // accounts set up or connections open
  std::size_t target = 0;
  std::uint64_t sent = 0;
  std::uint64_t delivered = 0;
  std::uint64_t errors = 0;
  double p99_ms = 0;  // of the last second's deliveries
  double p50_ms = 0;  // of the last second's deliveries
  // The node's CPU time over the last second / that second, in percent of one core (it can
  // exceed 100 with several threads); none without a node pid.
  std::optional<double> node_cpu_percent;
};

// Throws std::invalid_argument for a config outside the bounds (non-loopback host, too many
// connections...) and std::runtime_error when the node cannot be reached.
LoadReport run_load(const LoadConfig& config,
                    const std::function<void(const LoadProgress&)>& progress);

std::string to_json(const LoadReport& report);

}  // namespace parley::net
