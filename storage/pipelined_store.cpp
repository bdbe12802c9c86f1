#include "storage/pipelined_store.hpp"
#include "storage/named_thread.hpp"

#include <chrono>
#include <stdexcept>
#include <utility>
#include <vector>

namespace parley::storage {

using engine::StoreError;
using engine::Table;

namespace {

std::size_t index(Table table) {
  return static_cast<std::size_t>(table);
}

}  // namespace

PipelinedStore::PipelinedStore(LmdbStore& durable)
    : durable_(durable),
      reader_(durable),
      thread_(named_thread("parley-commit", [this] { committer(); })) {}

PipelinedStore::PipelinedStore(std::unique_ptr<LmdbStore> durable)
    : owned_(std::move(durable)),
      durable_(*owned_),
      reader_(*owned_),
      thread_(named_thread("parley-commit", [this] { committer(); })) {}

PipelinedStore::~PipelinedStore() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_.notify_one();
  thread_.join();  // the committer writes what was sealed before it stops
}

void PipelinedStore::set_on_durable(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_durable_ = std::move(callback);
}

PipelinedStore::Stats PipelinedStore::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void PipelinedStore::begin() {
  if (open_ != nullptr) throw StoreError("begin() inside an open transaction");
  retire_durable();
  open_ = std::make_unique<Layer>();
}

void PipelinedStore::abort() {
  if (open_ == nullptr) throw StoreError("abort() without a transaction");
  open_.reset();
}

std::uint64_t PipelinedStore::seal() {
  if (open_ == nullptr) throw StoreError("commit() without a transaction");
  open_->ticket = next_ticket_++;
  LayerPtr layer(std::move(open_));
  sealed_.push_back(layer);
  {
    std::lock_guard lock(mutex_);
    to_commit_.push_back(std::move(layer));
  }
  work_.notify_one();
  return sealed_.back()->ticket;
}

void PipelinedStore::commit() {
  wait_durable(seal());
}

std::uint64_t PipelinedStore::wait_durable(std::uint64_t ticket) {
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return failure_ || durable_through_ >= ticket; });
  if (failure_) std::rethrow_exception(failure_);
  lock.unlock();
  return durable_ticket();
}

std::uint64_t PipelinedStore::durable_ticket() {
  std::uint64_t through = 0;
  {
    std::lock_guard lock(mutex_);
    if (failure_) std::rethrow_exception(failure_);
    through = durable_through_;
  }
  if (open_ == nullptr) retire_durable();
  return through;
}

// Engine thread, between transactions: layers the snapshot now holds leave the read path,
// and the snapshot moves forward in the same step (a read between the two would miss them).
void PipelinedStore::retire_durable() {
  std::uint64_t through = 0;
  {
    std::lock_guard lock(mutex_);
    through = durable_through_;
  }
  if (through == retired_through_) return;
  reader_.refresh();
  while (!sealed_.empty() && sealed_.front()->ticket <= through)
    sealed_.pop_front();
  retired_through_ = through;
}

const std::optional<std::string>* PipelinedStore::find_in_layers(Table table,
                                                                 std::string_view key) const {
  const auto find = [&](const Layer& layer) -> const std::optional<std::string>* {
    const auto& map = layer.tables[index(table)];
    const auto found = map.find(key);
    return found == map.end() ? nullptr : &found->second;
  };
  if (open_ != nullptr) {
    if (const auto* value = find(*open_)) return value;
  }
  for (auto it = sealed_.rbegin(); it != sealed_.rend(); ++it) {
    if (const auto* value = find(**it)) return value;
  }
  return nullptr;
}

std::optional<std::string> PipelinedStore::get(Table table, std::string_view key) const {
  if (open_ == nullptr) throw StoreError("read outside a transaction");
  if (const auto* value = find_in_layers(table, key)) return *value;
  return reader_.get(table, key);
}

void PipelinedStore::put(Table table, std::string_view key, std::string_view value) {
  if (open_ == nullptr) throw StoreError("write outside a transaction");
  engine::require_storable(table, key);
  open_->tables[index(table)].insert_or_assign(std::string(key), std::string(value));
  ++open_->writes;
}

void PipelinedStore::erase(Table table, std::string_view key) {
  if (open_ == nullptr) throw StoreError("write outside a transaction");
  if (!engine::storable_key(key)) return;  // no such key can exist
  open_->tables[index(table)].insert_or_assign(std::string(key), std::nullopt);
  ++open_->writes;
}

