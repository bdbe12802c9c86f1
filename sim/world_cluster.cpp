// A clustered world ([cluster]): one shard replicated on `replicas` nodes through the
// simulated etcd (sim/sim_etcd.hpp), run as `parley serve --etcd` runs it, with the same
// shared parts: cluster::Replica (append fenced, then commit, then release; followers
// replay) and cluster::Elector (campaign when caught up, renew, give up). What the
// production node does in its engine loop (net/node/engine_loop_cluster.cpp), the world
// does here: a new leader takes over (Replica::take_over) before its first batch, a batch
// the log refuses releases nothing and the node stops serving, and devices connect to the
// leader the directory names, or with [cluster] gateways through a gateway that relays
// them (world_gateways.cpp).
#include <algorithm>
#include <string>

#include "sim/world_impl.hpp"

namespace parley::sim::detail {

namespace {

std::string node_name(std::uint32_t index) {
  return "node-" + std::to_string(index);
}

constexpr TimeUs kReportInterval = 1'000'000;  // as ClusterMember::report_progress
constexpr TimeUs kTrimInterval = 10'000'000;
constexpr TimeUs kSampleInterval = 5'000'000;  // replica state digests for invariant 8

}  // namespace

void World::build_cluster() {
  etcd_ = std::make_unique<SimEtcd>(scenario_.etcd_members, scenario_.lease_ttl_s * 1'000'000);
  if (options_.planted_bug == PlantedBug::unfenced_append) etcd_->log().set_fencing(false);
  for (auto& owned : nodes_) {
    Node& node = *owned;
    node.etcd = std::make_unique<SimEtcdClient>(*etcd_, node.index, now_);
    node.replica = std::make_unique<cluster::Replica>(*node.store, *node.etcd, config_);
    node.core = &node.replica->core();
    node.elector = std::make_unique<cluster::Elector>(*node.etcd, node_name(node.index),
                                                      scenario_.lease_ttl_s);
    node.bound = &shard_bound_;
  }
  if (options_.planted_bug == PlantedBug::follower_skips_index && nodes_.size() > 1)
    nodes_[1]->etcd->skip_an_index_from(2);
}

void World::schedule_cluster(std::uint32_t index) {
  // The elector: a round per period of the node's own (drifting) monotonic clock.
  const auto elector_rounds = [this, index](auto& self) -> void {
    Node& node = *nodes_[index];
    elect(index);
    const TimeUs period =
        node.monotonic.global_interval(cluster::Elector::period_us(scenario_.lease_ttl_s));
    at(now_ + period, [self] { self(self); });
  };
  at(now_, [elector_rounds] { elector_rounds(elector_rounds); });
  // The follower's reads of the log.
  const auto follow_rounds = [this, index](auto& self) -> void {
    follow(*nodes_[index]);
    at(now_ + scenario_.follow_interval, [self] { self(self); });
  };
  at(now_ + scenario_.follow_interval, [follow_rounds] { follow_rounds(follow_rounds); });
  // Progress for trimming: every replica reports; the leader trims.
  const auto report_rounds = [this, index](auto& self) -> void {
    Node& node = *nodes_[index];
    if (node.up && !node.core->in_batch()) {
      try {
        node.replica->report_applied(node_name(index));
        if (node.token != 0 && now_ % kTrimInterval < kReportInterval) node.replica->trim_log();
      } catch (const host::LogUnavailable&) {
      }
    }
    at(now_ + kReportInterval, [self] { self(self); });
  };
  at(now_, [report_rounds] { report_rounds(report_rounds); });
}

// One round of the node's elector, and what its outcome means for the node.
void World::elect(std::uint32_t index) {
  Node& node = *nodes_[index];
  if (!node.up || !node.elector) return;
  const cluster::ElectionRound round = node.elector->round(
      node.monotonic.local(now_), node.ready && !node.committing, std::exchange(node.give_up, 0));
  Record r = cluster_record(node, RecordKind::leader);
  r.text = cluster::to_string(round.event);
  switch (round.event) {
    case cluster::ElectionEvent::none:
      return;
    case cluster::ElectionEvent::won:
      ++metrics_.leader_changes;
      r.flag = true;
      r.seq = round.token;
      record(r);
      take_over(node, round.token);
      return;
    case cluster::ElectionEvent::stepped_down:
      return;  // stop_serving recorded it
    case cluster::ElectionEvent::lease_expired:
    case cluster::ElectionEvent::unreachable:
      if (node.token != 0) stop_serving(node, std::string("leadership lost: ") + r.text);
      return;
  }
}

// The new leader applies the whole log, then ends the previous leader's connections in its
// first batches, logged like any input, before anything else it receives.
void World::take_over(Node& node, std::uint64_t token) {
  std::vector<Input> stale;
  const std::uint64_t failed_before = node.store->failed_commits();
  try {
    stale = node.replica->take_over();
  } catch (const host::LogUnavailable&) {
    node.give_up = token;
    return;
  } catch (const StoreError&) {
    stop_on_store_failure(node, failed_before);
    return;
  }
  node.time_floor = std::max(node.time_floor, node.replica->applied_now());
  node.token = token;
  if (leaderless_since_ > 0) {
    metrics_.longest_leaderless = std::max(metrics_.longest_leaderless, now_ - leaderless_since_);
    leaderless_since_ = 0;
  }
  for (Input& input : stale)
    node_input(node, std::move(input));
  // The delivery worker starts over from the durable outbox.
  const auto pending =
      node.core->read([](const Engine& engine) { return engine.push_intents_after(0, SIZE_MAX); });
  for (const PushIntent& intent : pending)
    push_attempt(node.index, intent, 1);
}

void World::follow(Node& node) {
  if (!node.up || node.token != 0 || node.core->in_batch()) return;
  const std::uint64_t failed_before = node.store->failed_commits();
  try {
    node.ready = node.replica->catch_up(512) < 512;
  } catch (const host::LogUnavailable&) {
    // etcd does not answer: try again at the next round
  } catch (const StoreError&) {
    stop_on_store_failure(node, failed_before);
  }
}

// A `commit_failure` hit a replica's own commit outside a leader's batch (applying the log):
// the process stops, as the production node does (exit 70), and replays from its applied
// index when its supervisor restarts it. An error nobody injected ends the run.
// REQUIRES: called from a `catch (const StoreError&)` block (it rethrows the error).
void World::stop_on_store_failure(Node& node, std::uint64_t failed_before) {
  if (node.store->failed_commits() == failed_before) throw;
  ++metrics_.commit_failures;
  crash(node.index, node.restart_after_failure, "commit failed");
}

// The log refused a batch or leadership ended: nothing of the batch was released; the node
// closes its clients' connections (they find the new leader through the directory),
// resigns, and follows.
void World::stop_serving(Node& node, const std::string& why) {
  ++metrics_.step_downs;
  Record r = cluster_record(node, RecordKind::leader);
  r.seq = node.token;
  r.text = why;
  record(r);
  node.give_up = node.token;
  node.token = 0;
  ++node.generation;  // its scheduled flushes, pushes and frames in flight are void
  node.pending.clear();
  node.flush_scheduled = false;
  // Closed with 1001 going away: what the node already wrote still reaches the client.
  for (ConnectionId id : node.links.ids()) {
    const Link* link = links_.find(id);
    if (link == nullptr) continue;
    const TimeUs when = std::max(now_ + scenario_.latency, link->last_to_client);
    at(when, [this, id] { drop_link(id, false); });
  }
  node.links.clear();
  note_if_leaderless();
  const std::uint32_t index = node.index;
  at(now_, [this, index] { elect(index); });  // resign now, as the elector thread wakes
}

// A leader's batch commit: Replica::finish_batch appends the batch to the log fenced by the
// token, then commits it locally; only then are its effects and records released.
void World::commit_replicated(Node& node) {
  node.committing = false;
  cluster::Replica::Outcome outcome;
  std::string refused;
  bool unknown = false;
  const std::uint64_t failed_before = node.store->failed_commits();
  const std::uint64_t index = node.log_last_before_batch + 1;
  const auto landed = [&] {
    const auto entry = etcd_->log().entry(index);
    return entry && entry->token == node.token;
  };
  const auto log_it = [&] {
    Record r = cluster_record(node, RecordKind::logged);
    r.seq = index;
    r.inbox_seq = node.token;
    record(r);
    ++metrics_.log_appends;
    if (const auto entry = etcd_->log().entry(index)) metrics_.log_bytes += entry->bytes.size();
  };
  const auto keep_records = [&] {
    for (Record& r : node.batch_records) {
      r.at = now_;
      history_.push_back(std::move(r));
    }
    node.batch_records.clear();
  };
  try {
    outcome = node.replica->finish_batch(node.token);
  } catch (const host::LogUnavailable& error) {
    refused = std::string("the append's outcome is unknown: ") + error.what();
    unknown = true;
  } catch (const StoreError&) {
    if (node.store->failed_commits() == failed_before) throw;
    // The entry is in the log; the local commit failed: the node stops and replays.
    ++metrics_.commit_failures;
    log_it();
    keep_records();  // and the shard's bound connections stay as the batch left them:
    crash(node.index, node.restart_after_failure, "commit failed");
    return;
  }
  auto* released = std::get_if<cluster::Replica::Released>(&outcome);
  if (refused.empty() && released != nullptr) {
    ++metrics_.commits;
    if (released->index == index) log_it();
    record_receipts(node, released->effects, node.core->batch_time());
    keep_records();
    release(node, std::move(released->effects));
    flush_soon(node);
    return;
  }
  if (refused.empty()) {  // deposed or behind: nothing of the batch landed
    refused = std::holds_alternative<cluster::Replica::Deposed>(outcome)
                  ? "deposed: a newer leader holds the log"
                  : "behind: the log moved past this node";
  }
  if (unknown && landed()) {
    // The append landed though its leader cannot know: the batch is the shard's state (the
    // replicas apply it), but nothing of it is released; clients resend.
    log_it();
    keep_records();
  } else {
    *node.bound = node.bound_before_batch;
    node.batch_records.clear();
  }
  stop_serving(node, refused);
}

// The shard's leader as the directory names it, if it is up and serving; else nullptr.
Node* World::serving_leader() {
  const auto leader = etcd_->leader_node(now_);
  Node* node = leader ? nodes_[*leader].get() : nullptr;
  return node != nullptr && node->up && node->token != 0 ? node : nullptr;
}

// A leader stopped serving: if no replica serves now, the shard is leaderless from now.
void World::note_if_leaderless() {
  const bool anyone_serving = std::any_of(nodes_.begin(), nodes_.end(),
                                          [](const auto& n) { return n->up && n->token != 0; });
  if (!anyone_serving && leaderless_since_ == 0) leaderless_since_ = now_;
}

// A record about one replica (not the shard: `node` is the replica's index).
Record World::cluster_record(Node& node, RecordKind kind) {
  Record r;
  r.kind = kind;
  r.node = node.index;
  r.node_time = node_time(node);
  return r;
}

void World::replica_record(Node& node, const std::string& what, bool final) {
  Record r = cluster_record(node, RecordKind::replica);
  r.text = what;
  r.flag = final;
  if (what == "state") {
    const auto [applied, digest] = node.core->read([&](const Engine&) {
      return std::pair{cluster::applied_index_of(*node.store), cluster::state_digest(*node.store)};
    });
    r.seq = applied;
    r.inbox_seq = digest;
  }
  record(r);
}

// Every few seconds, each replica's applied index and state digest (invariant 8 compares
// replicas at equal indexes).
void World::sample_replicas() {
  for (auto& node : nodes_) {
    if (node->up && !node->core->in_batch()) replica_record(*node, "state");
  }
  at(now_ + kSampleInterval, [this] { sample_replicas(); });
}

// The end: etcd whole again, every replica caught up with the whole log, and each one's
// final state recorded.
void World::finish_cluster() {
  etcd_->heal_all(now_);
  for (auto& node : nodes_) {
    if (!node->up) restart(node->index);
    node->core->abort();  // a batch whose commit is still under way never commits
    node->committing = false;
    try {
      while (node->replica->catch_up(512) > 0) {
      }
    } catch (const host::LogUnavailable&) {
    }
    replica_record(*node, "state", true);
  }
}

void World::cluster_fault(const Fault& fault, const std::string& where) {
  const std::uint32_t node = fault.node;
  switch (fault.kind) {
    case FaultKind::kill_leader: {
      const auto leader = std::find_if(nodes_.begin(), nodes_.end(),
                                       [](const auto& n) { return n->up && n->token != 0; });
      if (leader == nodes_.end()) {
        fault_record(where + "kill_leader: no replica leads");
        return;
      }
      fault_record(where + "kill_leader: node " + std::to_string((*leader)->index));
      crash((*leader)->index, fault.duration);
      return;
    }
    case FaultKind::etcd_partition:
      fault_record(where + "etcd_partition: node " + std::to_string(node));
      etcd_->cut_off(node, true);
      at(now_ + fault.duration, [this, node] { etcd_->cut_off(node, false); });
      return;
    case FaultKind::append_unknown: {
      const bool lands = fault.lands.value_or(rng_.below(2) == 1);
      fault_record(where + "append_unknown: the next append " + (lands ? "lands" : "is lost"));
      etcd_->log().fail_next_append(lands);
      return;
    }
    case FaultKind::lease_skew: {
      fault_record(where + "lease_skew: node " + std::to_string(node));
      etcd_->lose_keep_alives(node, true);
      Node& skewed = *nodes_[node];
      const std::int64_t before = skewed.monotonic.drift_ppm;
      skewed.monotonic = Clock{now_, skewed.monotonic.local(now_) - now_, fault.drift_ppm};
      at(now_ + fault.duration, [this, node, before] {
        etcd_->lose_keep_alives(node, false);
        Node& n = *nodes_[node];
        n.monotonic = Clock{now_, n.monotonic.local(now_) - now_, before};
      });
      return;
    }
    case FaultKind::etcd_kill: {
      const TimeUs election =
          scenario_.etcd_election / 2 + rng_.between(0, scenario_.etcd_election);  // 0.5-1.5x
      const std::uint32_t member = fault.member.value_or(etcd_->leader_member());
      fault_record(where + "etcd_kill: " + etcd_->kill(member, now_, election));
      at(now_ + fault.duration,
         [this, member, election] { etcd_->revive(member, now_, election); });
      return;
    }
    case FaultKind::kill_gateway: {
      std::uint32_t gateway = 0;
      for (std::uint32_t g = 1; g < gateways_.size(); ++g) {
        if (gateways_[g].clients.size() > gateways_[gateway].clients.size()) gateway = g;
      }
      kill_gateway(fault.gateway.value_or(gateway), fault.duration, where);
      return;
    }
    default:
      return;
  }
}

}  // namespace parley::sim::detail
