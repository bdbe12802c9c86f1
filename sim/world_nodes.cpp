// The nodes: inputs queue into batches, a batch runs through the engine on host::Core and
// commits, and only then are its effects released; a failed commit, crash and restart.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <set>

#include "host/release.hpp"

namespace parley::sim::detail {
namespace {

// PlantedBug::read_receipt_early: a receipt event says the member read what was delivered.
void claim_read_at_delivery(server::Event& event) {
  server::for_each_receipt(
      event, [](ChannelId, server::ReceiptEntry& entry) { entry.read_seq = entry.delivered_seq; });
}

// PlantedBug::revision_sent_twice: the event is a Deliver holding an edited or deleted entry.
bool holds_revision(const server::Event& event) {
  const auto* deliver = std::get_if<server::Deliver>(&event);
  if (deliver == nullptr) return false;
  return std::any_of(deliver->entries.begin(), deliver->entries.end(),
                     [](const InboxEntry& entry) { return entry.message.target != 0; });
}

// PlantedBug::deleted_text_served: deleted messages get a text back, as if it had only been
// hidden.
void serve_deleted_text(server::Event& event) {
  const auto restore = [](Message& message) {
    if (message.kind != MessageKind::text || !message.deleted) return;
    message.deleted = false;
    message.text = "text that was deleted";
  };
  const auto restore_quote = [](Message& message) {
    if (message.reply_to == 0 || !message.quote.deleted) return;
    message.quote.deleted = false;
    message.quote.text = "text that was deleted";
  };
  if (auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (InboxEntry& entry : deliver->entries) {
      restore(entry.message);
      restore_quote(entry.message);
    }
  } else if (auto* page = std::get_if<server::HistoryPage>(&event)) {
    for (Message& message : page->messages) {
      restore(message);
      restore_quote(message);
    }
  }
}

// PlantedBug::outside_text_served: what the engine held back from a reader outside the
// original's windows (an unavailable quote, an edit's text) comes with a text.
void serve_outside_text(server::Event& event) {
  const auto leak = [](Message& message) {
    if (message.reply_to != 0 && message.quote.unavailable) {
      message.quote = {1, "text from outside the window", false, false, false};
    }
    if (message.kind == MessageKind::edited && message.text.empty() && !message.deleted &&
        message.edited_seq == 0) {
      message.text = "text from outside the window";
    }
  };
  if (auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (InboxEntry& entry : deliver->entries)
      leak(entry.message);
  } else if (auto* page = std::get_if<server::HistoryPage>(&event)) {
    for (Message& message : page->messages)
      leak(message);
  }
}

}  // namespace

TimeUs World::node_time(Node& node) {
  return std::max(node.time_floor,
                  node.engine_clock.now(node.clock.local(now_), node.monotonic.local(now_)));
}

void World::schedule_tick(std::uint32_t index) {
  at(now_ + scenario_.tick, [this, index] {
    node_input(*nodes_[index], Tick{});
    schedule_tick(index);
  });
}

void World::node_input(Node& node, Input input) {
  if (!node.up) return;
  if (clustered() && node.token == 0) return;  // a follower takes no input (not_leader)
  node.pending.push_back(std::move(input));
  if (node.committing || node.flush_scheduled) {
    if (node.pending.size() < scenario_.batch_max || node.committing) return;
  }
  node.flush_scheduled = true;
  const std::uint64_t generation = node.generation;
  const TimeUs wait = node.pending.size() >= scenario_.batch_max ? 0 : scenario_.batch_wait;
  at(now_ + wait, [this, &node, generation] {
    if (node.generation != generation || !node.up) return;
    flush(node);
  });
}

// Runs a batch through the engine inside one transaction (host::Core::begin/run); the
// effects wait in the core for the commit, which takes the store's simulated latency.
void World::flush(Node& node) {
  node.flush_scheduled = false;
  if (node.committing || node.pending.empty()) return;
  const TimeUs local = node_time(node);
  if (clustered()) {
    node.bound_before_batch = *node.bound;
    node.log_last_before_batch = etcd_->log().last_index();
    node.replica->begin_batch(local);
  } else {
    node.core->begin(local);
  }
  const bool early = options_.planted_bug == PlantedBug::release_before_append;
  const std::size_t count = std::min<std::size_t>(node.pending.size(), scenario_.batch_max);
  for (std::size_t i = 0; i < count; ++i) {
    Input input = std::move(node.pending.front());
    node.pending.pop_front();
    record_input(node, input, local);
    for (Effect& effect : node.core->run(input)) {
      record_effect(node, effect, local);
      if (early && std::holds_alternative<SendEvent>(effect)) {
        // PLANTED BUG: out before the log append; the release skips it (moved from).
        SendEvent& send = std::get<SendEvent>(effect);
        if (const auto* receipt = std::get_if<server::Receipt>(&send.event))
          receipt_record(node, send.connection, *receipt, local);
        to_client(send.connection, std::move(send.event));
        send.connection = 0;
      }
    }
  }
  metrics_.engine_inputs += count;
  node.committing = true;
  // A `slow_commit` fault stalls the store's commits for a while; a cluster's leader also
  // waits for the log append's quorum round trip.
  const TimeUs latency = node.store->commit_latency(now_, scenario_.commit) +
                         (clustered() ? scenario_.append_time : 0);
  const std::uint64_t generation = node.generation;
  at(now_ + latency, [this, &node, generation] {
    if (node.generation != generation) return;
    commit(node);
  });
}

// The commit ends: only now may the batch's effects (and its records) leave the node. A
// commit that fails (a `commit_failure` fault) takes the production node's path: nothing of
// the batch is released, the node stops (exit 70) and its supervisor restarts it from the
// store. A store error nobody injected is the run's end, as before (parley sim exits 5).
void World::commit(Node& node) {
  if (clustered()) return commit_replicated(node);
  const std::uint64_t failed_before = node.store->failed_commits();
  Effects effects;
  try {
    effects = node.core->commit();
  } catch (const StoreError&) {
    if (node.store->failed_commits() == failed_before) throw;
    ++metrics_.commit_failures;
    crash(node.index, node.restart_after_failure, "commit failed");
    return;
  }
  ++metrics_.commits;
  record_receipts(node, effects, node.core->batch_time());
  for (Record& r : node.batch_records) {
    r.at = now_;
    history_.push_back(std::move(r));
  }
  node.batch_records.clear();
  node.committing = false;
  release(node, std::move(effects));
  flush_soon(node);
}

// Inputs that queued while a batch committed go into the next one at once.
void World::flush_soon(Node& node) {
  if (node.pending.empty() || node.flush_scheduled) return;
  node.flush_scheduled = true;
  const std::uint64_t generation = node.generation;
  at(now_, [this, &node, generation] {
    if (node.generation == generation && node.up) flush(node);
  });
}

// A committed batch's effects, in order, through the one exhaustive dispatcher
// (host/release.hpp): an effect the simulator does not handle fails to compile.
void World::release(Node& node, Effects effects) {
  host::release(
      std::move(effects),
      host::Overloaded{
          [&](SendEvent&& send) {
            const bool twice = options_.planted_bug == PlantedBug::presence_sent_twice &&
                               std::holds_alternative<server::Presence>(send.event);
            const bool typing_twice = options_.planted_bug == PlantedBug::typing_sent_twice &&
                                      std::holds_alternative<server::Typing>(send.event);
            const bool revision_twice = options_.planted_bug == PlantedBug::revision_sent_twice &&
                                        holds_revision(send.event);
            if (twice || typing_twice || revision_twice) {
              to_client(send.connection, send.event);  // PLANTED BUG
            }
            if (options_.planted_bug == PlantedBug::read_receipt_early) {
              claim_read_at_delivery(send.event);  // PLANTED BUG
            }
            if (options_.planted_bug == PlantedBug::deleted_text_served) {
              serve_deleted_text(send.event);  // PLANTED BUG
            }
            if (options_.planted_bug == PlantedBug::outside_text_served) {
              serve_outside_text(send.event);  // PLANTED BUG
            }
            if (options_.planted_bug == PlantedBug::request_counted) {
              count_requests_anyway(send.connection, send.event);  // PLANTED BUG
            }
            to_client(send.connection, std::move(send.event));
          },
          [&](CloseConnection&& close) {
            node.links.erase(close.connection);
            const ConnectionId id = close.connection;
            // The client sees the close after the frames already on the way.
            const Link* link = links_.find(id);
            if (link == nullptr) return;
            const TimeUs when = std::max(now_ + scenario_.latency, link->last_to_client);
            if (link->relay != 0) {  // the gateway passes the close on
              return at(when, [this, id] { upstream_closed_by_leader(id); });
            }
            at(when, [this, id] { drop_link(id, false); });
          },
          [&](PushNotification&& push) {
            ++metrics_.pushes;
            push_attempt(node.index, push.intent, 1);
          },
          [&](PresenceChange&&) { ++metrics_.presence_changes; },
          // The outbox was full: nothing to deliver (the node's metrics count it).
          [&](PushDropped&&) {},
          // The simulator submits no account inputs; a host that does reads the
          // result from the span Core::run returned, so nothing is left to do here.
          [&](AccountResult&&) {},
          [&](IndexText&& text) {
            Effect effect{std::move(text)};
            release_search(node, effect);
          },
          [&](UnindexText&& text) {
            Effect effect{text};
            release_search(node, effect);
          },
          [&](SearchRequested&& search) {
            Effect effect{std::move(search)};
            release_search(node, effect);
          },
      });
}

// The node's process dies: the open batch is lost (host::Core::abort), with the queued
// inputs and every connection; the engine's in-memory state goes with it (nothing reaches
// the core while the node is down, and restart() builds a new engine). `why` names a cause
// other than a crash fault in the trace.
void World::crash(std::uint32_t index, TimeUs restart_after, const char* why) {
  Node& node = *nodes_[index];
  if (!node.up) return;
  ++metrics_.crashes;
  const bool batch_open = node.committing;
  node.up = false;
  ++node.generation;
  node.core->abort();         // the open batch is lost
  node.search_index.reset();  // in the process's memory: filled from the store at its restart
  node.pending.clear();
  node.batch_records.clear();
  node.committing = false;
  node.flush_scheduled = false;
  if (clustered()) {
    // The shard's engine state is durable on every replica: a crash loses only this
    // process's leadership and its open batch.
    if (batch_open) *node.bound = node.bound_before_batch;  // nothing of it was logged
    const bool was_leading = node.token != 0;
    node.token = 0;
    if (was_leading) note_if_leaderless();
    node.give_up = 0;
    node.ready = false;
    node.elector.reset();
    replica_record(node, why != nullptr ? std::string("crash: ") + why : "crash");
  } else {
    node.bound->clear();
    Record r = node_record(node, RecordKind::crash, node_time(node));
    if (why != nullptr) r.text = why;
    record(r);
  }
  const std::vector<ConnectionId> links = node.links.ids();
  node.links.clear();
  for (ConnectionId id : links) {
    if (why == nullptr) {
      drop_link(id, false);
      continue;
    }
    // The process exited (a failed commit: exit 70) rather than the machine dying: the
    // kernel still sends what the node had written, then closes the sockets.
    const Link* link = links_.find(id);
    if (link == nullptr) continue;
    const TimeUs when = std::max(now_ + scenario_.latency, link->last_to_client);
    at(when, [this, id] { drop_link(id, false); });
  }
  at(now_ + restart_after, [this, index] { restart(index); });
}

// A new process: a new engine over what the store holds (host::Core::restart). If its first
// commit fails too (a `commit_failure` armed while the node was down), it stops again and
// its supervisor tries later.
void World::restart(std::uint32_t index) {
  Node& node = *nodes_[index];
  if (node.up) return;
  node.engine_clock = EngineClock{};  // a new process anchors on the wall clock again
  const TimeUs local = node_time(node);
  const std::uint64_t failed_before = node.store->failed_commits();
  try {
    node.core->restart(local);
  } catch (const StoreError&) {
    if (node.store->failed_commits() == failed_before) throw;
    ++metrics_.commit_failures;
    at(now_ + node.restart_after_failure, [this, index] { restart(index); });
    return;
  }
  node.up = true;
  open_index(node);
  if (clustered()) {
    // A new process: a follower with a new elector; the delivery worker runs on the leader.
    node.elector = std::make_unique<cluster::Elector>(*node.etcd, "node-" + std::to_string(index),
                                                      scenario_.lease_ttl_s);
    replica_record(node, "restart");
    return;
  }
  record(node_record(node, RecordKind::restart, local));
  // The delivery worker starts over from the durable outbox.
  const auto pending =
      node.core->read([](const Engine& engine) { return engine.push_intents_after(0, SIZE_MAX); });
  for (const PushIntent& intent : pending)
    push_attempt(index, intent, 1);
}

}  // namespace parley::sim::detail
