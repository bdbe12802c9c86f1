// The end of a run: the nodes' final contents, the checker, metrics and expectations.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

namespace parley::sim::detail {

NodeContents World::contents(Node& node) {
  return node.core->read([](const Engine& engine) {
    NodeContents result;
    for (ChannelId id = 1;; ++id) {
      const auto channel = engine.channel(id);
      if (!channel) break;
      ChannelLog& log = result.channels[id];
      log.kind = channel->kind;
      if (channel->kind == ChannelKind::direct) {
        for (const auto& [user, member] : engine.members(id))
          log.direct_members.push_back(user);
      }
      log.messages = engine.messages(id, 1, channel->last_seq);
    }
    for (const PushIntent& intent : engine.push_intents_after(0, SIZE_MAX)) {
      result.outbox.push_back(intent.id);
    }
    return result;
  });
}

RunResult World::finish() {
  RunResult result;
  std::vector<NodeContents> contents_by_node;
  if (clustered()) {
    // The shard's contents, from the replica furthest along (invariant 8 checks the others
    // agree with it).
    finish_cluster();
    Node* furthest = nodes_.front().get();
    std::uint64_t most = 0;
    for (auto& node : nodes_) {
      const std::uint64_t applied = node->replica->applied_index();
      if (applied > most) {
        most = applied;
        furthest = node.get();
      }
    }
    contents_by_node.push_back(contents(*furthest));
  }
  for (auto& node : nodes_) {
    if (clustered()) break;
    if (!node->up) restart(node->index);
    node->core->abort();  // a batch whose commit is still under way never commits
    node->committing = false;
    contents_by_node.push_back(contents(*node));
  }
  std::vector<DeviceRef> refs;
  std::map<UserId, std::uint32_t> home;
  for (const Device& device : devices_)
    refs.push_back({device.user, device.id});
  for (UserId u = 1; u <= scenario_.users; ++u)
    home[u] = home_of(u);
  CheckConfig check;
  check.presence_timeout = scenario_.presence_timeout;
  check.presence_slack =
      scenario_.tick + scenario_.batch_wait + std::max(scenario_.commit, max_commit_) + 1000;
  check.push_collapse = scenario_.push_collapse;
  check.contacts.resize(users_.size());
  for (UserId u = 1; u < users_.size(); ++u)
    check.contacts[u] = users_[u].friends;  // sorted by build_friends
  for (const Fault& fault : scenario_.faults) {
    const bool on_nodes = fault.hosts.all_nodes || !fault.hosts.nodes.empty();
    if (fault.kind == FaultKind::clock && on_nodes) {
      check.node_drift_ppm =
          std::max(check.node_drift_ppm, fault.drift_ppm < 0 ? -fault.drift_ppm : fault.drift_ppm);
    }
  }
  check.liveness = scenario_.settle > 0;
  Checker checker(check, std::move(contents_by_node), std::move(refs), std::move(home));
  result.check = checker.check(history_);
  summarize_latency();
  metrics_.simulated = end_;
  result.metrics = metrics_;
  result.expectation_failures = check_scripted();
  result.trace_hash = trace_hash(history_);
  result.history = std::move(history_);
  return result;
}

void World::summarize_latency() {
  if (latencies_.empty()) return;
  std::sort(latencies_.begin(), latencies_.end());
  const auto pick = [&](double q) {
    const auto index = static_cast<std::size_t>(q * static_cast<double>(latencies_.size() - 1));
    return static_cast<double>(latencies_[index]) / 1000.0;
  };
  metrics_.p50_delivery_ms = pick(0.50);
  metrics_.p99_delivery_ms = pick(0.99);
  metrics_.max_delivery_ms = static_cast<double>(latencies_.back()) / 1000.0;
}

// ---- expectations ------------------------------------------------------------------------
std::string show_number(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f", value);
  std::string shown = text;  // "57.685", "2000.040", "3.000": trailing zeros go
  while (shown.back() == '0')
    shown.pop_back();
  if (shown.back() == '.') shown.pop_back();
  return shown;
}

std::vector<std::string> check_expectations(const Scenario& s, const Metrics& m,
                                            const CheckResult& check) {
  std::vector<std::string> failures;
  const auto at_most = [&](const char* what, double value, std::optional<double> limit) {
    if (limit && value > *limit) {
      failures.push_back(std::string(what) + " = " + show_number(value) + " > " +
                         show_number(*limit));
    }
  };
  const auto at_least = [&](const char* what, std::uint64_t value,
                            std::optional<std::uint64_t> limit) {
    if (limit && value < *limit) {
      failures.push_back(std::string(what) + " = " + std::to_string(value) + " < " +
                         std::to_string(*limit));
    }
  };
  at_most("p99_delivery_ms", m.p99_delivery_ms, s.p99_delivery_ms_max);
  at_most("p50_delivery_ms", m.p50_delivery_ms, s.p50_delivery_ms_max);
  const auto as_double = [](std::optional<std::uint64_t> v) -> std::optional<double> {
    if (!v) return std::nullopt;
    return static_cast<double>(*v);
  };
  at_most("presence_flaps", static_cast<double>(check.presence_flaps),
          as_double(s.presence_flaps_max));
  at_most("pushes", static_cast<double>(m.pushes), as_double(s.pushes_max));
  at_least("pushes", m.pushes, s.pushes_min);
  at_least("delivered", m.delivered, s.delivered_min);
  at_least("acked", m.acked, s.acked_min);
  at_most("connects", static_cast<double>(m.connects), as_double(s.connects_max));
  at_most("slowest delivery (ms)", m.max_delivery_ms, s.delivery_ms_max);
  at_least("duplicate acks", m.duplicate_acks, s.duplicate_acks_min);
  at_most("refused", static_cast<double>(m.refused), as_double(s.refused_max));
  at_most("presence changes", static_cast<double>(m.presence_changes),
          as_double(s.presence_changes_max));
  at_most("presence events", static_cast<double>(m.presence_events),
          as_double(s.presence_events_max));
  at_most("presence repeats", static_cast<double>(m.presence_repeats),
          as_double(s.presence_repeats_max));
  at_least("typing events", m.typing_events, s.typing_events_min);
  at_least("receipt events", m.receipt_events, s.receipt_events_min);
  at_least("edited and deleted entries", m.revisions, s.revisions_min);
  at_most("largest deliver batch", static_cast<double>(m.largest_deliver),
          as_double(s.deliver_batch_max));
  std::uint64_t all_errors = 0;
  for (const auto& [code, count] : m.errors)
    all_errors += count;
  for (const auto& [code, max] : s.errors_max) {
    const auto found = m.errors.find(code);
    const std::uint64_t count =
        code == "any" ? all_errors : (found == m.errors.end() ? 0 : found->second);
    if (count > max) {
      failures.push_back("error frames " + code + " = " + std::to_string(count) + " > " +
                         std::to_string(max));
    }
  }
  return failures;
}

}  // namespace parley::sim::detail

namespace parley::sim {

RunResult run_simulation(const Scenario& scenario, std::uint64_t seed, const SimOptions& options) {
  detail::World world(scenario, seed, options);
  RunResult result = world.run();
  result.seed = seed;
  std::vector<std::string> failures =
      detail::check_expectations(scenario, result.metrics, result.check);
  failures.insert(failures.end(), result.expectation_failures.begin(),
                  result.expectation_failures.end());
  result.expectation_failures = std::move(failures);
  return result;
}

}  // namespace parley::sim
