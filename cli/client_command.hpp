#pragma once

#include <CLI/CLI.hpp>

namespace parley::cli {

// Adds `parley client` to the app (docs/client.md).
void add_client_command(CLI::App& app);

}  // namespace parley::cli
