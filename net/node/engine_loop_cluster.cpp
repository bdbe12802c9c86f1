// The engine loop of a cluster node (docs/cluster.md, "Running a cluster"). The leader runs
// batches as a single node does, but a batch's commit is Replica::finish_batch: the batch is
// appended to the log on an etcd quorum, fenced by the leadership token, and only then
// committed locally and released. A follower applies the log and serves no client. Any
// batch the log refuses (fenced, taken, outcome unknown) releases nothing: the node stops
// serving, closes its WebSockets (their clients reconnect through /v1/discover) and follows.
#include <chrono>

#include "cluster/input_codec.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/engine_loop.hpp"
#include "net/node/ws_session.hpp"

namespace parley::net {

using namespace parley::engine;

namespace {

// The log no longer holds this node's next entry: replaying cannot bring it up to date.
[[noreturn]] void exit_for_snapshot(const cluster::SnapshotNeeded& error) {
  log_line(std::string("fatal: ") + error.what() +
           "; restart this node: at start it copies a peer's store (docs/cluster.md)");
  std::_Exit(75);
}

}  // namespace

void EngineLoop::run_cluster(std::vector<Task>& tasks) {
  const std::uint64_t token = cluster_->token();
  if (token != leading_) change_role(token);
  cluster_->report_progress();
  if (leading_ == 0) {
    // A task would write outside the log: dropped, unanswered (its client reconnects; the
    // WebSockets were closed when this node stopped serving).
    tasks.clear();
    return follow();
  }
  const TimeUs now = clock();
  const bool tick = cadence_.due(now);
  if (!tasks.empty() || tick) lead_batch(tasks, tick, now);
}

// A batch is cut once its log entry nears this size: etcd refuses requests over 1.5 MiB by
// default, and one more input (at most a 400 KB message) must still fit.
constexpr std::size_t kBatchCutBytes = 768 << 10;

void EngineLoop::lead_batch(std::vector<Task>& tasks, bool tick, TimeUs now) {
  std::size_t next = 0;
  do {
    const std::size_t first = next;
    cluster::Replica& replica = cluster_->replica();
    Sealed batch;
    try {
      replica.begin_batch(now);
      Txn txn{core_, now, batch.after_commit};
      while (next < tasks.size() && replica.batch_bytes() < kBatchCutBytes)
        tasks[next++](txn);
      if (tick && next == tasks.size()) core_.run(Tick{});
    } catch (const std::exception& error) {
      stop_on(error);
    }
    if (!finish_batch(batch, next - first)) return;
  } while (next < tasks.size());
}

bool EngineLoop::finish_batch(Sealed& batch, std::size_t inputs) {
  cluster::Replica& replica = cluster_->replica();
  const auto started = std::chrono::steady_clock::now();
  cluster::Replica::Outcome outcome;
  try {
    outcome = replica.finish_batch(leading_);
  } catch (const host::LogUnavailable& error) {
    stop_serving(std::string("the log append's outcome is unknown: ") + error.what());
    return false;
  } catch (const cluster::EtcdError& error) {
    // etcd refused the request (too large, out of space): nothing landed.
    stop_serving(std::string("etcd refused the append: ") + error.what());
    return false;
  } catch (const std::exception& error) {
    stop_on(error);  // the local store failed after the append: restart, replay from the log
  }
  auto* released = std::get_if<cluster::Replica::Released>(&outcome);
  if (released == nullptr) {
    stop_serving(std::holds_alternative<cluster::Replica::Deposed>(outcome)
                     ? "deposed: a newer leader holds the log"
                     : "behind: the log moved past this node");
    return false;
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  if (released->index > shared_.metrics.cluster_applied_index.load()) {  // not an empty batch
    ++shared_.metrics.cluster_appends;
    shared_.metrics.cluster_append_micros += static_cast<std::uint64_t>(micros);
    shared_.metrics.cluster_append_bytes += replica.last_entry_bytes();
  }
  shared_.metrics.cluster_applied_index = released->index;
  shared_.metrics.count_commit(inputs, static_cast<std::uint64_t>(micros));
  release(std::move(released->effects));
  for (auto& reply : batch.after_commit)
    reply();
  return true;
}

void EngineLoop::change_role(std::uint64_t token) {
  if (leading_ != 0) stop_serving("leadership lost");
  if (token != 0) take_over(token);
}

// The new leader first applies everything the log holds, then disconnects the connections
// its engine still has (the old leader's: their sockets died with it, or were closed when
// it stopped serving), logged like any input, and only then serves.
void EngineLoop::take_over(std::uint64_t token) {
  cluster::Replica& replica = cluster_->replica();
  try {
    const std::vector<Input> stale = replica.take_over();
    // Engine time never runs backwards across leaders.
    last_now_ = std::max(last_now_, replica.applied_now());
    constexpr std::size_t kPerBatch = 10'000;  // well inside one log entry
    for (std::size_t first = 0; first < stale.size(); first += kPerBatch) {
      const std::size_t end = std::min(stale.size(), first + kPerBatch);
      const auto outcome =
          replica.lead_batch(token, std::span(stale).subspan(first, end - first), clock());
      ++shared_.metrics.cluster_appends;
      if (!std::holds_alternative<cluster::Replica::Released>(outcome)) {
        log_line("cluster: takeover refused by the log; following");
        cluster_->step_down(token);
        return;
      }
    }
    if (!stale.empty()) {
      // Connection ids stay above every one the engine held.
      const ConnectionId highest = std::get<Disconnected>(stale.back()).connection;
      ConnectionId next = shared_.next_connection.load();
      while (next <= highest && !shared_.next_connection.compare_exchange_weak(next, highest + 1)) {
      }
    }
  } catch (const cluster::SnapshotNeeded& error) {
    exit_for_snapshot(error);
  } catch (const std::exception& error) {
    // etcd unreachable or refusing, a corrupt entry: whatever it is, another node may do
    // better; a store failure recurs here and stops the node at its next batch.
    log_line(std::string("cluster: takeover failed: ") + error.what());
    cluster_->step_down(token);
    return;
  }
  leading_ = token;
  shared_.metrics.cluster_leader = 1;
  shared_.metrics.cluster_applied_index = replica.applied_index();
  shared_.serving = true;
  log_line("cluster: serving as leader at log index " + std::to_string(replica.applied_index()));
}

void EngineLoop::stop_serving(const std::string& why) {
  log_line("cluster: stopped serving: " + why);
  ++shared_.metrics.cluster_step_downs;
  shared_.serving = false;
  shared_.metrics.cluster_leader = 0;
  cluster_->step_down(leading_);
  leading_ = 0;
  for (auto& [id, session] : sessions)
    session->close_going_away();
  sessions.clear();
}

void EngineLoop::follow() {
  cluster::Replica& replica = cluster_->replica();
  try {
    const std::size_t applied = replica.catch_up(512);
    // Caught up: this node may campaign (a node far behind would lead nobody meanwhile).
    cluster_->set_ready(applied < 512);
    shared_.metrics.cluster_entries_applied += applied;
    if (applied > 0) shared_.metrics.cluster_applied_index = replica.applied_index();
  } catch (const cluster::SnapshotNeeded& error) {
    exit_for_snapshot(error);
  } catch (const host::LogUnavailable& error) {
    static std::int64_t last_logged_us = 0;  // engine thread only
    if (steady_now_us() - last_logged_us > 5'000'000) {
      last_logged_us = steady_now_us();
      log_line(std::string("cluster: cannot read the log: ") + error.what());
    }
  } catch (const std::exception& error) {
    stop_on(error);  // a corrupt entry, or the store failed
  }
}

}  // namespace parley::net
