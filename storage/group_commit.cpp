#include "storage/group_commit.hpp"

namespace parley::storage {

engine::Effects GroupCommit::run(std::span<const engine::Input> inputs, engine::TimeUs now) {
  engine::Effects effects;
  store_.begin();
  try {
    for (const engine::Input& input : inputs) {
      engine::Effects more = engine_.handle(input, now);
      effects.insert(effects.end(), std::make_move_iterator(more.begin()),
                     std::make_move_iterator(more.end()));
    }
  } catch (...) {
    store_.abort();
    throw;
  }
  store_.commit();  // throws StoreError on failure: nothing of the batch was released
  ++batches_;
  inputs_ += inputs.size();
  return effects;
}

}  // namespace parley::storage
