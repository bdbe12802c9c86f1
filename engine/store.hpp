// The one seam between the engine and persistent state.
//
// The engine reads and writes only through Store, inside a transaction that its host opens
// (begin) and closes (commit or abort). Implementations live in storage/ (in-memory for the
// simulator and tests, LMDB for production); the engine knows none of them.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace parley::engine {

// Named tables. Keys are byte strings whose lexicographic order is the numeric order the
// engine needs (integers are big-endian), so every store scans in the same order.
enum class Table : std::uint8_t {
  meta,             // "format_version", id counters
  users,            // user id -> UserRecord
  user_names,       // name -> user id
  devices,          // device id -> DeviceRecord
  user_devices,     // (user, device) -> ""
  channels,         // channel id -> ChannelRecord
  direct_channels,  // (lower user, higher user) -> channel id
  members,          // (channel, user) -> MemberRecord
  user_channels,    // (user, channel) -> ""
  messages,         // (channel, seq) -> MessageRecord
  inboxes,          // (user, inbox seq) -> InboxRef
  inbox_heads,      // user -> last inbox seq
  device_cursors,   // device -> highest inbox seq the device acked
  idempotency,      // (user, client_msg_id) -> (channel, seq)
  contacts,         // (user, other) -> ContactRecord
  presence,         // user -> last_active_at
  push_tokens,      // (user, device) -> PushTokenRecord
  push_outbox,      // intent id -> PushIntent, until a delivery worker sends it
  push_collapse,    // (user, channel) -> time of the last intent
  unread,           // (user, channel) -> count; channel 0 holds the user's total
  read_positions,   // user -> highest inbox seq acked by any of the user's devices (delivered)
  credentials,      // user -> password hash (opaque to the engine: argon2id, by the node)
  tokens,           // hash of a device token -> TokenRecord
  online_users,     // user -> last_active_at, while the user is shown online (restarts)
  pending_pushes,   // (user, channel) -> newest message owed a push once the user is away
  user_groups,      // (user, channel) -> "": the groups the user is an active member of
  device_tokens,    // (user, device, token hash) -> "": each device's live tokens
  // Engine memory, written only with EngineConfig::durable_sessions (cluster replicas):
  sessions,      // connection id -> SessionRecord: a live connection and its window
  live_devices,  // device -> LiveDeviceRecord: a device presence holds alive
  live_users,    // user -> last_active_at, while presence holds the user online
  // Receipts (engine/receipts.cpp, rule 19):
  unread_entries,  // (user, channel, seq) -> "": a message counted unread, until read
  receipts,        // (channel, user) -> ReceiptRecord: delivered, read, last sent
  settings,        // user -> UserSettings
};
// The last table: tables run from meta (0) to it without gaps. A new table goes after it and
// moves it (engine/store.cpp checks it against table_name's switch).
inline constexpr Table kLastTable = Table::settings;
inline constexpr std::size_t kTableCount = static_cast<std::size_t>(kLastTable) + 1;
// The table's name (LMDB's database name, and error texts); "unknown" for no table.
std::string_view table_name(Table table);

// Keys are 1 to kMaxKeyBytes bytes: LMDB's limit (mdb_env_get_maxkeysize with the default
// build), enforced by every store alike so the simulator sees what production would. A
// lookup or erase of any other key finds nothing (no such key can exist); a put of one
// throws InvalidKey, an engine bug: every value from a client is validated before it
// becomes part of a key, so no client input can reach it.
inline constexpr std::size_t kMaxKeyBytes = 511;
inline bool storable_key(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKeyBytes;
}

class InvalidKey : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};
// For a store's put: throws InvalidKey ("a key of N bytes in TABLE") unless storable_key.
void require_storable(Table table, std::string_view key);

// Raised by a store when it cannot do what was asked (disk full, corrupt file). The host
// stops the node: it must never run on with state the disk does not have.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  // Returns false to stop the scan.
  using Visitor = std::function<bool(std::string_view key, std::string_view value)>;

  virtual ~Store() = default;

  // REQUIRES: no transaction is open. Every read and write below happens inside one.
  virtual void begin() = 0;
  // Makes every write since begin() durable, or throws StoreError (then nothing is durable).
  virtual void commit() = 0;
  // Forgets every write since begin().
  virtual void abort() = 0;
  virtual bool in_transaction() const = 0;

  // Pipelined group commit (storage/pipelined_store.hpp): seal() ends the open transaction
  // like commit() but may return before its writes are durable, so the host can run the
  // next transaction while this one syncs; it returns the transaction's ticket (1, 2, ...
  // in seal order). durable_ticket() is the newest ticket whose writes are durable (every
  // older one is too), and throws StoreError if a sealed transaction failed to commit
  // (then none after it is durable either). A store without a pipeline commits in seal():
  // every ticket is durable when seal() returns.
  virtual std::uint64_t seal() {
    commit();
    return ++sealed_;
  }
  virtual std::uint64_t durable_ticket() { return sealed_; }

  virtual std::optional<std::string> get(Table table, std::string_view key) const = 0;
  virtual void put(Table table, std::string_view key, std::string_view value) = 0;
  virtual void erase(Table table, std::string_view key) = 0;
  // Visits the entries with from <= key < to (an empty `to` means no upper bound), in
  // ascending key order, or descending when `reverse` is set.
  virtual void scan(Table table, std::string_view from, std::string_view to, bool reverse,
                    const Visitor& visit) const = 0;

 private:
  std::uint64_t sealed_ = 0;
};

}  // namespace parley::engine
