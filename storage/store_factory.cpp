#include "storage/store_factory.hpp"

#include <stdexcept>

#include "storage/memory_store.hpp"

namespace parley::storage {

std::unique_ptr<engine::Store> make_store(const std::string& kind, const std::string&,
                                          std::uint32_t) {
  if (kind == "memory") return std::make_unique<MemoryStore>();
  throw std::invalid_argument("unknown store kind '" + kind + "' (known: memory)");
}

}  // namespace parley::storage
