// The faults: the scheduled [[fault]]s, the [random_faults], and the settling at the end.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace parley::sim::detail {

std::vector<std::size_t> World::devices_in(const HostSet& hosts) const {
  std::vector<std::size_t> found;
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    const Device& device = devices_[d];
    bool in = hosts.all_users;
    in = in || std::find(hosts.users.begin(), hosts.users.end(), device.user) != hosts.users.end();
    in = in || std::find(hosts.devices.begin(), hosts.devices.end(),
                         std::pair{device.user, device.index}) != hosts.devices.end();
    if (in) found.push_back(d);
  }
  return found;
}

std::vector<HostId> World::hosts_in(const HostSet& hosts) const {
  std::vector<HostId> found;
  for (std::size_t d : devices_in(hosts)) {
    found.push_back(device_host(devices_[d].user, devices_[d].index));
  }
  for (std::uint32_t n = 0; n < scenario_.nodes; ++n) {
    const bool in = hosts.all_nodes ||
                    std::find(hosts.nodes.begin(), hosts.nodes.end(), n) != hosts.nodes.end();
    if (in) found.push_back(node_host(n));
  }
  return found;
}

// Each fault at its time; a repeating one again after each drawn gap until `until`. A
// duration range is drawn per firing. Drawn here, in file order, so that a scenario without
// ranges draws nothing and its runs stay as they were.
void World::schedule_faults() {
  for (const Fault& fault : scenario_.faults) {
    const auto fire_at = [&](TimeUs when) {
      Fault firing = fault;
      if (fault.duration_max) firing.duration = rng_.between(fault.duration, *fault.duration_max);
      at(when, [this, firing] { inject(firing); });
    };
    if (!fault.every) {
      fire_at(fault.at);
      continue;
    }
    const TimeUs until = fault.until.value_or(scenario_.duration);
    const TimeUs every_max = fault.every_max.value_or(*fault.every);
    for (TimeUs when = fault.at; when <= until; when += rng_.between(*fault.every, every_max)) {
      fire_at(when);
    }
  }
}

void World::inject(const Fault& fault) {
  const std::string where = "fault at line " + std::to_string(fault.line) + ": ";
  switch (fault.kind) {
    case FaultKind::disconnect:
      fault_record(where + "disconnect");
      drop_links_of(hosts_in(fault.hosts));
      break;
    case FaultKind::partition: {
      fault_record(where + "partition" +
                   (fault.partition.empty() ? "" : " '" + fault.partition + "'") +
                   (fault.duration > 0 ? " for " + std::to_string(fault.duration) + " us" : ""));
      const unsigned id = cut(hosts_in(fault.hosts), fault.partition);
      if (fault.duration > 0) {
        at(now_ + fault.duration, [this, id, line = fault.line] {
          fault_record("partition of line " + std::to_string(line) + " ends", false);
          uncut(id);
        });
      }
      break;
    }
    case FaultKind::heal:
      fault_record(where + "heal" +
                   (fault.partition.empty() ? "" : " partition '" + fault.partition + "'"));
      heal(fault.partition);
      break;
    case FaultKind::swizzle:
      swizzle(hosts_in(fault.hosts), fault.step);
      break;
    case FaultKind::crash:
      fault_record(where + "crash node " + std::to_string(fault.node));
      crash(fault.node, fault.duration);
      break;
    case FaultKind::clock:
      fault_record(where + "clock");
      set_clocks(fault);
      break;
    case FaultKind::clock_step:
      fault_record(where + "clock step by " + std::to_string(fault.offset) + " us");
      step_clocks(fault);
      break;
    case FaultKind::slow_commit:
      fault_record(where + "slow commits on node " + std::to_string(fault.node));
      nodes_[fault.node]->store->stall_commits(now_ + fault.duration, fault.commit);
      max_commit_ = std::max(max_commit_, fault.commit);
      break;
    case FaultKind::commit_failure:
      // The node's next commit fails; the node stops then (World::commit).
      fault_record(where + "commit failure on node " + std::to_string(fault.node));
      nodes_[fault.node]->store->fail_commits(1);
      nodes_[fault.node]->restart_after_failure = fault.duration;
      break;
    case FaultKind::kill_leader:
    case FaultKind::etcd_partition:
    case FaultKind::append_unknown:
    case FaultKind::lease_skew:
    case FaultKind::etcd_kill:
    case FaultKind::kill_gateway:
      cluster_fault(fault, where);
      break;
    case FaultKind::logout:
      fault_record(where + "logout");
      for (std::size_t d : devices_in(fault.hosts))
        logout(d, fault.duration);
      break;
    case FaultKind::leave_group:
    case FaultKind::add_member:
    case FaultKind::remove_member:
      group_action(fault);
      break;
    case FaultKind::gateway_down:
      fault_record(where + "push gateway down");
      gateway_down_ = true;
      break;
    case FaultKind::gateway_up:
      fault_record(where + "push gateway up");
      gateway_down_ = false;
      break;
  }
}

