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

void Replica::write_applied_index(std::uint64_t index, TimeUs now) {
  store_.put(Table::meta, kAppliedIndexKey, codec::encode_counter(index));
  store_.put(Table::meta, kAppliedNowKey, codec::encode_time(now));
}

TimeUs Replica::applied_now() {
  return core_.read([&](const Engine&) {
    const auto bytes = store_.get(Table::meta, kAppliedNowKey);
    return bytes ? codec::decode_time(*bytes, Table::meta) : TimeUs{0};
  });
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
      write_applied_index(entry.index, batch.now);
      // A follower's effects reach no client (the leader's node released them): only its
      // derived state, if the host keeps any.
      engine::Effects effects = core_.commit();
      if (follower_sink_) follower_sink_(std::move(effects));
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

namespace {

// An input's size in a log entry, from above: its strings plus a generous allowance for
// its varints (cluster/input_codec.cpp).
std::size_t entry_bytes(const client::Request& request) {
  return 32 + std::visit(
                  [](const auto& typed) -> std::size_t {
                    using T = std::decay_t<decltype(typed)>;
                    if constexpr (std::is_same_v<T, client::Send>) {
                      return typed.text.size() + typed.client_msg_id.size();
                    } else if constexpr (std::is_same_v<T, client::CreateGroup>) {
                      return typed.name.size() + 10 * typed.members.size();
                    } else if constexpr (std::is_same_v<T, client::QueryPresence>) {
                      return 10 * typed.users.size();
                    } else if constexpr (std::is_same_v<T, client::RegisterPushToken>) {
                      return typed.platform.size() + typed.token.size();
                    } else {
                      return 0;
                    }
                  },
                  request);
}

std::size_t entry_bytes(const Input& input) {
  return 32 + std::visit(
                  [](const auto& typed) -> std::size_t {
                    using T = std::decay_t<decltype(typed)>;
                    if constexpr (std::is_same_v<T, Received> || std::is_same_v<T, Stateless>) {
                      return entry_bytes(typed.request);
                    } else if constexpr (std::is_same_v<T, SignUp>) {
                      return typed.name.size() + typed.password_hash.size();
                    } else if constexpr (std::is_same_v<T, IssueToken>) {
                      return typed.label.size() + typed.verified_hash.size() +
                             typed.token_hash.size();
                    } else if constexpr (std::is_same_v<T, SignOut>) {
                      return 10 * typed.devices.size();
                    } else if constexpr (std::is_same_v<T, ChangePassword>) {
                      return typed.new_hash.size();
                    } else {
                      return 0;
                    }
                  },
                  input);
}

}  // namespace

std::size_t Replica::batch_bytes() {
  for (; counted_ < batch_inputs_.size(); ++counted_)
    batch_bytes_ += entry_bytes(batch_inputs_[counted_]);
  return batch_bytes_;
}

void Replica::begin_batch(TimeUs now) {
  batch_inputs_.clear();
  batch_bytes_ = 0;
  counted_ = 0;
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
    if (batch_inputs_.empty()) {
      const std::uint64_t applied = read_applied_index();
      return Released{core_.commit(), applied};  // nothing was written
    }
    const std::string entry = encode_batch(now, batch_inputs_);
    last_entry_bytes_ = entry.size();
    const std::uint64_t index = read_applied_index() + 1;  // in the batch's own transaction
    write_applied_index(index, now);
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

std::vector<Input> Replica::take_over() {
  while (catch_up(512) > 0) {
  }
  const auto stale = core_.read([](const Engine& engine) { return engine.connection_ids(); });
  std::vector<Input> inputs;
  inputs.reserve(stale.size());
  for (ConnectionId id : stale)
    inputs.push_back(Disconnected{id});
  return inputs;
}

void Replica::report_applied(std::string_view name) {
  log_.report_applied(name, applied_index());
}

void Replica::trim_log() {
  // The slowest replica's own entry stays: a power loss may undo a replica's last commit
  // (its store syncs the meta page lazily, storage::LmdbOptions::sync_meta), and it then
  // applies that entry again.
  if (const auto slowest = log_.slowest_applied())
    log_.trim_below(std::max<std::uint64_t>(*slowest, 1));
}

}  // namespace parley::cluster
