#include "net/node/engine_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>

#include "host/release.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/push_worker.hpp"
#include "net/node/search_worker.hpp"
#include "net/node/ws_session.hpp"

namespace parley::net {

using namespace parley::engine;

EngineLoop::EngineLoop(Shared& shared, Store& store)
    : shared_(shared),
      store_(store),
      policy_(shared.config.batch),
      cadence_(policy_.tick_interval_us),
      own_core_(std::make_unique<host::Core>(store, shared.config.engine)),
      core_(*own_core_) {
  core_.open(clock());
}

EngineLoop::EngineLoop(Shared& shared, Store& store, ClusterMember& cluster)
    : shared_(shared),
      store_(store),
      cluster_(&cluster),
      policy_(shared.config.batch),
      cadence_(policy_.tick_interval_us),
      core_(cluster.replica().core()) {
  cluster.replica().open(clock());
  shared_.serving = false;  // until it leads
  idle_wait_ = std::chrono::milliseconds(20);
}

void EngineLoop::post_read(std::function<void(const Engine&, Store&)> read) {
  {
    std::lock_guard lock(mutex_);
    reads_.push_back(std::move(read));
  }
  wake_.notify_one();
}

void EngineLoop::run_reads() {
  std::vector<std::function<void(const Engine&, Store&)>> reads;
  {
    std::lock_guard lock(mutex_);
    reads.swap(reads_);
  }
  if (reads.empty() || core_.in_batch()) {
    std::lock_guard lock(mutex_);
    reads_.insert(reads_.end(), reads.begin(), reads.end());
    return;
  }
  for (auto& read : reads) {
    try {
      core_.read([&](const Engine& engine) { read(engine, store_); });
    } catch (const std::exception& error) {
      log_line(std::string("read failed: ") + error.what());
    }
  }
}

bool EngineLoop::post(Task task) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    const bool too_slow =
        !queue_.empty() && now - queue_.front().posted_at >
                               std::chrono::milliseconds(shared_.config.queue_delay_max_ms);
    if (stopping_ || queue_.size() >= shared_.config.queue_max || too_slow) {
      ++shared_.metrics.queue_rejections;
      return false;
    }
    queue_.push_back(Queued{std::move(task), now});
  }
  wake_.notify_one();
  return true;
}

std::size_t EngineLoop::pause_threshold() const {
  return std::max<std::size_t>(4 * policy_.max_inputs, 64);
}

bool EngineLoop::pause_reading(std::function<void()> resume) {
  std::lock_guard lock(mutex_);
  if (stopping_ || queue_.size() < pause_threshold()) return false;
  paused_.push_back(std::move(resume));
  ++shared_.metrics.reads_paused;
  return true;
}

void EngineLoop::stop(std::function<void(EngineLoop&)> last) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    last_ = std::move(last);
  }
  wake_.notify_one();
}

void EngineLoop::wake_for_durable() {
  {
    std::lock_guard lock(mutex_);
    durable_signal_ = true;
  }
  wake_.notify_one();
}

void EngineLoop::run() {
  while (true) {
    bool stop_now = false;
    std::vector<Task> tasks = next_batch(stop_now);
    if (cluster_ != nullptr) {
      run_cluster(tasks);
      run_reads();
      if (stop_now) break;
      continue;
    }
    release_durable();
    const TimeUs now = clock();
    const bool tick = cadence_.due(now);
    if (!tasks.empty() || tick) run_tasks(tasks, tick, now);
    // The open batch waits while a commit is in flight, gathering what arrives meanwhile,
    // and under load until the commit interval since the last seal has passed.
    if (core_.in_batch() && (forming_.inputs >= policy_.max_inputs || stop_now ||
                             (sealed_.empty() && commit_interval_left().count() <= 0))) {
      seal_batch();
    }
    run_reads();
    if (stop_now) break;
  }
  while (!sealed_.empty()) {
    wait_for_durable();
    release_durable();
  }
  if (last_) last_(*this);
}

