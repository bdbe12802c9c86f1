// `parley push-gateway`: the reference gateway (net/client/push_gateway.hpp, docs/push.md).
#include "cli/push_gateway_command.hpp"

#include <memory>

#include "net/client/push_gateway.hpp"

namespace parley::cli {

void add_push_gateway_command(CLI::App& app) {
  auto options = std::make_shared<net::PushGatewayServerOptions>();
  auto* gateway = app.add_subcommand(
      "push-gateway", "Run a development push gateway that logs every push it receives");
  gateway->add_option("--listen", options->listen, "HOST:PORT to listen on (port 0: any free)")
      ->capture_default_str();
  gateway
      ->add_option("--fail-first", options->fail_first,
                   "Answer the first N requests with --fail-status (to watch retries)")
      ->capture_default_str();
  gateway->add_option("--fail-status", options->fail_status, "HTTP status for those failures")
      ->capture_default_str();
  gateway->add_option("--dead-token", options->dead_tokens,
                      "Answer pushes to this token with 410 dead_token (repeatable)");
  gateway->add_option("--log", options->log,
                      "Append one JSON line per request here (default: stdout)");
  gateway->add_option("--port-file", options->port_file, "Write the bound port to this file");
  gateway->callback([options] { std::exit(net::run_push_gateway(*options)); });
}

}  // namespace parley::cli
