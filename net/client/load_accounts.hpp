// Setting up `parley load`'s accounts (load_accounts.cpp).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "net/client/load.hpp"

namespace parley::net {

struct LoadAccount {
  std::string token;
  engine::UserId user = 0;
};

// Signs up and logs in users PREFIX0 .. PREFIX(N-1), N = config.connections, on
// config.setup_threads threads; `on_done(count)` reports progress about once a second.
// Throws the first failure.
std::vector<LoadAccount> set_up_accounts(const LoadConfig& config, const std::string& prefix,
                                         const std::function<void(std::size_t)>& on_done);

// "load-XXXXXX-": a fresh name prefix, so reruns against one store do not collide.
std::string random_prefix();

}  // namespace parley::net
