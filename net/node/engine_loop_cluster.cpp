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
           "; start this node from a copy of a peer's store (docs/cluster.md)");
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

void EngineLoop::lead_batch(std::vector<Task>& tasks, bool tick, TimeUs now) {
  cluster::Replica& replica = cluster_->replica();
  Sealed batch;
  try {
    replica.begin_batch(now);
    Txn txn{core_, now, batch.after_commit};
    for (Task& task : tasks)
      task(txn);
    if (tick) core_.run(Tick{});
  } catch (const std::exception& error) {
    replica.abandon_batch();
    stop_on(error);
  }
  const auto started = std::chrono::steady_clock::now();
  cluster::Replica::Outcome outcome;
  try {
    outcome = replica.finish_batch(leading_);
  } catch (const host::LogUnavailable& error) {
    return stop_serving(std::string("the log append's outcome is unknown: ") + error.what());
  } catch (const std::exception& error) {
    stop_on(error);  // the local store failed after the append: restart, replay from the log
  }
  auto* released = std::get_if<cluster::Replica::Released>(&outcome);
  if (released == nullptr) {
    return stop_serving(std::holds_alternative<cluster::Replica::Deposed>(outcome)
                            ? "deposed: a newer leader holds the log"
                            : "behind: the log moved past this node");
  }
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - started)
                          .count();
  ++shared_.metrics.cluster_appends;
  shared_.metrics.cluster_append_micros += static_cast<std::uint64_t>(micros);
  shared_.metrics.cluster_applied_index = released->index;
  shared_.metrics.count_commit(tasks.size(), static_cast<std::uint64_t>(micros));
  release(std::move(released->effects));
  for (auto& reply : batch.after_commit)
    reply();
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
    while (replica.catch_up(512) > 0) {
    }
    const auto stale = core_.read([](const Engine& engine) { return engine.connection_ids(); });
    if (!stale.empty()) {
      std::vector<Input> inputs;
      for (ConnectionId id : stale)
        inputs.push_back(Disconnected{id});
      const auto outcome = replica.lead_batch(token, inputs, clock());
      if (!std::holds_alternative<cluster::Replica::Released>(outcome)) {
        log_line("cluster: takeover refused by the log; following");
        cluster_->step_down(token);
        return;
      }
      // Connection ids stay unique across leaders.
      ConnectionId next = shared_.next_connection.load();
      while (next <= stale.back() &&
             !shared_.next_connection.compare_exchange_weak(next, stale.back() + 1)) {
      }
    }
  } catch (const cluster::SnapshotNeeded& error) {
    exit_for_snapshot(error);
  } catch (const host::LogUnavailable& error) {
    log_line(std::string("cluster: takeover failed, etcd unreachable: ") + error.what());
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
