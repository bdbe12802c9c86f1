// A Store wrapper that fails or stalls commit() on demand, so the simulator (and tests) can
// drive a host into its commit-failure path: the node stops with exit 70 and restarts from
// its store; the simulator crashes and restarts the node (docs/scenarios.md, commit_failure).
#pragma once

#include <cstdint>

#include "engine/store.hpp"
#include "engine/types.hpp"

namespace parley::storage {

class FaultStore final : public engine::Store {
 public:
  // REQUIRES: `inner` outlives the wrapper.
  explicit FaultStore(engine::Store& inner) : inner_(inner) {}

  // The next `count` commits fail: the inner transaction is aborted (nothing of it is
  // written) and StoreError is thrown, as when the disk is full.
  void fail_commits(std::uint32_t count) { failing_ += count; }
  // Commits that start before `until` (the host's clock, µs) take `stall_us`: hosts with a
  // clock of their own (the simulator) read commit_latency() to schedule the commit's end.
  void stall_commits(engine::TimeUs until, engine::TimeUs stall_us) {
    stall_until_ = until;
    stall_us_ = stall_us;
  }
  // How long a commit started at `now` takes beyond `normal`.
  engine::TimeUs commit_latency(engine::TimeUs now, engine::TimeUs normal) const {
    return now < stall_until_ ? stall_us_ : normal;
  }
  std::uint64_t failed_commits() const { return failed_; }

  void begin() override { inner_.begin(); }
  void commit() override;
  void abort() override { inner_.abort(); }
  bool in_transaction() const override { return inner_.in_transaction(); }
  std::optional<std::string> get(engine::Table table, std::string_view key) const override {
    return inner_.get(table, key);
  }
  void put(engine::Table table, std::string_view key, std::string_view value) override {
    inner_.put(table, key, value);
  }
  void erase(engine::Table table, std::string_view key) override { inner_.erase(table, key); }
  void scan(engine::Table table, std::string_view from, std::string_view to, bool reverse,
            const Visitor& fn) const override {
    inner_.scan(table, from, to, reverse, fn);
  }

 private:
  engine::Store& inner_;
  std::uint32_t failing_ = 0;
  std::uint64_t failed_ = 0;
  engine::TimeUs stall_until_ = 0;
  engine::TimeUs stall_us_ = 0;
};

}  // namespace parley::storage
