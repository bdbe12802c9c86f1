#pragma once

#include <CLI/CLI.hpp>

namespace parley::cli {

// Adds `parley push-gateway` to the app.
void add_push_gateway_command(CLI::App& app);

}  // namespace parley::cli
