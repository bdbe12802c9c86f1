// A batch as a log entry (docs/cluster.md, "Encoding of an entry"): the leader's `now` for the
// batch and every engine input it ran, in order. Replaying the entries of a log into an
// empty store through host::Core, batch by batch at each entry's `now`, rebuilds the
// leader's durable state exactly (the engine is deterministic: engine/engine.hpp).
//
// Encoding: engine::codec's varints and length-prefixed bytes (engine/record_codec.hpp),
// one kind tag per input (its index in engine::Input), client requests in the wire's binary
// Cap'n Proto encoding (net/wire/codec.hpp) so the log carries exactly what the protocol
// defines.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.hpp"

namespace parley::cluster {

struct LoggedBatch {
  engine::TimeUs now = 0;
  std::vector<engine::Input> inputs;
};

// An entry that does not decode: written by another version, or corrupt. A replica stops
// rather than guess (its state would no longer match its peers').
class CorruptEntry : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string encode_batch(engine::TimeUs now, std::span<const engine::Input> inputs);
std::string encode_batch(const LoggedBatch& batch);
LoggedBatch decode_batch(std::string_view bytes);

}  // namespace parley::cluster