// The layers' entries in [from, to) merged with the snapshot's, in key order: a layer's
// entry replaces the snapshot's (an erase hides it), a newer layer's replaces an older's.
void PipelinedStore::scan(Table table, std::string_view from, std::string_view to, bool reverse,
                          const Visitor& visit) const {
  if (open_ == nullptr) throw StoreError("read outside a transaction");
  if (!to.empty() && to <= from) return;  // an empty range
  std::map<std::string_view, const std::optional<std::string>*> overlay;
  const auto gather = [&](const Layer& layer) {
    const auto& map = layer.tables[index(table)];
    const auto last = to.empty() ? map.end() : map.lower_bound(to);
    for (auto it = map.lower_bound(from); it != last; ++it)
      overlay.insert_or_assign(std::string_view(it->first), &it->second);
  };
  for (const LayerPtr& layer : sealed_)
    gather(*layer);
  gather(*open_);
  if (overlay.empty()) {
    reader_.scan(table, from, to, reverse, visit);
    return;
  }
  const auto merge = [&](auto next, auto end, auto before) {
    bool going = true;
    // Layer entries that sort before `key` (all of them when `key` is empty and final).
    const auto drain_before = [&](std::string_view key, bool all) {
      while (going && next != end && (all || before(next->first, key))) {
        if (next->second->has_value()) going = visit(next->first, **next->second);
        ++next;
      }
    };
    reader_.scan(table, from, to, reverse, [&](std::string_view key, std::string_view value) {
      drain_before(key, false);
      if (!going) return false;
      if (next != end && next->first == key) {  // the layers' version wins
        if (next->second->has_value()) going = visit(key, **next->second);
        ++next;
        return going;
      }
      going = visit(key, value);
      return going;
    });
    drain_before({}, true);
  };
  if (!reverse) {
    merge(overlay.cbegin(), overlay.cend(),
          [](std::string_view a, std::string_view b) { return a < b; });
  } else {
    merge(overlay.crbegin(), overlay.crend(),
          [](std::string_view a, std::string_view b) { return a > b; });
  }
}

// The committer thread: everything sealed since the last commit goes into one LMDB
// transaction, in seal order, with one fsync.
void PipelinedStore::committer() {
  std::unique_lock lock(mutex_);
  while (true) {
    work_.wait(lock, [&] { return stopping_ || !to_commit_.empty(); });
    if (to_commit_.empty()) return;  // stopping, nothing left
    std::deque<LayerPtr> layers = std::exchange(to_commit_, {});
    if (failure_) continue;  // sticky: nothing after a failed commit becomes durable
    lock.unlock();
    std::exception_ptr failure;
    std::uint64_t sync_micros = 0;
    const auto started = std::chrono::steady_clock::now();
    try {
      sync_micros = commit_layers(layers);
    } catch (...) {
      failure = std::current_exception();
    }
    const auto micros =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
    lock.lock();
    if (failure) {
      failure_ = failure;
    } else {
      durable_through_ = layers.back()->ticket;
      ++stats_.commits;
      stats_.layers += layers.size();
      for (const LayerPtr& layer : layers)
        stats_.writes += layer->writes;
      stats_.commit_micros += micros;
      stats_.sync_micros += sync_micros;
      stats_.max_commit_micros = std::max(stats_.max_commit_micros, micros);
    }
    const std::function<void()> notify = on_durable_;
    done_.notify_all();
    lock.unlock();
    if (notify) notify();
    lock.lock();
  }
}

std::uint64_t PipelinedStore::commit_layers(const std::deque<LayerPtr>& layers) {
  durable_.begin();
  try {
    for (const LayerPtr& layer : layers) {
      for (std::size_t t = 0; t < engine::kTableCount; ++t) {
        for (const auto& [key, value] : layer->tables[t]) {
          if (value) {
            durable_.put(static_cast<Table>(t), key, *value);
          } else {
            durable_.erase(static_cast<Table>(t), key);
          }
        }
      }
    }
  } catch (...) {
    durable_.abort();
    throw;
  }
  const auto started = std::chrono::steady_clock::now();
  durable_.commit();
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count());
}

}  // namespace parley::storage