// Nothing of the failed batch was released, and the engine's memory may now disagree with
// the disk: stop, and let a restart rebuild from the store. A StoreError is the disk (full,
// I/O, corrupt); anything else is a bug — client values are validated before they reach the
// store (engine/store.hpp, storable_key), so no request can cause it.
[[noreturn]] void EngineLoop::stop_on(const std::exception& error) {
  const bool disk = dynamic_cast<const StoreError*>(&error) != nullptr;
  log_line(std::string("fatal: ") + (disk ? "store failure: " : "internal error: ") + error.what() +
           "; stopping the node");
  std::_Exit(70);
}

std::vector<Task> EngineLoop::next_batch(bool& stop_now) {
  std::vector<Task> batch;
  std::vector<std::function<void()>> resume;
  std::unique_lock lock(mutex_);
  const std::size_t open = core_.in_batch() ? forming_.inputs : 0;
  const std::size_t room = sealed_.size() >= kMaxSealedBatches || open >= policy_.max_inputs
                               ? 0
                               : policy_.max_inputs - open;
  // Wakes at least every 200 ms even when idle, so ticks keep their cadence, whenever a
  // commit becomes durable, so its effects leave at once, and when the open batch's
  // commit interval ends with no commit in flight, so it seals then.
  auto wait = idle_wait_;
  if (core_.in_batch() && sealed_.empty()) {
    wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                              commit_interval_left() + std::chrono::microseconds(999)));
  }
  wake_.wait_for(lock, wait, [&] {
    return stopping_ || durable_signal_ || !reads_.empty() || (room > 0 && !queue_.empty());
  });
  durable_signal_ = false;
  if (room > 0 && policy_.max_wait_us > 0 && !stopping_ && !queue_.empty() &&
      queue_.size() < room) {
    wake_.wait_for(lock, std::chrono::microseconds(policy_.max_wait_us),
                   [&] { return stopping_ || queue_.size() >= room; });
  }
  while (!queue_.empty() && batch.size() < room) {
    batch.push_back(std::move(queue_.front().task));
    queue_.pop_front();
  }
  if (!paused_.empty() && queue_.size() <= pause_threshold() / 2) resume.swap(paused_);
  stop_now = stopping_ && queue_.empty();
  lock.unlock();
  for (auto& wake : resume)
    wake();
  return batch;
}

void EngineLoop::wait_for_durable() {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(200), [&] { return durable_signal_; });
  durable_signal_ = false;
}

std::chrono::microseconds EngineLoop::commit_interval_left() const {
  const auto since = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - last_seal_);
  return std::chrono::microseconds(policy_.commit_interval_us) - since;
}

TimeUs EngineLoop::clock() {
  last_now_ = std::max(last_now_ + 1, engine_clock_.now(wall_clock_us(), steady_now_us()));
  return last_now_;
}

void EngineLoop::run_tasks(std::vector<Task>& tasks, bool tick, TimeUs now) {
  try {
    if (!core_.in_batch()) {
      core_.begin(now);
      forming_ = Sealed{};
    }
    Txn txn{core_, core_.batch_time(), forming_.after_commit};
    for (Task& task : tasks)
      task(txn);
    forming_.inputs += tasks.size();
    if (tick) core_.run(Tick{});
  } catch (const std::exception& error) {
    core_.abort();
    stop_on(error);
  }
}

void EngineLoop::seal_batch() {
  try {
    forming_.ticket = core_.seal();
  } catch (const std::exception& error) {
    core_.abort();
    stop_on(error);
  }
  forming_.sealed_at = std::chrono::steady_clock::now();
  // A tick alone is not load: it does not hold back the input that follows it.
  if (forming_.inputs > 0) last_seal_ = forming_.sealed_at;
  sealed_.push_back(std::exchange(forming_, Sealed{}));
  release_durable();  // a store without a pipeline is durable already
}

