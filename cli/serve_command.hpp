#pragma once

#include <CLI/CLI.hpp>

namespace parley::cli {

// Adds `parley serve` to the app.
void add_serve_command(CLI::App& app);

}  // namespace parley::cli
