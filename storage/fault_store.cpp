#include "storage/fault_store.hpp"

namespace parley::storage {

void FaultStore::commit() {
  if (failing_ == 0) {
    inner_.commit();
    return;
  }
  --failing_;
  ++failed_;
  inner_.abort();
  throw engine::StoreError("injected commit failure (FaultStore)");
}

}  // namespace parley::storage