void World::set_clocks(const Fault& fault) {
  for (std::size_t d : devices_in(fault.hosts)) {
    Clock& clock = devices_[d].clock;
    clock = Clock{now_, fault.offset, fault.drift_ppm};
  }
  for (std::uint32_t n = 0; n < scenario_.nodes; ++n) {
    const bool in =
        fault.hosts.all_nodes ||
        std::find(fault.hosts.nodes.begin(), fault.hosts.nodes.end(), n) != fault.hosts.nodes.end();
    if (!in) continue;
    Node& node = *nodes_[n];
    node.clock = Clock{now_, fault.offset, fault.drift_ppm};
    // The oscillator's rate changes; a monotonic clock never jumps.
    node.monotonic = Clock{now_, node.monotonic.local(now_) - now_, fault.drift_ppm};
  }
}

// An NTP-style step: the hosts' wall clocks jump by `offset` (either sign), nothing else.
void World::step_clocks(const Fault& fault) {
  const auto step = [&](Clock& clock) {
    clock = Clock{now_, clock.local(now_) - now_ + fault.offset, clock.drift_ppm};
  };
  for (std::size_t d : devices_in(fault.hosts))
    step(devices_[d].clock);
  for (std::uint32_t n = 0; n < scenario_.nodes; ++n) {
    const bool in =
        fault.hosts.all_nodes ||
        std::find(fault.hosts.nodes.begin(), fault.hosts.nodes.end(), n) != fault.hosts.nodes.end();
    if (in) step(nodes_[n]->clock);
  }
}

// Cuts the hosts off one by one, then restores them in a random order.
void World::swizzle(std::vector<HostId> hosts, TimeUs step) {
  fault_record("swizzle over " + std::to_string(hosts.size()) + " hosts");
  // Each host's own cut, so that restoring it leaves any other partition in place.
  auto cuts = std::make_shared<std::map<HostId, unsigned>>();
  TimeUs when = now_;
  for (HostId host : hosts) {
    at(when, [this, host, cuts] { (*cuts)[host] = cut({host}); });
    when += step;
  }
  for (std::size_t i = hosts.size(); i > 1; --i) {
    std::swap(hosts[i - 1], hosts[rng_.below(i)]);
  }
  for (HostId host : hosts) {
    at(when, [this, host, cuts] { uncut((*cuts)[host]); });
    when += step;
  }
}

void World::logout(std::size_t d, TimeUs duration) {
  Device& device = devices_[d];
  if (device.state == DeviceState::online) request(d, "logout", client::Logout{});
  device.state = DeviceState::logged_out;
  device.token_registered = false;
  ++device.attempt;
  at(now_ + duration, [this, d] { login(d); });
}

void World::login(std::size_t d) {
  Device& device = devices_[d];
  if (device.state != DeviceState::logged_out) return;
  drop_device_link(d);
  device.state = DeviceState::offline;
  connect(d);
}

// "group action at line 12: add_member of user 5 to 'team' by user 3 (the admin)".
std::string World::describe_group_action(const Fault& fault, UserId actor) const {
  std::string text = "group action at line " + std::to_string(fault.line) + ": ";
  const std::string group = "'" + fault.group + "'";
  const std::string user = "user " + std::to_string(fault.user);
  if (fault.kind == FaultKind::leave_group) return text + "leave_group of " + group + " by " + user;
  text += fault.kind == FaultKind::add_member ? "add_member of " + user + " to " + group
                                              : "remove_member of " + user + " from " + group;
  if (actor == 0) return text + " by the admin (nobody)";
  return text + " by user " + std::to_string(actor) + (fault.by ? "" : " (the admin)");
}

