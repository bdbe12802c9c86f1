// `parley serve`: the production node. Every flag is also a key of the --config TOML file;
// flags given on the command line win over the file.
#include "cli/serve_command.hpp"

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "net/node/config.hpp"
#include "net/node/node.hpp"

namespace parley::cli {
namespace {

struct ServeArgs {
  net::NodeConfig flags;
  std::string config_file;
  // For each flag: copies its value from `flags` into the effective config.
  std::vector<std::pair<CLI::Option*, std::function<void(net::NodeConfig&)>>> appliers;
};

template <typename T>
void flag(CLI::App* app, ServeArgs& args, const char* name, T net::NodeConfig::*field,
          const char* help) {
  CLI::Option* option =
      app->add_option(std::string("--") + name, args.flags.*field, help)->capture_default_str();
  args.appliers.emplace_back(option,
                             [&args, field](net::NodeConfig& c) { c.*field = args.flags.*field; });
}

// A flag for a field inside one part of the config (config.*part.*field).
template <typename Part, typename T>
void flag(CLI::App* app, ServeArgs& args, const char* name, Part net::NodeConfig::*part,
          T Part::*field, const char* help) {
  CLI::Option* option = app->add_option(std::string("--") + name, args.flags.*part.*field, help)
                            ->capture_default_str();
  args.appliers.emplace_back(option, [&args, part, field](net::NodeConfig& c) {
    c.*part.*field = args.flags.*part.*field;
  });
}

// The same for a field kept in finer units than its flag: the flag is field / scale.
template <typename Part, typename T>
void scaled_flag(CLI::App* app, ServeArgs& args, const char* name, Part net::NodeConfig::*part,
                 T Part::*field, T scale, const char* help) {
  auto value = std::make_shared<T>(args.flags.*part.*field / scale);
  CLI::Option* option =
      app->add_option(std::string("--") + name, *value, help)->capture_default_str();
  args.appliers.emplace_back(
      option, [value, part, field, scale](net::NodeConfig& c) { c.*part.*field = *value * scale; });
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand(
      "serve", "Run a chat node: HTTP + WebSocket on one port, LMDB store (docs/operations.md)");
  serve->add_option("--config", args->config_file, "TOML file with the same keys as the flags")
      ->check(CLI::ExistingFile);
  ServeArgs& a = *args;
  flag(serve, a, "listen", &net::NodeConfig::listen, "HOST:PORT to listen on (port 0: any free)");
  flag(serve, a, "data", &net::NodeConfig::data, "Directory of the node's LMDB store");
  flag(serve, a, "public-url", &net::NodeConfig::public_url,
       "WebSocket URL /v1/discover advertises (default: ws://LISTEN/v1/ws)");
  flag(serve, a, "web-root", &net::NodeConfig::web_root, "Directory of the web client served at /");
  flag(serve, a, "port-file", &net::NodeConfig::port_file, "Write the bound port to this file");
  flag(serve, a, "io-threads", &net::NodeConfig::io_threads, "Asio I/O threads");
  flag(serve, a, "batch-max", &net::NodeConfig::batch, &host::BatchPolicy::max_inputs,
       "Most inputs per group commit");
  flag(serve, a, "batch-wait-us", &net::NodeConfig::batch, &host::BatchPolicy::max_wait_us,
       "Longest wait for a batch to fill (0: commit what queued during the last commit)");
  flag(serve, a, "commit-interval-us", &net::NodeConfig::batch,
       &host::BatchPolicy::commit_interval_us,
       "Least time between two commits under load (an input after a quiet spell commits at once)");
  flag(serve, a, "queue-max", &net::NodeConfig::queue_max,
       "Engine queue bound; past it requests get `overloaded`");
  flag(serve, a, "queue-delay-max-ms", &net::NodeConfig::queue_delay_max_ms,
       "Refuse requests (`overloaded`) while the oldest queued input has waited this long");
  flag(serve, a, "initial-map-mib", &net::NodeConfig::initial_map_mib,
       "Initial LMDB map size (it grows by itself)");
  flag(serve, a, "max-frame-bytes", &net::NodeConfig::max_frame_bytes,
       "Largest WebSocket frame; larger ones close the connection with 1009");
  flag(serve, a, "outbound-frames-max", &net::NodeConfig::outbound_frames_max,
       "Frames queued to one connection before it is closed as too slow");
  flag(serve, a, "outbound-bytes-max", &net::NodeConfig::outbound_bytes_max,
       "Bytes queued to one connection before it is closed as too slow");
  flag(serve, a, "handshake-timeout-ms", &net::NodeConfig::handshake_timeout_ms,
       "Drop connections that do not finish their HTTP request or WebSocket handshake in time");
  flag(serve, a, "ping-after-ms", &net::NodeConfig::ping_after_ms,
       "Ping a WebSocket silent this long; drop it if still silent as long again");
  flag(serve, a, "rate-limit-per-second", &net::NodeConfig::rate_limit_per_second,
       "Frames per second per connection");
  flag(serve, a, "rate-limit-burst", &net::NodeConfig::rate_limit_burst,
       "Frames a connection may send in a burst");
  flag(serve, a, "max-http-body-bytes", &net::NodeConfig::max_http_body_bytes,
       "Largest HTTP request body (413 beyond)");
  flag(serve, a, "token-ttl-hours", &net::NodeConfig::token_ttl_hours, "Device token lifetime");
  flag(serve, a, "login-attempts-per-minute", &net::NodeConfig::login_attempts_per_minute,
       "Sign-ups, logins and password changes one address may try per minute (429 beyond)");
  flag(serve, a, "max-connections-per-address", &net::NodeConfig::max_connections_per_address,
       "Open connections one remote address may hold; more are closed at once");
  flag(serve, a, "max-map-mib", &net::NodeConfig::max_map_mib,
       "Largest the store may grow; past it the node stops cleanly (exit 70)");
  using engine::EngineConfig;
  using net::NodeConfig;
  using net::PushGatewayOptions;
  flag(serve, a, "push-gateway", &NodeConfig::push, &PushGatewayOptions::url,
       "POST push intents to this gateway: http://HOST:PORT/PATH (docs/push.md)");
  flag(serve, a, "push-timeout-ms", &NodeConfig::push, &PushGatewayOptions::timeout_ms,
       "Gateway request timeout");
  flag(serve, a, "push-retry-initial-ms", &NodeConfig::push, &PushGatewayOptions::retry_initial_ms,
       "First retry delay after a failed push (doubles each time, with jitter)");
  flag(serve, a, "push-retry-max-ms", &NodeConfig::push, &PushGatewayOptions::retry_max_ms,
       "Longest retry delay");
  flag(serve, a, "argon2-opslimit", &NodeConfig::password, &net::PasswordPolicy::opslimit,
       "argon2id passes per password hash");
  scaled_flag(serve, a, "argon2-memlimit-kib", &NodeConfig::password,
              &net::PasswordPolicy::memlimit_bytes, std::size_t{1024},
              "argon2id memory per password hash");
  scaled_flag(serve, a, "heartbeat-interval-ms", &NodeConfig::engine,
              &EngineConfig::heartbeat_interval_us, engine::TimeUs{1000},
              "How often clients are told to heartbeat");
  scaled_flag(serve, a, "presence-timeout-ms", &NodeConfig::engine,
              &EngineConfig::presence_timeout_us, engine::TimeUs{1000},
              "Silence after which a device no longer counts as online");
  scaled_flag(serve, a, "push-collapse-ms", &NodeConfig::engine,
              &EngineConfig::push_collapse_window_us, engine::TimeUs{1000},
              "At most one push intent per user and chat within this window");
  scaled_flag(serve, a, "edit-window-s", &NodeConfig::engine, &EngineConfig::edit_window_us,
              engine::TimeUs{1'000'000}, "How long after sending a message its sender may edit it");
  scaled_flag(serve, a, "delete-window-s", &NodeConfig::engine, &EngineConfig::delete_window_us,
              engine::TimeUs{1'000'000},
              "How long after sending a message its sender may delete it for everyone");
  flag(serve, a, "delivery-batch", &NodeConfig::engine, &EngineConfig::delivery_batch,
       "Most inbox entries per deliver frame");
  flag(serve, a, "delivery-window", &NodeConfig::engine, &EngineConfig::delivery_window,
       "Most unacked inbox entries in flight per connection");
  flag(serve, a, "push-outbox-max", &NodeConfig::engine, &EngineConfig::push_outbox_max,
       "Most push intents waiting for delivery; past it new ones are dropped and counted");
  flag(serve, a, "delivery-batch-bytes", &NodeConfig::engine, &EngineConfig::delivery_batch_bytes,
       "A deliver frame stops growing past this many bytes of text");
  flag(serve, a, "delivery-window-bytes", &NodeConfig::engine, &EngineConfig::delivery_window_bytes,
       "Most unacked text bytes in flight per connection");
  flag(serve, a, "history-page-bytes", &NodeConfig::engine, &EngineConfig::history_page_bytes,
       "A historyPage frame stops growing past this many bytes of text");

  flag(serve, a, "etcd", &NodeConfig::etcd,
       "Run as a cluster node: HOST:PORT,... of the etcd members (docs/cluster.md)");
  flag(serve, a, "node-name", &NodeConfig::node_name,
       "This node's name in the cluster, unique (default: the listen address)");
  flag(serve, a, "peer-address", &NodeConfig::peer_address,
       "With --etcd: HOST:PORT where the other nodes reach this one (default: the listen "
       "address; needed when listening on 0.0.0.0)");
  flag(serve, a, "role", &NodeConfig::role,
       "With --etcd: both (default), gateway (client connections only, no store) or replica "
       "(the shard only, never named to clients)");
  flag(serve, a, "cluster-prefix", &NodeConfig::cluster_prefix, "The cluster's etcd key prefix");
  flag(serve, a, "lease-ttl-s", &NodeConfig::lease_ttl_s,
       "Leadership lease: a dead leader is replaced after about this long");
  flag(serve, a, "etcd-timeout-ms", &NodeConfig::etcd_timeout_ms, "Timeout of one etcd request");
  flag(serve, a, "trim-hold-s", &NodeConfig::trim_hold_s,
       "A replica not heard from for this long stops holding back the log's trimming (0: for "
       "ever)");

  serve->callback([args] {
    net::NodeConfig config;
    if (!args->config_file.empty()) {
      try {
        net::load_config_file(args->config_file, config);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "parley: %s\n", error.what());
        std::exit(78);
      }
    }
    for (auto& [option, apply] : args->appliers) {
      if (args->config_file.empty() || option->count() > 0) apply(config);
    }
    std::exit(net::run_node(config));
  });
}

}  // namespace parley::cli
