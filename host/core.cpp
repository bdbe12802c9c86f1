#include "host/core.hpp"

#include "host/coalesce.hpp"

#include <iterator>
#include <stdexcept>

namespace parley::host {

Core::Core(engine::Store& store, engine::EngineConfig config)
    : store_(store), config_(config), engine_(std::make_unique<engine::Engine>(store, config)) {}

Core::~Core() = default;

namespace {

// Runs `write` in a transaction of its own: committed if it returns, aborted if it throws.
template <typename F>
void in_own_transaction(engine::Store& store, F&& write) {
  store.begin();
  try {
    write();
  } catch (...) {
    store.abort();
    throw;
  }
  store.commit();
}

}  // namespace

void Core::open(TimeUs now) {
  in_own_transaction(store_, [&] { engine_->open(now); });
}

void Core::open() {
  in_own_transaction(store_, [&] { engine_->open(); });
}

void Core::restart(TimeUs now) {
  abort();
  engine_ = std::make_unique<engine::Engine>(store_, config_);
  open(now);
}

void Core::begin(TimeUs now) {
  if (in_batch_) throw std::logic_error("host::Core::begin: a batch is already open");
  store_.begin();
  in_batch_ = true;
  now_ = now;
}

std::span<engine::Effect> Core::run(const engine::Input& input) {
  require_batch();
  Effects effects = engine_->handle(input, now_);
  ++inputs_;
  if (input_log_ != nullptr) input_log_->push_back(input);
  const std::size_t first = batch_effects_.size();
  hold(std::move(effects));
  return std::span<engine::Effect>(batch_effects_).subspan(first);
}

void Core::hold(Effects effects) {
  if (batch_effects_.empty()) {
    batch_effects_ = std::move(effects);
    return;
  }
  batch_effects_.insert(batch_effects_.end(), std::make_move_iterator(effects.begin()),
                        std::make_move_iterator(effects.end()));
}

Effects Core::commit() {
  require_batch();
  if (!sealed_.empty()) {
    throw std::logic_error("host::Core::commit: sealed batches wait for their release");
  }
  try {
    store_.commit();
  } catch (...) {
    abort();
    throw;
  }
  in_batch_ = false;
  ++batches_;
  coalesce_receipts(batch_effects_);
  return std::exchange(batch_effects_, {});
}

std::uint64_t Core::seal() {
  require_batch();
  std::uint64_t ticket = 0;
  try {
    ticket = store_.seal();
  } catch (...) {
    abort();
    throw;
  }
  in_batch_ = false;
  ++batches_;
  coalesce_receipts(batch_effects_);
  sealed_.push_back(DurableBatch{ticket, std::exchange(batch_effects_, {})});
  return ticket;
}

std::vector<Core::DurableBatch> Core::take_durable() {
  std::vector<DurableBatch> durable;
  if (sealed_.empty()) return durable;
  const std::uint64_t through = store_.durable_ticket();
  while (!sealed_.empty() && sealed_.front().ticket <= through) {
    durable.push_back(std::move(sealed_.front()));
    sealed_.pop_front();
  }
  return durable;
}

void Core::abort() {
  sealed_.clear();
  batch_effects_.clear();
  if (!in_batch_) return;
  in_batch_ = false;
  if (store_.in_transaction()) store_.abort();
}

Effects Core::run_batch(std::span<const engine::Input> inputs, TimeUs now) {
  begin(now);
  try {
    for (const engine::Input& input : inputs)
      run(input);
  } catch (...) {
    abort();
    throw;
  }
  return commit();
}

void Core::require_batch() const {
  if (!in_batch_) throw std::logic_error("host::Core: no batch is open (call begin first)");
}

Core::ReadTransaction::ReadTransaction(Core& core) : store(core.store_) {
  if (core.in_batch_) throw std::logic_error("host::Core::read: a batch is open");
  store.begin();
}
Core::ReadTransaction::~ReadTransaction() {
  store.abort();
}

}  // namespace parley::host
