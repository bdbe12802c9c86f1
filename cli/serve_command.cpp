// `parley serve`: the production node. Every flag is also a key of the --config TOML file;
// flags given on the command line win over the file.
#include "cli/serve_command.hpp"

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

#include "net/config.hpp"
#include "net/node.hpp"

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
  flag(serve, a, "batch-max", &net::NodeConfig::batch_max, "Most inputs per group commit");
  flag(serve, a, "batch-wait-us", &net::NodeConfig::batch_wait_us,
       "Longest wait for a batch to fill (0: commit what queued during the last commit)");
  flag(serve, a, "queue-max", &net::NodeConfig::queue_max,
       "Engine queue bound; past it requests get `overloaded`");
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
  flag(serve, a, "rate-limit-per-second", &net::NodeConfig::rate_limit_per_second,
       "Frames per second per connection");
  flag(serve, a, "rate-limit-burst", &net::NodeConfig::rate_limit_burst,
       "Frames a connection may send in a burst");
  flag(serve, a, "max-http-body-bytes", &net::NodeConfig::max_http_body_bytes,
       "Largest HTTP request body (413 beyond)");
  flag(serve, a, "token-ttl-hours", &net::NodeConfig::token_ttl_hours, "Device token lifetime");
  flag(serve, a, "max-connections-per-address", &net::NodeConfig::max_connections_per_address,
       "Open connections one remote address may hold; more are closed at once");
  flag(serve, a, "max-map-mib", &net::NodeConfig::max_map_mib,
       "Largest the store may grow; past it the node stops cleanly (exit 70)");
  const auto push_flag = [&](const char* name, auto net::PushGatewayOptions::*field,
                             const char* help) {
    CLI::Option* option = serve->add_option(std::string("--") + name, args->flags.push.*field, help)
                              ->capture_default_str();
    args->appliers.emplace_back(
        option, [args, field](net::NodeConfig& c) { c.push.*field = args->flags.push.*field; });
  };
  push_flag("push-gateway", &net::PushGatewayOptions::url,
            "POST push intents to this gateway: http://HOST:PORT/PATH (docs/push.md)");
  push_flag("push-timeout-ms", &net::PushGatewayOptions::timeout_ms, "Gateway request timeout");
  push_flag("push-retry-initial-ms", &net::PushGatewayOptions::retry_initial_ms,
            "First retry delay after a failed push (doubles each time, with jitter)");
  push_flag("push-retry-max-ms", &net::PushGatewayOptions::retry_max_ms, "Longest retry delay");
  serve
      ->add_option("--argon2-opslimit", args->flags.password.opslimit,
                   "argon2id passes per password hash")
      ->capture_default_str();
  args->appliers.emplace_back(serve->get_option("--argon2-opslimit"), [args](net::NodeConfig& c) {
    c.password.opslimit = args->flags.password.opslimit;
  });
  auto memlimit = std::make_shared<std::size_t>(args->flags.password.memlimit_bytes / 1024);
  serve->add_option("--argon2-memlimit-kib", *memlimit, "argon2id memory per password hash")
      ->capture_default_str();
  args->appliers.emplace_back(
      serve->get_option("--argon2-memlimit-kib"),
      [memlimit](net::NodeConfig& c) { c.password.memlimit_bytes = *memlimit * 1024; });
  const auto engine_ms = [&](const char* name, engine::TimeUs engine::EngineConfig::*field,
                             const char* help) {
    auto millis = std::make_shared<std::int64_t>(args->flags.engine.*field / 1000);
    CLI::Option* option =
        serve->add_option(std::string("--") + name, *millis, help)->capture_default_str();
    args->appliers.emplace_back(
        option, [millis, field](net::NodeConfig& c) { c.engine.*field = *millis * 1000; });
  };
  engine_ms("heartbeat-interval-ms", &engine::EngineConfig::heartbeat_interval_us,
            "How often clients are told to heartbeat");
  engine_ms("presence-timeout-ms", &engine::EngineConfig::presence_timeout_us,
            "Silence after which a device no longer counts as online");
  engine_ms("push-collapse-ms", &engine::EngineConfig::push_collapse_window_us,
            "At most one push intent per user and chat within this window");
  // An EngineConfig count or byte size, taken as it is.
  const auto engine_value = [&](const char* name, auto engine::EngineConfig::*field,
                                const char* help) {
    CLI::Option* option =
        serve->add_option(std::string("--") + name, args->flags.engine.*field, help)
            ->capture_default_str();
    args->appliers.emplace_back(
        option, [args, field](net::NodeConfig& c) { c.engine.*field = args->flags.engine.*field; });
  };
  engine_value("delivery-batch", &engine::EngineConfig::delivery_batch,
               "Most inbox entries per deliver frame");
  engine_value("delivery-window", &engine::EngineConfig::delivery_window,
               "Most unacked inbox entries in flight per connection");
  engine_value("push-outbox-max", &engine::EngineConfig::push_outbox_max,
               "Most push intents waiting for delivery; past it new ones are dropped and counted");
  engine_value("delivery-batch-bytes", &engine::EngineConfig::delivery_batch_bytes,
               "A deliver frame stops growing past this many bytes of text");
  engine_value("delivery-window-bytes", &engine::EngineConfig::delivery_window_bytes,
               "Most unacked text bytes in flight per connection");

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
