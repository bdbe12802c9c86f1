#pragma once

#include <CLI/CLI.hpp>

namespace parley::cli {

// Adds `parley load` to the app (docs/load.md).
void add_load_command(CLI::App& app);

}  // namespace parley::cli
