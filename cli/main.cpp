// The parley command line: one binary, one subcommand per face of the project.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cli/client_command.hpp"
#include "cli/demo.hpp"
#include "cli/load_command.hpp"
#include "cli/push_gateway_command.hpp"
#include "cli/serve_command.hpp"
#include "cli/sim_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"parley: a chat engine with a deterministic simulator and a production node"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "parley 0.1.0");

  auto* demo = app.add_subcommand(
      "demo",
      "Run a short conversation through the engine on an in-memory store and print "
      "every event the clients receive");
  std::size_t demo_messages = 3;
  demo->add_option("--messages", demo_messages, "1:1 messages each side sends")
      ->check(CLI::Range(1, 1000));
  demo->callback([&] { std::exit(parley::cli::run_demo(demo_messages, std::cout)); });

  parley::cli::add_serve_command(app);
  parley::cli::add_load_command(app);
  parley::cli::add_client_command(app);
  parley::cli::add_push_gateway_command(app);
  parley::cli::add_sim_command(app);

  CLI11_PARSE(app, argc, argv);
  return 0;
}
