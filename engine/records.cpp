// The store's format and id counters. Each domain's tables are in records_*.cpp.
#include "engine/records.hpp"

#include "engine/record_codec.hpp"

namespace parley::engine {

using codec::decode_counter;
using codec::encode_counter;

void Records::ensure_format() {
  const auto stored = store_.get(Table::meta, "format_version");
  if (!stored) {
    store_.put(Table::meta, "format_version", encode_counter(kFormatVersion));
    store_.put(Table::meta, "user_groups_index", encode_counter(1));
    store_.put(Table::meta, "user_names_folded", encode_counter(1));
    store_.put(Table::meta, "device_tokens_index", encode_counter(1));
    store_.put(Table::meta, "unread_entries_index", encode_counter(1));
    return;
  }
  const std::uint64_t version = decode_counter(*stored, Table::meta);
  if (version != kFormatVersion) {
    throw StoreError("store format version " + std::to_string(version) +
                     " is not supported by this build (it reads version " +
                     std::to_string(kFormatVersion) + ")");
  }
  // Layouts of this version from before an index existed: build it once (in order, as
  // before: the group index, folded names, the device token index).
  if (!store_.get(Table::meta, "user_groups_index")) {
    build_group_index();
    store_.put(Table::meta, "user_groups_index", encode_counter(1));
  }
  if (!store_.get(Table::meta, "user_names_folded")) {
    fold_name_keys();
    store_.put(Table::meta, "user_names_folded", encode_counter(1));
  }
  if (!store_.get(Table::meta, "device_tokens_index")) {
    build_device_token_index();
    store_.put(Table::meta, "device_tokens_index", encode_counter(1));
  }
  if (!store_.get(Table::meta, "unread_entries_index")) {
    build_unread_entries();
    store_.put(Table::meta, "unread_entries_index", encode_counter(1));
  }
}

std::uint64_t Records::allocate_id(std::string_view counter) {
  const std::string key = "next_" + std::string(counter);
  const auto stored = store_.get(Table::meta, key);
  const std::uint64_t id = stored ? decode_counter(*stored, Table::meta) : 1;
  store_.put(Table::meta, key, encode_counter(id + 1));
  return id;
}

}  // namespace parley::engine
