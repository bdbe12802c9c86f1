#include "engine/store.hpp"

#include "engine/types.hpp"

namespace parley::engine {
namespace {

// Every table's name; empty for a value that is no table. The names are LMDB database
// names: renaming one loses the table's contents in existing stores.
constexpr std::string_view name_of(Table table) {
  switch (table) {
    case Table::meta:
      return "meta";
    case Table::users:
      return "users";
    case Table::user_names:
      return "user_names";
    case Table::devices:
      return "devices";
    case Table::user_devices:
      return "user_devices";
    case Table::channels:
      return "channels";
    case Table::direct_channels:
      return "direct_channels";
    case Table::members:
      return "members";
    case Table::user_channels:
      return "user_channels";
    case Table::messages:
      return "messages";
    case Table::inboxes:
      return "inboxes";
    case Table::inbox_heads:
      return "inbox_heads";
    case Table::device_cursors:
      return "device_cursors";
    case Table::idempotency:
      return "idempotency";
    case Table::contacts:
      return "contacts";
    case Table::presence:
      return "presence";
    case Table::push_tokens:
      return "push_tokens";
    case Table::push_outbox:
      return "push_outbox";
    case Table::push_collapse:
      return "push_collapse";
    case Table::unread:
      return "unread";
    case Table::read_positions:
      return "read_positions";
    case Table::credentials:
      return "credentials";
    case Table::tokens:
      return "tokens";
    case Table::device_tokens:
      return "device_tokens";
    case Table::online_users:
      return "online_users";
    case Table::pending_pushes:
      return "pending_pushes";
    case Table::user_groups:
      return "user_groups";
    case Table::sessions:
      return "sessions";
    case Table::live_devices:
      return "live_devices";
    case Table::live_users:
      return "live_users";
    case Table::unread_entries:
      return "unread_entries";
    case Table::receipts:
      return "receipts";
    case Table::settings:
      return "settings";
  }
  return {};
}

static_assert(covers_exactly(Table::meta, kLastTable,
                             [](Table table) { return !name_of(table).empty(); }),
              "tables run from meta to kLastTable: move kLastTable (kTableCount follows)");

}  // namespace

std::string_view table_name(Table table) {
  const std::string_view name = name_of(table);
  return name.empty() ? "unknown" : name;
}

void require_storable(Table table, std::string_view key) {
  if (!storable_key(key)) {
    throw InvalidKey("a key of " + std::to_string(key.size()) + " bytes in " +
                     std::string(table_name(table)));
  }
}

}  // namespace parley::engine
