// The durability rule in one place: a batch of inputs runs through the engine inside one
// write transaction, the transaction commits (fsync on LMDB), and only then does the caller
// get the batch's effects to release. Production hosts call this from their engine thread
// with batches of at most `max_batch` inputs, gathered for at most `max_wait_us`.
#pragma once

#include <cstdint>
#include <span>

#include "engine/engine.hpp"

namespace parley::storage {

struct GroupCommitOptions {
  std::size_t max_batch = 256;         // inputs per transaction
  engine::TimeUs max_wait_us = 1'000;  // longest an input waits for its batch to fill
};

class GroupCommit {
 public:
  GroupCommit(engine::Store& store, engine::Engine& engine) : store_(store), engine_(engine) {}

  // Runs `inputs` in one transaction and commits. Returns the effects, which may leave the
  // node only now. If anything fails, the transaction is aborted and the error rethrown:
  // the caller must stop the node, since the engine's connection table may describe state
  // the disk does not have.
  engine::Effects run(std::span<const engine::Input> inputs, engine::TimeUs now);

  std::uint64_t batches() const { return batches_; }
  std::uint64_t inputs() const { return inputs_; }

 private:
  engine::Store& store_;
  engine::Engine& engine_;
  std::uint64_t batches_ = 0;
  std::uint64_t inputs_ = 0;
};

}  // namespace parley::storage
