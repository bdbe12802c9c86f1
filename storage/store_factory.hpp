#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/store.hpp"

namespace parley::storage {

// A simulator node's store by kind name: "memory", or "lmdb" (a fresh environment in
// `directory`/node-INDEX, or in a temporary directory removed on close when `directory` is
// empty; fsync off, since the simulator models crashes itself). `lmdb_max_map_bytes`, when not
// 0, caps the LMDB map: past it writes fail with StoreError, as a full disk does. Throws
// std::invalid_argument for an unknown kind.
std::unique_ptr<engine::Store> make_store(const std::string& kind, const std::string& directory,
                                          std::uint32_t index, std::size_t lmdb_max_map_bytes = 0);

}  // namespace parley::storage
