// The simulated world: its event loop and its setup (sim/world_impl.hpp lists the parts).
#include "sim/world_impl.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "storage/store_factory.hpp"

namespace parley::sim::detail {

World::World(const Scenario& scenario, std::uint64_t seed, const SimOptions& options)
    : scenario_(scenario), options_(options), rng_(seed) {
  end_ = scenario.duration + scenario.settle;
  config_.delivery_batch = scenario.delivery_batch;
  config_.delivery_window = scenario.delivery_window;
  config_.heartbeat_interval_us = scenario.heartbeat_interval;
  config_.presence_timeout_us = scenario.presence_timeout;
  config_.push_collapse_window_us = scenario.push_collapse;
}

RunResult World::run() {
  build_nodes();
  build_users();
  provision();
  schedule_start();
  schedule_faults();
  schedule_random_faults();
  at(scenario_.duration, [this] { settle(); });
  history_.reserve(expected_records());
  std::uint64_t next_progress = 200'000;
  while (!queue_.empty() && queue_.next_at() <= end_) {
    now_ = queue_.next_at();
    queue_.run_next();
    if (++metrics_.events >= next_progress && options_.progress) {
      options_.progress(now_, end_, metrics_.engine_inputs);
      next_progress += 200'000;
    }
  }
  now_ = end_;
  return finish();
}

// A guess at the history's length, reserved up front: a large run's history is hundreds of
// megabytes, and each time the vector doubled it moved every record. Per heartbeat a sign
// of life; per message its sent, acked, append and life records, and per receiving device
// (the peer's and the sender's other devices) a delivery and the life of its ack; a quarter
// more for the rest. A wrong guess costs only speed: reserved pages never touched stay free.
// Capped (about 1.1 GB of address space): past that the vector grows as before.
std::size_t World::expected_records() const {
  const double seconds = static_cast<double>(end_) / 1e6;
  const double devices = static_cast<double>(devices_.size());
  const double beat = static_cast<double>(scenario_.heartbeat_interval) / 1e6;
  const double heartbeats = beat > 0 ? devices * seconds / beat : 0;
  const double messages = static_cast<double>(scenario_.users) *
                          scenario_.messages_per_user_per_minute *
                          (static_cast<double>(scenario_.duration) / 6e7);
  const double receivers = 2.0 * scenario_.devices_per_user;
  const double guess = 1.25 * (heartbeats + messages * (4 + 2 * receivers));
  return static_cast<std::size_t>(std::min(guess, 8e6));
}

void World::at(TimeUs when, std::function<void()> action) {
  queue_.push(std::max(when, now_), std::move(action));
}
void World::record(Record r) {
  r.at = now_;
  history_.push_back(std::move(r));
}
void World::fault_record(const std::string& text, bool injected) {
  if (injected) ++metrics_.faults;
  Record r;
  r.kind = RecordKind::fault;
  r.text = text;
  record(std::move(r));
}

// ---- setup ---------------------------------------------------------------------------------

void World::build_nodes() {
  for (std::uint32_t i = 0; i < scenario_.nodes; ++i) {
    auto node = std::make_unique<Node>();
    node->index = i;
    node->disk =
        storage::make_store(options_.store, options_.lmdb_dir, i, options_.lmdb_max_map_bytes);
    node->store = std::make_unique<storage::FaultStore>(*node->disk);
    if (!clustered()) {
      node->own_core = std::make_unique<host::Core>(*node->store, config_);
      node->core = node->own_core.get();
    }
    nodes_.push_back(std::move(node));
  }
  if (clustered()) build_cluster();
  if (clustered()) build_gateways();
}

// A user's home: their node, or in a cluster the one shard (device.node is then the replica
// a device found leading when it connected directly; unused with [cluster] gateways).
std::uint32_t World::home_of(UserId user) const {
  if (clustered()) return 0;
  return static_cast<std::uint32_t>((user - 1) % scenario_.nodes);
}

void World::build_users() {
  users_.resize(scenario_.users + 1);
  std::vector<std::uint32_t> devices(scenario_.users + 1, scenario_.devices_per_user);
  for (UserId u = 1; u <= scenario_.users; ++u) {
    users_[u].rate = scenario_.messages_per_user_per_minute;
  }
  for (const UserSettings& settings : scenario_.user_settings) {  // later ones win
    for (UserId u : settings.users) {
      if (settings.devices) devices[u] = *settings.devices;
      if (settings.messages_per_minute) users_[u].rate = *settings.messages_per_minute;
      if (settings.heartbeat_interval) users_[u].heartbeat = settings.heartbeat_interval;
    }
  }
  for (UserId u = 1; u <= scenario_.users; ++u) {
    User& user = users_[u];
    user.id = u;
    user.node = home_of(u);
    for (std::uint32_t k = 1; k <= devices[u]; ++k) {
      Device device;
      device.user = u;
      device.index = k;
      device.id = devices_.size() + 1;  // as provision() adds them: in user, then index order
      device.node = user.node;
      device.backoff = scenario_.reconnect_min;
      if (scenario_.clock_skew_max_ms > 0 || scenario_.clock_drift_max_ppm > 0) {
        const auto skew = static_cast<TimeUs>(scenario_.clock_skew_max_ms * 1000);
        const auto drift = static_cast<std::int64_t>(scenario_.clock_drift_max_ppm);
        device.clock.offset = rng_.between(-skew, skew);
        device.clock.drift_ppm = rng_.between(-drift, drift);
      }
      user.devices.push_back(devices_.size());
      devices_.push_back(std::move(device));
    }
  }
  metrics_.devices = devices_.size();
  build_friends();
}

void World::befriend(UserId a, UserId b) {
  if (a == b || home_of(a) != home_of(b)) return;
  auto& mine = users_[a].friends;
  if (std::find(mine.begin(), mine.end(), b) != mine.end()) return;
  mine.push_back(b);
  users_[b].friends.push_back(a);
}

void World::build_friends() {
  const UserId n = scenario_.users;
  const UserId step = clustered() ? 1 : scenario_.nodes;  // same-node neighbours
  if (scenario_.contacts == "all") {
    if (n / step > 1000) {
      throw ScenarioError(scenario_.file +
                          ": contacts = \"all\" needs at most 1000 users per node");
    }
    for (UserId a = 1; a <= n; ++a) {
      for (UserId b = a + step; b <= n; b += step)
        befriend(a, b);
    }
  } else if (scenario_.contacts == "ring") {
    for (UserId a = 1; a <= n; ++a) {
      UserId b = a + step;
      if (b > n) b = (a - 1) % step + 1;  // wrap to the node's first user
      befriend(a, b);
    }
  } else if (scenario_.contacts == "random") {
    for (UserId a = 1; a <= n; ++a) {
      for (std::uint32_t k = 0; k < scenario_.contacts_per_user; ++k) {
        const UserId same_node_count = (n - home_of(a) - 1) / step + 1;
        const UserId b = home_of(a) + 1 + rng_.below(same_node_count) * step;
        befriend(a, b);
      }
    }
  }
  for (User& user : users_)
    std::sort(user.friends.begin(), user.friends.end());
}

// Accounts, devices and contacts exist before the run starts (sign-up is not under test
// here). Every node gets every user and device, so ids agree across nodes; a user only
// ever connects to their home node. A cluster's replicas are provisioned alike, so they
// start equal at log index 0.
void World::provision() {
  for (auto& node : nodes_) {
    host::Core& core = *node->core;
    core.open();
    core.begin(0);
    core.provision([&](Engine& engine, TimeUs now) {
      for (UserId u = 1; u <= scenario_.users; ++u) {
        const auto user = engine.create_user("u" + std::to_string(u), now);
        PARLEY_ASSERT(std::get<UserId>(user) == u);
        for (std::size_t d : users_[u].devices) {
          const auto device = engine.add_device(u, "d" + std::to_string(devices_[d].index), now);
          PARLEY_ASSERT(std::get<DeviceId>(device) == devices_[d].id);
        }
      }
      for (UserId u = 1; u <= scenario_.users; ++u) {
        if (home_of(u) != shard_of(*node)) continue;
        for (UserId f : users_[u].friends) {
          engine.provision_contact(u, f, 0);
        }
      }
    });
    core.commit();
    open_index(*node);
  }
  for (const GroupSpec& group : scenario_.groups) {
    const auto members = group_members(group);
    for (UserId member : members) {
      if (home_of(member) != home_of(group.creator)) {
        throw ScenarioError(scenario_.file + ": group '" + group.name + "' spans nodes (user " +
                            std::to_string(member) + " lives on node " +
                            std::to_string(home_of(member)) +
                            "); cross-node chat is not "
                            "simulated yet: put a group's members on one node");
      }
    }
  }
}

std::vector<UserId> World::group_members(const GroupSpec& group) const {
  std::vector<UserId> members;
  if (group.all_members) {
    for (UserId u = 1; u <= scenario_.users; ++u) {
      if (u != group.creator && home_of(u) == home_of(group.creator)) members.push_back(u);
    }
  } else {
    members = group.members;
  }
  return members;
}

void World::schedule_start() {
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    // Apps open over the first second, not all in the same microsecond.
    at(rng_.between(0, 1'000'000), [this, d] { connect(d); });
    schedule_heartbeat(d);
  }
  for (auto& node : nodes_)
    schedule_tick(node->index);
  if (clustered()) {
    for (auto& node : nodes_)
      schedule_cluster(node->index);
    at(1'000'000, [this] { sample_replicas(); });
  }
  for (UserId u = 1; u <= scenario_.users; ++u) {
    if (users_[u].rate > 0) schedule_traffic(u);
  }
  if (scenario_.searches_per_user_per_minute > 0) {
    for (UserId u = 1; u <= scenario_.users; ++u)
      schedule_search(u);
  }
  if (scenario_.history_walks_per_user_per_minute > 0) {
    for (UserId u = 1; u <= scenario_.users; ++u)
      schedule_history_walk(u);
  }
  if (scenario_.burst_at) {
    at(*scenario_.burst_at, [this] {
      for (UserId u = 1; u <= scenario_.users; ++u) {
        for (std::uint32_t i = 0; i < scenario_.burst_messages; ++i)
          compose(u);
      }
    });
  }
  schedule_bursts();
  for (std::size_t i = 0; i < scenario_.sends.size(); ++i) {
    at(scenario_.sends[i].at, [this, i] { scripted_send(i); });
  }
  // The creator's app creates each group once it is connected.
  for (const GroupSpec& group : scenario_.groups) {
    const std::size_t d = users_[group.creator].devices.front();
    pending_groups_[d].push_back(group);
  }
}

}  // namespace parley::sim::detail
