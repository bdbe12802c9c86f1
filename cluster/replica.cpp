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

std::uint64_t applied_index_of(const Store& store) {
  const auto bytes = store.get(Table::meta, kAppliedIndexKey);
  return bytes ? codec::decode_counter(*bytes, Table::meta) : 0;
}

std::uint64_t state_digest(const Store& store) {
  std::uint64_t hash = 14695981039346656037ULL;
  const auto mix = [&](std::string_view bytes) {
    for (unsigned char byte : bytes)
      hash = (hash ^ byte) * 1099511628211ULL;
    hash = (hash ^ 0xffu) * 1099511628211ULL;  // a separator: ("ab","c") != ("a","bc")
  };
  for (std::size_t t = 0; t < kTableCount; ++t) {
    mix(std::to_string(t));
    store.scan(static_cast<Table>(t), "", "", false,
               [&](std::string_view key, std::string_view value) {
                 mix(key);
                 mix(value);
                 return true;
               });
  }
  return hash;
}

std::uint64_t Replica::read_applied_index() const {
  return applied_index_of(store_);
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
  begin_batch(now);
  try {
    for (const Input& input : inputs)
      core_.run(input);
  } catch (...) {
    abandon_batch();
    throw;
  }
  return finish_batch(token);
}

void Replica::begin_batch(TimeUs now) {
  batch_inputs_.clear();
  core_.begin(now);
  core_.record_inputs(&batch_inputs_);
}

void Replica::abandon_batch() {
  core_.record_inputs(nullptr);
  discard_batch(core_.batch_time());
}

Replica::Outcome Replica::finish_batch(std::uint64_t token) {
  core_.record_inputs(nullptr);
  const TimeUs now = core_.batch_time();
  try {
    const std::string entry = encode_batch(now, batch_inputs_);
    const std::uint64_t index = read_applied_index() + 1;  // in the batch's own transaction
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
