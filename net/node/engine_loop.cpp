#include "net/node/engine_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <string>

#include "host/release.hpp"
#include "net/node/push_worker.hpp"
#include "net/node/ws_session.hpp"

namespace parley::net {

using namespace parley::engine;

EngineLoop::EngineLoop(Shared& shared, Store& store)
    : shared_(shared),
      policy_(shared.config.batch),
      cadence_(policy_.tick_interval_us),
      core_(store, shared.config.engine) {
  core_.open(clock());
}

bool EngineLoop::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= shared_.config.queue_max) {
      ++shared_.metrics.queue_rejections;
      return false;
    }
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
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

void EngineLoop::run() {
  while (true) {
    bool stop_now = false;
    std::vector<Task> batch = next_batch(stop_now);
    const TimeUs now = clock();
    const bool tick = cadence_.due(now);
    if (!batch.empty() || tick) run_batch(batch, tick, now);
    if (stop_now) break;
  }
  if (last_) last_(*this);
}

std::vector<Task> EngineLoop::next_batch(bool& stop_now) {
  std::vector<Task> batch;
  std::unique_lock lock(mutex_);
  // Wakes at least every 200 ms even when idle, so ticks keep their cadence.
  wake_.wait_for(lock, std::chrono::milliseconds(200),
                 [&] { return stopping_ || !queue_.empty(); });
  if (policy_.max_wait_us > 0 && !stopping_ && !queue_.empty() &&
      queue_.size() < policy_.max_inputs) {
    wake_.wait_for(lock, std::chrono::microseconds(policy_.max_wait_us),
                   [&] { return stopping_ || queue_.size() >= policy_.max_inputs; });
  }
  while (!queue_.empty() && batch.size() < policy_.max_inputs) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  stop_now = stopping_ && queue_.empty();
  return batch;
}

TimeUs EngineLoop::clock() {
  last_now_ = std::max(last_now_ + 1, engine_clock_.now(wall_clock_us(), steady_now_us()));
  return last_now_;
}

void EngineLoop::run_batch(std::vector<Task>& batch, bool tick, TimeUs now) {
  std::vector<std::function<void()>> after_commit;
  Effects out;
  try {
    core_.begin(now);
    Txn txn{core_, now, after_commit};
    for (Task& task : batch)
      task(txn);
    if (tick) core_.run(Tick{});
    const auto started = std::chrono::steady_clock::now();
    out = core_.commit();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    shared_.metrics.count_commit(batch.size(), static_cast<std::uint64_t>(micros.count()));
  } catch (const std::exception& error) {
    // Nothing of this batch was released, and the engine's memory may now disagree with
    // the disk: stop, and let a restart rebuild from the store. A StoreError is the disk
    // (full, I/O, corrupt); anything else is a bug — client values are validated before
    // they reach the store (engine/store.hpp, storable_key), so no request can cause it.
    core_.abort();
    const bool disk = dynamic_cast<const StoreError*>(&error) != nullptr;
    log_line(std::string("fatal: ") + (disk ? "store failure: " : "internal error: ") +
             error.what() + "; stopping the node");
    std::_Exit(70);
  }
  release(std::move(out));
  for (auto& reply : after_commit)
    reply();
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
                });
}

}  // namespace parley::net
