// Transcript tests for the engine, in the style of etcd-io/raft's testdata: a file of
// commands, each followed by `----` and the effect lines the engine must produce for it.
// The command language is described in docs/testing.md ("Transcript tests").
//
// The runner drives the engine only through its public API (engine/engine.hpp) and prints
// effects with engine/describe.hpp, so the files survive any rearrangement of the engine's
// insides and break only when what a client or host would see changes.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/store.hpp"

namespace parley::testing::transcript {

struct Options {
  // Makes the (empty) store a transcript runs on; a `restart` keeps it.
  std::function<std::unique_ptr<engine::Store>()> make_store;
  // Rewrite each expected section in place from the actual output instead of failing
  // (PARLEY_REWRITE=1).
  bool rewrite = false;
};

// Replays the transcript at `path`. Returns one message per failure, each naming the file
// and line of the command and showing the difference; empty when every output matched (or
// when rewriting, unless the file itself is malformed).
std::vector<std::string> run_file(const std::string& path, const Options& options);

}  // namespace parley::testing::transcript
