// One-line, deterministic text for effects and events: the simulator's trace, the demo's
// output and test failure messages. Not a wire format.
#pragma once

#include <string>

#include "engine/engine.hpp"

namespace parley::engine {

std::string describe(const server::Event& event);
std::string describe(const Effect& effect);
std::string describe(const Message& message);

}  // namespace parley::engine
