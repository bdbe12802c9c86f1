// Releasing a committed batch's effects: one exhaustive dispatcher for every host.
//
// `sink` must be callable with every alternative of engine::Effect (by rvalue). std::visit
// checks that at compile time, so adding an effect to the engine fails to compile in every
// host that does not say what to do with it — no effect can be silently dropped. Do not give
// a sink a catch-all `auto` overload: it would defeat that check.
#pragma once

#include <utility>
#include <variant>

#include "engine/engine.hpp"
#include "engine/overloaded.hpp"

namespace parley::host {

// An overload set from lambdas (engine/overloaded.hpp):
// host::release(effects, host::Overloaded{[](SendEvent&&) {...}, ...}).
using engine::Overloaded;

// REQUIRES: the batch that produced `effects` has committed (Core::commit returned them).
template <typename Sink>
void release(engine::Effects&& effects, Sink&& sink) {
  for (engine::Effect& effect : effects)
    std::visit([&](auto&& typed) { sink(std::move(typed)); }, std::move(effect));
}

// The same for one effect (hosts that release effect by effect as they trace them).
template <typename Sink>
void release_one(engine::Effect&& effect, Sink&& sink) {
  std::visit([&](auto&& typed) { sink(std::move(typed)); }, std::move(effect));
}

}  // namespace parley::host
