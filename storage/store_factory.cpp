#include "storage/store_factory.hpp"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "storage/lmdb_store.hpp"
#include "storage/memory_store.hpp"

namespace parley::storage {

std::unique_ptr<engine::Store> make_store(const std::string& kind, const std::string& directory,
                                          std::uint32_t index, std::size_t lmdb_max_map_bytes) {
  if (kind == "memory") return std::make_unique<MemoryStore>();
  if (kind != "lmdb") {
    throw std::invalid_argument("unknown store kind '" + kind + "' (known: memory, lmdb)");
  }
  // The simulator models crashes itself, so fsync buys nothing here; everything else is the
  // production code path.
  LmdbOptions options;
  options.sync = false;
  options.initial_map_bytes = 4ull << 20;  // small, so that runs exercise map growth
  if (lmdb_max_map_bytes != 0) {
    options.max_map_bytes = lmdb_max_map_bytes;
    options.initial_map_bytes = std::min(options.initial_map_bytes, lmdb_max_map_bytes);
  }
  std::string path;
  if (directory.empty()) {
    path = make_temp_directory("parley-sim-node" + std::to_string(index));
    options.remove_on_close = true;
  } else {
    path = (std::filesystem::path(directory) / ("node-" + std::to_string(index))).string();
    std::filesystem::remove_all(path);  // every run starts from an empty store
  }
  return std::make_unique<LmdbStore>(path, options);
}

}  // namespace parley::storage
