#include "cluster/replica.hpp"

#include "cluster/input_codec.hpp"
#include "engine/record_codec.hpp"

namespace parley::cluster {

using namespace parley::engine;

namespace {

// Replicas must be determined by their store alone (EngineConfig::durable_sessions).
EngineConfig replica_config(EngineConfig config) {
  config.durable_sessions = true;
  return config;
}

}  // namespace

Replica::Replica(Store& store, host::ReplicatedLog& log, EngineConfig config)
    : store_(store), log_(log), core_(store, replica_config(config)) {}

void Replica::open(TimeUs now) {
  core_.open(now);
}

std::uint64_t Replica::applied_index() {
  return core_.read([&](const Engine&) { return read_applied_index(); });
}

std::uint64_t Replica::read_applied_index() const {
  const auto bytes = store_.get(Table::meta, kAppliedIndexKey);
  return bytes ? codec::decode_counter(*bytes, Table::meta) : 0;
}

void Replica::write_applied_index(std::uint64_t index) {
  store_.put(Table::meta, kAppliedIndexKey, codec::encode_counter(index));
}

void Replica::discard_batch(TimeUs now) {
  core_.abort();
  core_.restart(now);
}

std::size_t Replica::catch_up(std::size_t max) {
  const std::uint64_t applied = applied_index();
  const auto entries = log_.read(applied + 1, max);
  std::uint64_t expected = applied + 1;
  for (const host::LogEntry& entry : entries) {
    if (entry.index != expected) {
      throw SnapshotNeeded("log entry " + std::to_string(expected) +
                           " was trimmed before this replica applied it");
    }
    const LoggedBatch batch = decode_batch(entry.bytes);
    core_.begin(batch.now);
    try {
      for (const Input& input : batch.inputs)
        core_.run(input);
      write_applied_index(entry.index);
      core_.commit();  // a follower's effects go nowhere: the leader's node released them
    } catch (...) {
      discard_batch(batch.now);
      throw;
    }
    ++expected;
  }
  return entries.size();
}

Replica::Outcome Replica::lead_batch(std::uint64_t token, std::span<const Input> inputs,
                                     TimeUs now) {
  const std::string entry = encode_batch(now, inputs);
  core_.begin(now);
  try {
    const std::uint64_t index = read_applied_index() + 1;  // in the batch's own transaction
    for (const Input& input : inputs)
      core_.run(input);
    write_applied_index(index);
    switch (log_.append(token, index, entry)) {
      case host::AppendResult::appended:
        break;
      case host::AppendResult::fenced:
        discard_batch(now);
        return Deposed{};
      case host::AppendResult::index_taken: {
        // Ours, if an earlier attempt's outcome was unknown and it landed after all (then
        // the bytes match); anything else came from an earlier leader, or lies past the end.
        const auto existing = log_.entry(index);
        if (!existing || existing->token != token || existing->bytes != entry) {
          discard_batch(now);
          return Behind{};
        }
        break;
      }
    }
    return Released{core_.commit(), index};
  } catch (...) {
    // An unknown append outcome, an unreadable log, or a failed local commit after the
    // append landed (catch_up then applies the entry from the log): the engine's memory may
    // hold what the store does not.
    discard_batch(now);
    throw;
  }
}

void Replica::report_applied(std::string_view name) {
  log_.report_applied(name, applied_index());
}

void Replica::trim_log() {
  if (const auto slowest = log_.slowest_applied()) log_.trim_below(*slowest + 1);
}

}  // namespace parley::cluster
