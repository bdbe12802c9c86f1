#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/store.hpp"

namespace parley::storage {

// A store by kind name: "memory", or "lmdb" (an environment under `directory`, one per
// `index`). Throws std::invalid_argument for an unknown kind.
std::unique_ptr<engine::Store> make_store(const std::string& kind, const std::string& directory,
                                          std::uint32_t index);

}  // namespace parley::storage
