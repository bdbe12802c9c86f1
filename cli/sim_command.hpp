#pragma once

#include <CLI/CLI.hpp>

namespace parley::cli {

// Adds `parley sim` to the app.
void add_sim_command(CLI::App& app);

}  // namespace parley::cli
