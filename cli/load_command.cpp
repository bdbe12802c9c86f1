#include "cli/load_command.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>

#include "net/client/load.hpp"

namespace parley::cli {
namespace {

struct LoadOptions {
  net::LoadConfig config;
  std::string server = "127.0.0.1:8080";
  std::string encoding = "binary";
  bool spawn_node = false;
  std::vector<std::string> node_args;
  bool quiet = false;
};

// A node of our own on a free loopback port, with password hashing cheap enough to sign up
// thousands of users, killed with SIGTERM when the run ends.
class SpawnedNode {
 public:
  explicit SpawnedNode(const std::vector<std::string>& extra) {
    char pattern[] = "/tmp/parley-load-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    const std::string port_file = dir_ + "/port";
    std::vector<std::string> args{"/proc/self/exe",
                                  "serve",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--port-file",
                                  port_file,
                                  "--data",
                                  dir_ + "/data",
                                  "--argon2-opslimit",
                                  "1",
                                  "--argon2-memlimit-kib",
                                  "8",
                                  "--max-connections-per-address",
                                  "100000",
                                  "--login-attempts-per-minute",
                                  "1000000"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::freopen((dir_ + "/node.log").c_str(), "w", stderr);
      std::vector<char*> argv;
      for (auto& arg : args)
        argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv("/proc/self/exe", argv.data());
      std::_Exit(127);
    }
    for (int i = 0; i < 400 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      if (!(in >> port_)) port_ = 0;
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    if (port_ == 0) throw std::runtime_error("the spawned node did not start; see " + dir_);
  }
  ~SpawnedNode() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::uint16_t port() const { return port_; }
  int pid() const { return pid_; }

 private:
  std::string dir_;
  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
};

void print_progress(const net::LoadProgress& p) {
  if (p.phase == "setup" || p.phase == "connect") {
    std::fprintf(stderr, "[%6.1fs] %-7s %zu/%zu\n", p.elapsed_s, p.phase.c_str(), p.done, p.target);
  } else {
    // The node's CPU over the last second only when its pid is known (--spawn-node, --node-pid).
    char cpu[48] = "";
    if (p.node_cpu_percent) std::snprintf(cpu, sizeof cpu, " node cpu=%.0f%%", *p.node_cpu_percent);
    std::fprintf(
        stderr,
        "[%6.1fs] %-7s sent=%llu delivered=%llu errors=%llu p50/p99(last s)=%.2f/%.2fms%s\n",
        p.elapsed_s, p.phase.c_str(), static_cast<unsigned long long>(p.sent),
        static_cast<unsigned long long>(p.delivered), static_cast<unsigned long long>(p.errors),
        p.p50_ms, p.p99_ms, cpu);
  }
}

// The node's CPU time per delivered message, from the send window's start to the drain's end.
std::string node_cpu_line(const net::LoadReport& r) {
  if (!r.node_cpu) return "node CPU unknown: no node pid (--spawn-node or --node-pid)\n";
  const auto& cpu = *r.node_cpu;
  char line[256];
  std::snprintf(line, sizeof line,
                "node CPU %.1fus per delivered message (user %.1fus, kernel %.1fus), %.1fus per "
                "message sent; %.2fs user + %.2fs kernel in %.1fs\n",
                cpu.us_per_delivered, cpu.user_us_per_delivered, cpu.system_us_per_delivered,
                cpu.us_per_sent, cpu.user_s, cpu.system_s, cpu.window_s);
  return line;
}

void print_summary(const net::LoadReport& r) {
  std::fprintf(stderr,
               "connected %zu in %.2fs (%.0f/s); node memory %.0f bytes per idle connection\n"
               "sent %llu, acked %llu, delivered %llu of %llu expected, %.0f deliveries/s, "
               "%.0f acks/s\n"
               "%s"
               "delivery latency p50 %.2fms p99 %.2fms p99.9 %.2fms max %.2fms; errors %llu%s\n",
               r.connected, r.connect_s, r.connect_rate, r.node_bytes_per_connection,
               static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.acked),
               static_cast<unsigned long long>(r.delivered),
               static_cast<unsigned long long>(r.expected_deliveries), r.delivered_per_s,
               r.acked_per_s, node_cpu_line(r).c_str(), r.delivery.p50_ms, r.delivery.p99_ms,
               r.delivery.p999_ms, r.delivery.max_ms, static_cast<unsigned long long>(r.errors),
               r.complete() ? "" : " -- INCOMPLETE");
  if (r.config.discover || r.redelivered > 0 || r.out_of_order > 0 || r.delivered_twice > 0) {
    std::fprintf(
        stderr,
        "exactly once: %llu redelivered, %llu stored twice, %llu out of order; %llu duplicate acks "
        "(resends of sends that had landed); %llu reconnects\n",
        static_cast<unsigned long long>(r.redelivered),
        static_cast<unsigned long long>(r.delivered_twice),
        static_cast<unsigned long long>(r.out_of_order),
        static_cast<unsigned long long>(r.duplicates),
        static_cast<unsigned long long>(r.reconnects));
  }
}

int run(LoadOptions& options) {
  auto& config = options.config;
  config.encoding = options.encoding == "json" ? net::Encoding::json : net::Encoding::binary;
  std::optional<SpawnedNode> node;
  if (options.spawn_node) {
    node.emplace(options.node_args);
    config.host = "127.0.0.1";
    config.port = node->port();
    config.node_pid = node->pid();
  } else {
    const auto colon = options.server.rfind(':');
    if (colon == std::string::npos) throw std::invalid_argument("--server takes HOST:PORT");
    config.host = options.server.substr(0, colon);
    if (config.host == "localhost") config.host = "127.0.0.1";
    config.port = static_cast<std::uint16_t>(std::stoul(options.server.substr(colon + 1)));
  }
  const auto report = net::run_load(config, [&](const net::LoadProgress& progress) {
    if (!options.quiet) print_progress(progress);
  });
  print_summary(report);
  std::cout << net::to_json(report) << std::endl;
  return report.complete() ? 0 : 1;
}

}  // namespace

void add_load_command(CLI::App& app) {
  auto options = std::make_shared<LoadOptions>();
  auto& config = options->config;
  auto* load = app.add_subcommand(
      "load",
      "Drive a node on this machine with many authenticated WebSockets and 1:1 or group "
      "traffic; print progress, then a JSON summary (docs/load.md). Exit 1 if any message was "
      "lost or any error was seen");
  load->add_option("--server", options->server, "HOST:PORT of the node (loopback only)")
      ->capture_default_str();
  load->add_flag("--spawn-node", options->spawn_node,
                 "Start a node of our own on a free port (cheap password hashing, fresh store) "
                 "and measure its memory and CPU time");
  load->add_option("--node-arg", options->node_args,
                   "Extra flag for the spawned node (repeat: --node-arg=--batch-max=512)");
  load->add_option("--node-pid", config.node_pid,
                   "PID of the node given by --server, to read its memory and CPU time from /proc");
  load->add_option("--connections", config.connections, "WebSockets, one user each")
      ->capture_default_str();
  load->add_option("--duration", config.duration_s, "Seconds of sending (at most 3600)")
      ->capture_default_str();
  load->add_option("--rate", config.rate, "Messages per second over all senders (0: idle)")
      ->capture_default_str();
  load->add_option("--group-size", config.group_size,
                   "0: 1:1 pairs; N: groups of N members, every member sends to its group")
      ->capture_default_str();
  load->add_option("--encoding", options->encoding, "Frame encoding")
      ->check(CLI::IsMember({"binary", "json"}))
      ->capture_default_str();
  load->add_option("--text-bytes", config.text_bytes, "Length of each message")
      ->capture_default_str();
  load->add_option("--source-addresses", config.source_addresses,
                   "Spread connections over 127.0.0.1..127.0.0.N")
      ->capture_default_str();
  load->add_option("--connect-concurrency", config.connect_concurrency,
                   "Handshakes in flight at once")
      ->capture_default_str();
  load->add_option("--setup-threads", config.setup_threads,
                   "Threads signing up and logging in users")
      ->capture_default_str();
  load->add_option("--idle", config.idle_s,
                   "Seconds all connections sit idle before the node's memory is read")
      ->capture_default_str();
  load->add_option("--drain", config.drain_s, "Seconds to wait after sending for every delivery")
      ->capture_default_str();
  load->add_option("--name-prefix", config.name_prefix,
                   "User names are PREFIX0, PREFIX1...; default: a random prefix");
  load->add_flag("--discover", config.discover,
                 "A cluster: connect to the gateways /v1/discover on --server names, and "
                 "reconnect through it with the cursor, resending unacked sends");
  load->add_flag("--quiet", options->quiet, "No progress lines");
  load->callback([options] {
    try {
      std::exit(run(*options));
    } catch (const std::exception& error) {
      std::cerr << "parley load: " << error.what() << "\n";
      std::exit(2);
    }
  });
}

}  // namespace parley::cli
