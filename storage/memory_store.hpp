// An in-memory Store for the simulator and tests: ordered tables and an undo log, so abort()
// restores exactly what begin() saw. Not thread-safe; one transaction at a time.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/store.hpp"

namespace parley::storage {

class MemoryStore final : public engine::Store {
 public:
  void begin() override;
  void commit() override;
  void abort() override;
  bool in_transaction() const override { return in_transaction_; }

  std::optional<std::string> get(engine::Table table, std::string_view key) const override;
  void put(engine::Table table, std::string_view key, std::string_view value) override;
  void erase(engine::Table table, std::string_view key) override;
  void scan(engine::Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& visit) const override;

  // Committed transactions so far; the simulator uses it to model commit cost.
  std::uint64_t commit_count() const { return commit_count_; }
  std::size_t size(engine::Table table) const { return tables_[index(table)].size(); }

 private:
  using Map = std::map<std::string, std::string, std::less<>>;
  struct Undo {
    engine::Table table;
    std::string key;
    std::optional<std::string> previous;  // nothing: the key did not exist
  };
  static std::size_t index(engine::Table table) { return static_cast<std::size_t>(table); }

  std::array<Map, engine::kTableCount> tables_;
  std::vector<Undo> undo_;
  bool in_transaction_ = false;
  std::uint64_t commit_count_ = 0;
};

}  // namespace parley::storage