void World::group_action(const Fault& fault) {
  const auto group = groups_by_name_.find(fault.group);
  const GroupSpec* spec = nullptr;
  for (const GroupSpec& g : scenario_.groups) {
    if (g.name == fault.group) spec = &g;
  }
  if (spec == nullptr) return;  // the loader rejects unknown groups
  // A fault that acts for a role acts for whoever holds it now: after a hand-over the
  // group's admin is the successor, not the creator. `by` names the actor instead.
  const UserId actor = fault.by                               ? *fault.by
                       : fault.kind == FaultKind::leave_group ? fault.user
                       : group == groups_by_name_.end()
                           ? 0
                           : admin_of(group->second, home_of(spec->creator));
  std::optional<std::size_t> online;
  if (actor != 0) {
    for (std::size_t d : users_[actor].devices) {
      if (devices_[d].state == DeviceState::online) online = d;
    }
  }
  const std::string action = describe_group_action(fault, actor);
  if (group == groups_by_name_.end() || !online) {
    action_outcomes_[fault.line].push_back("skipped");
    fault_record("skipped " + action + ": " +
                 (group == groups_by_name_.end() ? "the group does not exist yet"
                  : actor == 0                   ? "nobody is left in the group"
                               : "user " + std::to_string(actor) + " has no device online"));
    return;
  }
  fault_record(action);
  // The reply (Ok or an error frame) adds a record with the outcome (World::on_event).
  const std::string purpose = "action:" + std::to_string(fault.line) + ":" + action;
  if (fault.kind == FaultKind::leave_group) {
    request(*online, purpose, client::LeaveGroup{0, group->second});
  } else if (fault.kind == FaultKind::add_member) {
    request(*online, purpose, client::AddMember{0, group->second, fault.user});
  } else {
    request(*online, purpose, client::RemoveMember{0, group->second, fault.user});
  }
}

// The group's admin as its node sees it at this moment (the batch in flight included, which
// is what the engine will check the request against); 0 when nobody is left in it.
UserId World::admin_of(ChannelId group, std::uint32_t index) {
  if (clustered()) {  // the leader's engine: a follower's may be behind
    for (auto& node : nodes_) {
      if (node->up && node->token != 0) index = node->index;
    }
  }
  host::Core& core = *nodes_[index]->core;
  const auto channel =
      core.in_batch()
          ? core.call([&](const Engine& engine, TimeUs) { return engine.channel(group); })
          : core.read([&](const Engine& engine) { return engine.channel(group); });
  return channel ? channel->admin : 0;
}

void World::schedule_random_faults() {
  const auto per_minute = [&](double rate, auto action) {
    if (rate <= 0) return;
    // At least a millisecond apart, so an absurd rate cannot stall the schedule.
    const auto mean =
        std::max<TimeUs>(static_cast<TimeUs>(static_cast<double>(kMinute) / rate), 1000);
    for (TimeUs t = rng_.gap(mean); t < scenario_.duration; t += rng_.gap(mean)) {
      action(t);
    }
  };
  per_minute(scenario_.disconnects_per_minute, [&](TimeUs t) {
    const std::size_t d = rng_.below(devices_.size());
    at(t, [this, d] {
      fault_record("random disconnect of device " + std::to_string(devices_[d].id));
      drop_device_link(d);
    });
  });
  per_minute(scenario_.partitions_per_minute, [&](TimeUs t) {
    const UserId u = 1 + rng_.below(scenario_.users);
    const TimeUs length = rng_.between(1, scenario_.partition_max);
    at(t, [this, u, length] {
      fault_record("random partition of user " + std::to_string(u));
      std::vector<HostId> hosts;
      for (std::size_t d : users_[u].devices)
        hosts.push_back(device_host(u, devices_[d].index));
      const unsigned id = cut(std::move(hosts));
      at(now_ + length, [this, id] { uncut(id); });
    });
  });
  per_minute(scenario_.crashes_per_minute, [&](TimeUs t) {
    const auto node = static_cast<std::uint32_t>(rng_.below(scenario_.nodes));
    const TimeUs down = rng_.between(100'000, scenario_.crash_max);
    at(t, [this, node, down] {
      fault_record("random crash of node " + std::to_string(node));
      crash(node, down);
    });
  });
}

// At the end of `duration`: faults heal, crashed nodes restart, logged-out devices log in.
void World::settle() {
  fault_record("settle: heal everything");
  heal("");
  gateway_down_ = false;
  for (auto& node : nodes_) {
    node->store->stall_commits(0, 0);  // slow disks recover
    if (!node->up) restart(node->index);
  }
  for (Gateway& gateway : gateways_)
    gateway.up = true;
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    if (devices_[d].state == DeviceState::logged_out) login(d);
  }
}

}  // namespace parley::sim::detail
