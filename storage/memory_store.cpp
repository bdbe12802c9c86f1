#include "storage/memory_store.hpp"

namespace parley::storage {

using engine::StoreError;
using engine::Table;

void MemoryStore::begin() {
  if (in_transaction_) throw StoreError("begin() inside an open transaction");
  in_transaction_ = true;
}

void MemoryStore::commit() {
  if (!in_transaction_) throw StoreError("commit() without a transaction");
  undo_.clear();
  in_transaction_ = false;
  ++commit_count_;
}

void MemoryStore::abort() {
  if (!in_transaction_) throw StoreError("abort() without a transaction");
  // Newest first, so a key written twice ends with the value it had before begin().
  for (auto undo = undo_.rbegin(); undo != undo_.rend(); ++undo) {
    Map& map = tables_[index(undo->table)];
    if (undo->previous) {
      map.insert_or_assign(std::move(undo->key), std::move(*undo->previous));
    } else {
      map.erase(undo->key);
    }
  }
  undo_.clear();
  in_transaction_ = false;
}

std::optional<std::string> MemoryStore::get(Table table, std::string_view key) const {
  if (!in_transaction_) throw StoreError("read outside a transaction");
  if (!engine::storable_key(key)) return std::nullopt;
  const Map& map = tables_[index(table)];
  const auto found = map.find(key);
  if (found == map.end()) return std::nullopt;
  return found->second;
}

// One tree walk per write: the lookup that finds the old value (for the undo log) is the
// one that writes the new value (a std::map lookup of these long, shared-prefix keys is
// most of the simulator's store cost, issue 16).
void MemoryStore::put(Table table, std::string_view key, std::string_view value) {
  engine::require_storable(table, key);
  if (!in_transaction_) throw StoreError("write outside a transaction");
  Map& map = tables_[index(table)];
  auto slot = map.lower_bound(key);
  if (slot != map.end() && slot->first == key) {
    undo_.push_back(Undo{table, slot->first, std::move(slot->second)});
    slot->second.assign(value);
    return;
  }
  undo_.push_back(Undo{table, std::string(key), std::nullopt});
  map.emplace_hint(slot, std::string(key), std::string(value));
}

void MemoryStore::erase(Table table, std::string_view key) {
  if (!engine::storable_key(key)) return;
  if (!in_transaction_) throw StoreError("write outside a transaction");
  Map& map = tables_[index(table)];
  const auto found = map.find(key);
  if (found == map.end()) return;  // nothing changes, nothing to undo
  undo_.push_back(Undo{table, found->first, std::move(found->second)});
  map.erase(found);
}

// One tree walk per scan: a forward scan stops at the first key at or past `to` as it goes
// (scans are mostly short, limited inbox and list pages), a reverse one at the first key
// before `from`. Finding both ends first cost a second walk of these shared-prefix keys.
void MemoryStore::scan(Table table, std::string_view from, std::string_view to, bool reverse,
                       const Visitor& visit) const {
  if (!in_transaction_) throw StoreError("read outside a transaction");
  if (!to.empty() && to <= from) return;  // an empty range
  const Map& map = tables_[index(table)];
  if (!reverse) {
    for (auto it = map.lower_bound(from); it != map.end(); ++it) {
      if (!to.empty() && !(it->first < to)) return;
      if (!visit(it->first, it->second)) return;
    }
    return;
  }
  for (auto it = to.empty() ? map.end() : map.lower_bound(to); it != map.begin();) {
    --it;
    if (it->first < from) return;
    if (!visit(it->first, it->second)) return;
  }
}

}  // namespace parley::storage