void EngineLoop::release_durable() {
  std::vector<host::Core::DurableBatch> durable;
  try {
    durable = core_.take_durable();
  } catch (const std::exception& error) {
    core_.abort();
    stop_on(error);
  }
  const auto released_at = std::chrono::steady_clock::now();
  for (host::Core::DurableBatch& batch : durable) {
    Sealed& sealed = sealed_.front();
    // Seal to durable: the commit's wait as the batch's inputs saw it, fsync included.
    const auto micros =
        std::chrono::duration_cast<std::chrono::microseconds>(released_at - sealed.sealed_at);
    shared_.metrics.count_commit(sealed.inputs, static_cast<std::uint64_t>(micros.count()));
    release(std::move(batch.effects));
    for (auto& reply : sealed.after_commit)
      reply();
    sealed_.pop_front();
  }
}

void EngineLoop::to_index(Effect&& change) {
  if (shared_.search != nullptr) shared_.search->change(std::move(change));
}

// A search the engine scoped goes to the index's worker, which answers the session itself.
void EngineLoop::ask_index(SearchRequested&& search) {
  const auto session = sessions.find(search.connection);
  if (session == sessions.end()) return;  // the asker left
  const RequestId request = search.request;
  if (shared_.search == nullptr) {
    session->second->deliver(
        server::Failure{request, ErrorCode::search_unavailable, "this node keeps no search index"});
    return;
  }
  if (!shared_.search->search(std::move(search), session->second)) {
    shared_.metrics.count_error("overloaded");
    session->second->deliver(server::Failure{request, ErrorCode::overloaded,
                                             "too many searches wait for the index; retry later"});
  }
}

// Every effect of a committed batch, through host::release: a new kind of effect does not
// compile here until the node says what to do with it.
void EngineLoop::release(Effects effects) {
  host::release(std::move(effects),
                host::Overloaded{
                    [this](SendEvent&& send) {
                      // Connection 0 is an HTTP caller's (Stateless): the task that ran the
                      // input read its answer from the span Core::run returned, and answers
                      // after the commit (net/node/http_api.cpp, handle_for_caller).
                      if (send.connection == 0) return;
                      if (const auto* deliver = std::get_if<server::Deliver>(&send.event)) {
                        shared_.metrics.messages_delivered += deliver->entries.size();
                      } else if (std::holds_alternative<server::Presence>(send.event)) {
                        ++shared_.metrics.presence_events;
                      } else if (std::holds_alternative<server::Typing>(send.event)) {
                        ++shared_.metrics.typing_events;
                      } else if (std::holds_alternative<server::Receipt>(send.event) ||
                                 std::holds_alternative<server::Receipts>(send.event)) {
                        server::for_each_receipt(send.event, [&](auto, const auto&) {
                          ++shared_.metrics.receipt_events;
                        });
                      } else if (const auto* ack = std::get_if<server::SendAck>(&send.event)) {
                        if (!ack->duplicate) ++shared_.metrics.messages_sent;
                      } else if (const auto* failure = std::get_if<server::Failure>(&send.event)) {
                        shared_.metrics.count_error(std::string(to_string(failure->code)));
                      }
                      const auto session = sessions.find(send.connection);
                      if (session != sessions.end())
                        session->second->deliver(std::move(send.event));
                    },
                    [this](CloseConnection&& close) {
                      const auto session = sessions.find(close.connection);
                      if (session != sessions.end()) {
                        session->second->close_from_engine(close.reason);
                        sessions.erase(session);
                      }
                    },
                    [this](PushNotification&&) {
                      ++shared_.metrics.push_intents;
                      if (shared_.pushes != nullptr) shared_.pushes->wake();
                    },
                    [this](PushDropped&& dropped) {
                      ++shared_.metrics.push_dropped;
                      log_line("push outbox full: no push for user " +
                               std::to_string(dropped.user) + " about " +
                               std::to_string(dropped.channel) + "/" + std::to_string(dropped.seq));
                    },
                    [this](PresenceChange&&) { ++shared_.metrics.presence_changes; },
                    // Nothing to do: the task that submitted the account input read its
                    // result from the span Core::run returned, and answers after the commit.
                    [](AccountResult&&) {},
                    [this](IndexText&& text) { to_index(std::move(text)); },
                    [this](UnindexText&& text) { to_index(text); },
                    [this](SearchRequested&& search) { ask_index(std::move(search)); },
                });
}

}  // namespace parley::net
