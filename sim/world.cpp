#include "sim/world.hpp"

#include <algorithm>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <set>

#include "engine/clock.hpp"
#include "engine/engine.hpp"
#include "sim/rng.hpp"
#include "storage/store_factory.hpp"

namespace parley::sim {
namespace {

using namespace parley::engine;

constexpr TimeUs kMinute = 60'000'000;
constexpr TimeUs kTrafficStart = 2'000'000;
using HostId = std::uint64_t;

HostId node_host(std::uint32_t node) {
  return (1ull << 63) | node;
}
HostId device_host(UserId user, std::uint32_t index) {
  return (user << 8) | index;
}

// A host's clock: true time plus an offset, drifting by `drift_ppm` since `anchor`.
struct Clock {
  TimeUs anchor = 0;
  TimeUs offset = 0;
  std::int64_t drift_ppm = 0;
  TimeUs local(TimeUs global) const {
    return global + offset + (global - anchor) * drift_ppm / 1'000'000;
  }
  // A local interval in global time.
  TimeUs global_interval(TimeUs local_interval) const {
    return local_interval * 1'000'000 / (1'000'000 + drift_ppm);
  }
};

struct PendingSend {
  std::string client_msg_id;
  ChannelId channel = 0;
  UserId peer = 0;
  std::string text;
};

enum class DeviceState : std::uint8_t { offline, connecting, online, logged_out };

struct Device {
  UserId user = 0;
  std::uint32_t index = 0;  // 1-based within the user
  DeviceId id = 0;
  std::uint32_t node = 0;
  DeviceState state = DeviceState::offline;
  ConnectionId link = 0;
  InboxSeq cursor = 0;  // what the device has stored
  bool token_registered = false;
  TimeUs backoff = 0;
  std::uint64_t attempt = 0;  // invalidates stale scheduled reconnects
  Clock clock;
  RequestId next_request = 1;
  std::map<RequestId, std::string> requests;  // request id -> what it was ("send:ID", ...)
  std::vector<PendingSend> unacked;           // in the order composed
  std::uint64_t composed = 0;
};

struct User {
  UserId id = 0;
  std::uint32_t node = 0;
  std::vector<std::size_t> devices;  // indexes into World::devices_
  std::vector<UserId> friends;
  std::set<ChannelId> groups;  // groups the user knows they are in, from their inbox
};

struct Link {
  std::size_t device = 0;
  std::uint32_t node = 0;
  std::uint64_t node_generation = 0;
  bool open = true;
  TimeUs last_to_node = 0;
  TimeUs last_to_client = 0;
};

struct Node {
  std::uint32_t index = 0;
  std::unique_ptr<Store> store;
  std::unique_ptr<Engine> engine;
  bool up = true;
  std::uint64_t generation = 0;  // bumped by a crash: stale events for it are dropped
  std::deque<Input> pending;
  bool flush_scheduled = false;
  bool committing = false;
  Effects batch_effects;
  History batch_records;
  TimeUs slow_commit = 0;
  TimeUs slow_until = 0;
  // The node's wall clock (offset and drift; `clock` and `clock_step` faults move it) and
  // its monotonic clock (drift only), read together through the engine's own EngineClock,
  // as the production node does; a restart starts a new EngineClock.
  Clock clock;
  Clock monotonic;
  EngineClock engine_clock;
  std::set<ConnectionId> links;         // open on the network
  std::set<ConnectionId> engine_links;  // bound in the engine, as of the input being processed
  std::map<ConnectionId, UserId> bound_user;       // engine_links' users
  std::map<UserId, std::uint32_t> bound_per_user;  // users with a connection bound
};

class World {
 public:
  World(const Scenario& scenario, std::uint64_t seed, const SimOptions& options)
      : scenario_(scenario), options_(options), rng_(seed) {
    end_ = scenario.duration + scenario.settle;
    config_.delivery_batch = scenario.delivery_batch;
    config_.delivery_window = scenario.delivery_window;
    config_.heartbeat_interval_us = scenario.heartbeat_interval;
    config_.presence_timeout_us = scenario.presence_timeout;
    config_.push_collapse_window_us = scenario.push_collapse;
  }

  RunResult run() {
    build_nodes();
    build_users();
    provision();
    schedule_start();
    schedule_faults();
    schedule_random_faults();
    at(scenario_.duration, [this] { settle(); });
    std::uint64_t next_progress = 200'000;
    while (!queue_.empty() && queue_.top().at <= end_) {
      Event event = queue_.top();
      queue_.pop();
      now_ = event.at;
      event.action();
      if (++metrics_.events >= next_progress && options_.progress) {
        options_.progress(now_, end_, metrics_.engine_inputs);
        next_progress += 200'000;
      }
    }
    now_ = end_;
    return finish();
  }

 private:
  struct Event {
    TimeUs at;
    std::uint64_t order;
    std::function<void()> action;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.at != b.at ? a.at > b.at : a.order > b.order;
    }
  };

  void at(TimeUs when, std::function<void()> action) {
    queue_.push(Event{std::max(when, now_), next_order_++, std::move(action)});
  }
  void record(Record r) {
    r.at = now_;
    history_.push_back(std::move(r));
  }
  void fault_record(const std::string& text) {
    ++metrics_.faults;
    Record r;
    r.kind = RecordKind::fault;
    r.text = text;
    record(std::move(r));
  }

  // ---- setup -------------------------------------------------------------------------------
  void build_nodes() {
    for (std::uint32_t i = 0; i < scenario_.nodes; ++i) {
      auto node = std::make_unique<Node>();
      node->index = i;
      node->store =
          storage::make_store(options_.store, options_.lmdb_dir, i, options_.lmdb_max_map_bytes);
      node->engine = std::make_unique<Engine>(*node->store, config_);
      nodes_.push_back(std::move(node));
    }
  }

  std::uint32_t home_of(UserId user) const {
    return static_cast<std::uint32_t>((user - 1) % scenario_.nodes);
  }

  void build_users() {
    users_.resize(scenario_.users + 1);
    for (UserId u = 1; u <= scenario_.users; ++u) {
      User& user = users_[u];
      user.id = u;
      user.node = home_of(u);
      for (std::uint32_t k = 1; k <= scenario_.devices_per_user; ++k) {
        Device device;
        device.user = u;
        device.index = k;
        device.id = (u - 1) * scenario_.devices_per_user + k;
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
    build_friends();
  }

  void befriend(UserId a, UserId b) {
    if (a == b || home_of(a) != home_of(b)) return;
    auto& mine = users_[a].friends;
    if (std::find(mine.begin(), mine.end(), b) != mine.end()) return;
    mine.push_back(b);
    users_[b].friends.push_back(a);
  }

  void build_friends() {
    const UserId n = scenario_.users;
    const UserId step = scenario_.nodes;  // same-node neighbours
    if (scenario_.contacts == "all") {
      if (n / scenario_.nodes > 1000) {
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
  // ever connects to their home node.
  void provision() {
    for (auto& node : nodes_) {
      node->store->begin();
      node->engine->open();
      for (UserId u = 1; u <= scenario_.users; ++u) {
        const auto user = node->engine->create_user("u" + std::to_string(u), 0);
        PARLEY_ASSERT(std::get<UserId>(user) == u);
        for (std::uint32_t k = 1; k <= scenario_.devices_per_user; ++k) {
          const auto device = node->engine->add_device(u, "d" + std::to_string(k), 0);
          PARLEY_ASSERT(std::get<DeviceId>(device) == (u - 1) * scenario_.devices_per_user + k);
        }
      }
      for (UserId u = 1; u <= scenario_.users; ++u) {
        if (home_of(u) != node->index) continue;
        for (UserId f : users_[u].friends) {
          node->engine->records().put_contact(u, f, {ContactState::contact, 0});
        }
      }
      node->store->commit();
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

  std::vector<UserId> group_members(const GroupSpec& group) const {
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

  void schedule_start() {
    for (std::size_t d = 0; d < devices_.size(); ++d) {
      // Apps open over the first second, not all in the same microsecond.
      at(rng_.between(0, 1'000'000), [this, d] { connect(d); });
      schedule_heartbeat(d);
    }
    for (auto& node : nodes_)
      schedule_tick(node->index);
    if (scenario_.messages_per_user_per_minute > 0) {
      for (UserId u = 1; u <= scenario_.users; ++u)
        schedule_traffic(u);
    }
    if (scenario_.burst_at) {
      at(*scenario_.burst_at, [this] {
        for (UserId u = 1; u <= scenario_.users; ++u) {
          for (std::uint32_t i = 0; i < scenario_.burst_messages; ++i)
            compose(u);
        }
      });
    }
    // The creator's app creates each group once it is connected.
    for (const GroupSpec& group : scenario_.groups) {
      const std::size_t d = users_[group.creator].devices.front();
      pending_groups_[d].push_back(group);
    }
  }

  // ---- nodes ---------------------------------------------------------------------------------
  TimeUs node_time(Node& node) {
    return node.engine_clock.now(node.clock.local(now_), node.monotonic.local(now_));
  }

  void schedule_tick(std::uint32_t index) {
    at(now_ + scenario_.tick, [this, index] {
      node_input(*nodes_[index], Tick{});
      schedule_tick(index);
    });
  }

  void node_input(Node& node, Input input) {
    if (!node.up) return;
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

  // Runs a batch through the engine inside one transaction; effects wait for the commit.
  void flush(Node& node) {
    node.flush_scheduled = false;
    if (node.committing || node.pending.empty()) return;
    node.store->begin();
    const TimeUs local = node_time(node);
    const std::size_t count = std::min<std::size_t>(node.pending.size(), scenario_.batch_max);
    for (std::size_t i = 0; i < count; ++i) {
      Input input = std::move(node.pending.front());
      node.pending.pop_front();
      record_input(node, input, local);
      Effects effects = node.engine->handle(input, local);
      for (Effect& effect : effects) {
        record_effect(node, effect, local);
        node.batch_effects.push_back(std::move(effect));
      }
    }
    metrics_.engine_inputs += count;
    node.committing = true;
    const TimeUs latency = now_ < node.slow_until ? node.slow_commit : scenario_.commit;
    const std::uint64_t generation = node.generation;
    at(now_ + latency, [this, &node, generation] {
      if (node.generation != generation) return;
      commit(node);
    });
  }

  void commit(Node& node) {
    node.store->commit();
    ++metrics_.commits;
    for (Record& r : node.batch_records) {
      r.at = now_;
      history_.push_back(std::move(r));
    }
    node.batch_records.clear();
    Effects effects = std::move(node.batch_effects);
    node.batch_effects.clear();
    node.committing = false;
    for (Effect& effect : effects)
      release(node, std::move(effect));
    if (!node.pending.empty() && !node.flush_scheduled) {
      node.flush_scheduled = true;
      const std::uint64_t generation = node.generation;
      at(now_, [this, &node, generation] {
        if (node.generation == generation && node.up) flush(node);
      });
    }
  }

  Record node_record(const Node& node, RecordKind kind, TimeUs local) const {
    Record r;
    r.kind = kind;
    r.node = node.index;
    r.node_time = local;
    return r;
  }

  // What the node saw, for the checker: signs of life, logouts and token changes.
  void record_input(Node& node, const Input& input, TimeUs local) {
    ConnectionId connection = 0;
    const client::Request* request = nullptr;
    if (const auto* connected = std::get_if<Connected>(&input)) connection = connected->connection;
    if (const auto* received = std::get_if<Received>(&input)) {
      connection = received->connection;
      request = &received->request;
    }
    if (const auto* gone = std::get_if<Disconnected>(&input)) {
      node.engine_links.erase(gone->connection);
      unbind(node, gone->connection, local);
    }
    if (connection == 0) return;
    if (request == nullptr) {
      node.engine_links.insert(connection);
      const DeviceId id = std::get<Connected>(input).device;
      if (id >= 1 && id <= devices_.size()) bind(node, connection, devices_[id - 1].user, local);
    }
    const auto link = links_.find(connection);
    if (link == links_.end() || !node.engine_links.contains(connection)) return;
    const Device& device = devices_[link->second.device];
    Record life = node_record(node, RecordKind::life, local);
    life.user = device.user;
    life.device = device.id;
    node.batch_records.push_back(life);
    if (request == nullptr) return;
    if (std::holds_alternative<client::Logout>(*request)) {
      Record logout = life;
      logout.kind = RecordKind::logout;
      node.batch_records.push_back(logout);
    }
    const bool registers = std::holds_alternative<client::RegisterPushToken>(*request);
    const bool drops = std::holds_alternative<client::UnregisterPushToken>(*request) ||
                       std::holds_alternative<client::Logout>(*request);
    if (registers || drops) {
      Record token = life;
      token.kind = RecordKind::token;
      token.flag = registers;
      node.batch_records.push_back(token);
    }
  }

  void record_effect(Node& node, const Effect& effect, TimeUs local) {
    if (const auto* close = std::get_if<CloseConnection>(&effect)) {
      node.engine_links.erase(close->connection);
      unbind(node, close->connection, local);
    } else if (const auto* change = std::get_if<PresenceChange>(&effect)) {
      Record r = node_record(node, RecordKind::presence, local);
      r.user = change->user;
      r.flag = change->online;
      node.batch_records.push_back(r);
    } else if (const auto* push = std::get_if<PushNotification>(&effect)) {
      Record r = node_record(node, RecordKind::push, local);
      r.user = push->intent.user;
      r.device = push->intent.device;
      r.channel = push->intent.channel;
      r.seq = push->intent.seq;
      node.batch_records.push_back(r);
    } else if (const auto* send = std::get_if<SendEvent>(&effect)) {
      const auto* ack = std::get_if<server::SendAck>(&send->event);
      const auto link = links_.find(send->connection);
      if (ack == nullptr || ack->duplicate || link == links_.end()) return;
      Record r = node_record(node, RecordKind::append, local);
      r.user = devices_[link->second.device].user;
      r.channel = ack->channel;
      r.seq = ack->seq;
      node.batch_records.push_back(r);
    }
  }

  // Whether a user has a connection bound in the engine, for the checker's push rule: a
  // record when it changes.
  void bind(Node& node, ConnectionId connection, UserId user, TimeUs local) {
    if (!node.bound_user.emplace(connection, user).second) return;
    if (node.bound_per_user[user]++ == 0) connection_record(node, user, true, local);
  }
  void unbind(Node& node, ConnectionId connection, TimeUs local) {
    const auto found = node.bound_user.find(connection);
    if (found == node.bound_user.end()) return;
    const UserId user = found->second;
    node.bound_user.erase(found);
    if (--node.bound_per_user[user] > 0) return;
    node.bound_per_user.erase(user);
    connection_record(node, user, false, local);
  }
  void connection_record(Node& node, UserId user, bool connected, TimeUs local) {
    Record r = node_record(node, RecordKind::connection, local);
    r.user = user;
    r.flag = connected;
    node.batch_records.push_back(r);
  }

  void release(Node& node, Effect effect) {
    if (auto* send = std::get_if<SendEvent>(&effect)) {
      to_client(send->connection, std::move(send->event));
    } else if (const auto* close = std::get_if<CloseConnection>(&effect)) {
      node.links.erase(close->connection);
      const ConnectionId id = close->connection;
      // The client sees the close after the frames already on the way.
      const auto link = links_.find(id);
      if (link == links_.end()) return;
      const TimeUs when = std::max(now_ + scenario_.latency, link->second.last_to_client);
      at(when, [this, id] { drop_link(id, false); });
    } else if (const auto* push = std::get_if<PushNotification>(&effect)) {
      ++metrics_.pushes;
      push_attempt(node.index, push->intent, 1);
    } else if (std::holds_alternative<PresenceChange>(effect)) {
      ++metrics_.presence_changes;
    }
  }

  void crash(std::uint32_t index, TimeUs restart_after) {
    Node& node = *nodes_[index];
    if (!node.up) return;
    ++metrics_.crashes;
    node.up = false;
    ++node.generation;
    if (node.store->in_transaction()) node.store->abort();  // the open batch is lost
    node.pending.clear();
    node.batch_effects.clear();
    node.batch_records.clear();
    node.committing = false;
    node.flush_scheduled = false;
    node.engine.reset();
    node.engine_links.clear();
    node.bound_user.clear();
    node.bound_per_user.clear();
    Record r = node_record(node, RecordKind::crash, node_time(node));
    record(r);
    const std::set<ConnectionId> links = node.links;
    node.links.clear();
    for (ConnectionId id : links)
      drop_link(id, false);
    at(now_ + restart_after, [this, index] { restart(index); });
  }

  void restart(std::uint32_t index) {
    Node& node = *nodes_[index];
    if (node.up) return;
    node.engine = std::make_unique<Engine>(*node.store, config_);
    node.engine_clock = EngineClock{};  // a new process anchors on the wall clock again
    const TimeUs local = node_time(node);
    node.store->begin();
    node.engine->open(local);
    node.store->commit();
    node.up = true;
    record(node_record(node, RecordKind::restart, local));
    // The delivery worker starts over from the durable outbox.
    node.store->begin();
    const auto pending = node.engine->records().push_intents_after(0, SIZE_MAX);
    node.store->abort();
    for (const PushIntent& intent : pending)
      push_attempt(index, intent, 1);
  }

  // ---- the push gateway ------------------------------------------------------------------------
  // One delivery attempt of `intent` from node `index`: the gateway answers after its latency;
  // a failure is retried with doubling backoff and jitter; a success goes back to the engine.
  void push_attempt(std::uint32_t index, const PushIntent& intent, std::uint32_t attempt) {
    const std::uint64_t generation = nodes_[index]->generation;
    at(now_ + scenario_.gateway_latency, [this, index, intent, attempt, generation] {
      Node& node = *nodes_[index];
      if (!node.up || node.generation != generation) return;  // restart refetches the outbox
      ++metrics_.push_attempts;
      const bool settled = now_ >= scenario_.duration;
      const auto failure_ppm =
          static_cast<std::uint64_t>(scenario_.gateway_failure_percent * 10'000);
      const bool fails = !settled && (gateway_down_ || rng_.chance_ppm(failure_ppm));
      if (fails) {
        TimeUs delay = 1'000'000;
        for (std::uint32_t i = 1; i < attempt && delay < 10'000'000; ++i)
          delay *= 2;
        delay = std::min<TimeUs>(delay, 10'000'000);
        at(now_ + delay / 2 + rng_.between(0, delay / 2),
           [this, index, intent, attempt] { push_attempt(index, intent, attempt + 1); });
        return;
      }
      if (delivered_pushes_.insert({index, intent.id}).second) ++metrics_.pushes_delivered;
      Record r = node_record(node, RecordKind::gateway, node_time(node));
      r.user = intent.user;
      r.device = intent.device;
      r.seq = intent.id;
      record(r);
      node_input(node, PushResult{intent.id, PushOutcome::delivered});
    });
  }

  // ---- network -------------------------------------------------------------------------------
  bool reachable(HostId a, HostId b) const {
    const auto side = [this](HostId host) {
      const auto found = partition_.find(host);
      return found == partition_.end() ? 0u : found->second;
    };
    return side(a) == side(b);
  }

  TimeUs transit() { return scenario_.latency + rng_.between(0, scenario_.jitter); }

  void to_node(ConnectionId id, client::Request request) {
    auto found = links_.find(id);
    if (found == links_.end() || !found->second.open) return;
    Link& link = found->second;
    link.last_to_node = std::max(now_ + transit(), link.last_to_node);  // TCP keeps order
    at(link.last_to_node, [this, id, request = std::move(request)]() mutable {
      const auto arrived = links_.find(id);
      if (arrived == links_.end() || !arrived->second.open) return;
      Node& node = *nodes_[arrived->second.node];
      if (!node.up || node.generation != arrived->second.node_generation) return;
      node_input(node, Received{id, std::move(request)});
    });
  }

  void to_client(ConnectionId id, server::Event event) {
    auto found = links_.find(id);
    if (found == links_.end() || !found->second.open) return;
    Link& link = found->second;
    link.last_to_client = std::max(now_ + transit(), link.last_to_client);
    at(link.last_to_client, [this, id, event = std::move(event)]() mutable {
      const auto arrived = links_.find(id);
      if (arrived == links_.end() || !arrived->second.open) return;
      on_event(arrived->second.device, std::move(event));
    });
  }

  // Closes a connection on both sides; the client reconnects with backoff.
  void drop_link(ConnectionId id, bool tell_node) {
    auto found = links_.find(id);
    if (found == links_.end() || !found->second.open) return;
    Link& link = found->second;
    link.open = false;
    Node& node = *nodes_[link.node];
    if (tell_node && node.up && node.generation == link.node_generation &&
        node.links.erase(id) > 0) {
      node_input(node, Disconnected{id});
    }
    node.links.erase(id);
    const std::size_t d = link.device;
    links_.erase(found);  // `link` dangles from here on
    Device& device = devices_[d];
    if (device.link != id) return;
    device.link = 0;
    if (device.state == DeviceState::online || device.state == DeviceState::connecting) {
      device.state = DeviceState::offline;
      schedule_reconnect(d);
    }
  }

  void drop_links_of(const std::vector<HostId>& hosts) {
    std::vector<ConnectionId> doomed;
    for (const auto& [id, link] : links_) {
      const Device& device = devices_[link.device];
      const HostId client = device_host(device.user, device.index);
      if (!reachable(client, node_host(link.node))) doomed.push_back(id);
      for (HostId host : hosts) {
        if (host == client || host == node_host(link.node)) doomed.push_back(id);
      }
    }
    std::sort(doomed.begin(), doomed.end());
    doomed.erase(std::unique(doomed.begin(), doomed.end()), doomed.end());
    for (ConnectionId id : doomed)
      drop_link(id, true);
  }

  // ---- devices -------------------------------------------------------------------------------
  void connect(std::size_t d) {
    Device& device = devices_[d];
    if (device.state != DeviceState::offline) return;
    device.state = DeviceState::connecting;
    const std::uint64_t attempt = ++device.attempt;
    at(now_ + scenario_.connect_time, [this, d, attempt] {
      Device& dev = devices_[d];
      if (dev.attempt != attempt || dev.state != DeviceState::connecting) return;
      Node& node = *nodes_[dev.node];
      if (!node.up || !reachable(device_host(dev.user, dev.index), node_host(dev.node))) {
        dev.state = DeviceState::offline;
        schedule_reconnect(d);
        return;
      }
      const ConnectionId id = next_connection_++;
      links_[id] = Link{d, dev.node, node.generation, true, now_, now_};
      node.links.insert(id);
      dev.link = id;
      dev.state = DeviceState::online;
      dev.backoff = scenario_.reconnect_min;
      ++metrics_.connects;
      node_input(node, Connected{id, dev.id, dev.cursor});
      on_connected(d);
    });
  }

  void schedule_reconnect(std::size_t d) {
    Device& device = devices_[d];
    const TimeUs wait = device.backoff + rng_.between(0, device.backoff / 2);
    device.backoff = std::min(device.backoff * 2, scenario_.reconnect_max);
    const std::uint64_t attempt = ++device.attempt;
    at(now_ + wait, [this, d, attempt] {
      if (devices_[d].attempt == attempt) connect(d);
    });
  }

  RequestId request(std::size_t d, std::string purpose, client::Request request) {
    Device& device = devices_[d];
    const RequestId id = device.next_request++;
    std::visit(
        [id](auto& typed) {
          if constexpr (requires { typed.request; }) typed.request = id;
        },
        request);
    device.requests[id] = std::move(purpose);
    to_node(device.link, std::move(request));
    return id;
  }

  // A real app on connect: register its push token, create what it was asked to, and resend
  // everything not yet acked, in order, with the same client_msg_ids.
  void on_connected(std::size_t d) {
    Device& device = devices_[d];
    if (scenario_.push_tokens && !device.token_registered) {
      request(d, "token", client::RegisterPushToken{0, "apns", "tok-" + std::to_string(device.id)});
    }
    const auto groups = pending_groups_.find(d);
    if (groups != pending_groups_.end()) {
      for (const GroupSpec& group : groups->second) {
        request(d, "group:" + group.name, client::CreateGroup{0, group.name, group_members(group)});
      }
      pending_groups_.erase(groups);
    }
    for (const PendingSend& send : device.unacked)
      transmit(d, send);
  }

  void transmit(std::size_t d, const PendingSend& send) {
    request(d, "send:" + send.client_msg_id,
            client::Send{0, send.channel, send.peer, send.client_msg_id, send.text});
  }

  void schedule_heartbeat(std::size_t d) {
    const TimeUs interval = devices_[d].clock.global_interval(scenario_.heartbeat_interval);
    at(now_ + interval, [this, d] {
      if (devices_[d].state == DeviceState::online) to_node(devices_[d].link, client::Heartbeat{});
      schedule_heartbeat(d);
    });
  }

  void on_event(std::size_t d, server::Event event) {
    Device& device = devices_[d];
    std::visit(
        [&](auto& e) {
          using T = std::decay_t<decltype(e)>;
          if constexpr (std::is_same_v<T, server::Deliver>) {
            on_deliver(d, e);
          } else if constexpr (std::is_same_v<T, server::SendAck>) {
            on_send_ack(d, e);
          } else if constexpr (std::is_same_v<T, server::Failure>) {
            on_failure(d, e);
          } else if constexpr (std::is_same_v<T, server::GroupCreated>) {
            const std::string purpose = take_request(device, e.request);
            if (purpose.rfind("group:", 0) == 0) {
              groups_by_name_[purpose.substr(6)] = e.channel;
            }
          } else if constexpr (std::is_same_v<T, server::Ok>) {
            if (take_request(device, e.request) == "token") device.token_registered = true;
          } else if constexpr (std::is_same_v<T, server::Presence>) {
            ++metrics_.presence_events;
          } else {
            if constexpr (requires { e.request; }) take_request(device, e.request);
          }
        },
        event);
  }

  static std::string take_request(Device& device, RequestId id) {
    const auto found = device.requests.find(id);
    if (found == device.requests.end()) return "";
    std::string purpose = std::move(found->second);
    device.requests.erase(found);
    return purpose;
  }

  void on_deliver(std::size_t d, const server::Deliver& deliver) {
    Device& device = devices_[d];
    for (const InboxEntry& entry : deliver.entries) {
      Record r;
      r.kind = RecordKind::delivered;
      r.user = device.user;
      r.device = device.id;
      r.peer = entry.message.sender;
      r.channel = entry.message.channel;
      r.seq = entry.message.seq;
      r.inbox_seq = entry.inbox_seq;
      r.detail = to_string(entry.message.kind);
      record(std::move(r));
      ++metrics_.delivered;
      if (entry.inbox_seq == device.cursor + 1) device.cursor = entry.inbox_seq;
      learn_membership(device.user, entry.message);
      if (entry.message.kind == MessageKind::text) {
        const auto sent = first_sent_.find({entry.message.sender, entry.message.client_msg_id});
        if (sent != first_sent_.end()) latencies_.push_back(now_ - sent->second);
      }
    }
    to_node(device.link, client::Ack{device.cursor});
  }

  void learn_membership(UserId user, const Message& message) {
    const bool names_me =
        std::find(message.users.begin(), message.users.end(), user) != message.users.end();
    if (!names_me) return;
    if (message.kind == MessageKind::group_created || message.kind == MessageKind::member_added) {
      users_[user].groups.insert(message.channel);
    } else if (message.kind == MessageKind::member_removed ||
               message.kind == MessageKind::member_left) {
      users_[user].groups.erase(message.channel);
    }
  }

  void on_send_ack(std::size_t d, const server::SendAck& ack) {
    Device& device = devices_[d];
    const std::string purpose = take_request(device, ack.request);
    if (purpose.rfind("send:", 0) != 0) return;
    const std::string client_msg_id = purpose.substr(5);
    Record r;
    r.kind = RecordKind::acked;
    r.user = device.user;
    r.device = device.id;
    r.channel = ack.channel;
    r.seq = ack.seq;
    r.flag = ack.duplicate;
    r.text = client_msg_id;
    record(std::move(r));
    if (ack.duplicate) ++metrics_.duplicate_acks;
    forget_send(device, client_msg_id, true);
  }

  void on_failure(std::size_t d, const server::Failure& failure) {
    Device& device = devices_[d];
    ++metrics_.errors[std::string(to_string(failure.code))];
    const std::string purpose = take_request(device, failure.request);
    if (purpose.rfind("send:", 0) != 0) return;
    const std::string client_msg_id = purpose.substr(5);
    Record r;
    r.kind = RecordKind::refused;
    r.user = device.user;
    r.device = device.id;
    r.text = client_msg_id;
    r.detail = std::string(to_string(failure.code));
    record(std::move(r));
    ++metrics_.refused;
    forget_send(device, client_msg_id, false);
  }

  void forget_send(Device& device, const std::string& client_msg_id, bool acked) {
    const auto found =
        std::find_if(device.unacked.begin(), device.unacked.end(),
                     [&](const PendingSend& s) { return s.client_msg_id == client_msg_id; });
    if (found == device.unacked.end()) return;  // an earlier copy was answered already
    device.unacked.erase(found);
    if (acked) ++metrics_.acked;
  }

  // ---- traffic -------------------------------------------------------------------------------
  void schedule_traffic(UserId user) {
    const auto mean =
        static_cast<TimeUs>(static_cast<double>(kMinute) / scenario_.messages_per_user_per_minute);
    // Apps open during the first second; people start writing once they have.
    at(std::max(now_, kTrafficStart) + rng_.gap(mean), [this, user] {
      if (now_ >= scenario_.duration) return;
      compose(user);
      schedule_traffic(user);
    });
  }

  std::string random_text() {
    static constexpr const char* kPieces[] = {
        "a", "b", "e", "o", " ", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"};
    const auto length =
        static_cast<std::uint32_t>(rng_.between(scenario_.text_min, scenario_.text_max));
    std::string text;
    for (std::uint32_t i = 0; i < length; ++i)
      text += kPieces[rng_.below(8)];
    return text;
  }

  // The user writes a message on one of their devices: to a group they are in (group_percent
  // of the time) or to a friend. Offline devices keep it and send it when they connect.
  void compose(UserId u) {
    User& user = users_[u];
    const std::size_t d = user.devices[rng_.below(user.devices.size())];
    Device& device = devices_[d];
    if (device.state == DeviceState::logged_out) return;
    PendingSend send;
    const bool to_group = !user.groups.empty() && rng_.below(100) < scenario_.group_percent;
    if (to_group) {
      auto it = user.groups.begin();
      std::advance(it, static_cast<long>(rng_.below(user.groups.size())));
      send.channel = *it;
    } else if (!user.friends.empty()) {
      send.peer = user.friends[rng_.below(user.friends.size())];
    } else {
      return;
    }
    send.client_msg_id = "u" + std::to_string(u) + "d" + std::to_string(device.index) + "m" +
                         std::to_string(++device.composed);
    send.text = random_text();
    Record r;
    r.kind = RecordKind::sent;
    r.user = u;
    r.device = device.id;
    r.channel = send.channel;
    r.peer = send.peer;
    r.text = send.client_msg_id;
    record(std::move(r));
    ++metrics_.sent;
    first_sent_[{u, send.client_msg_id}] = now_;
    device.unacked.push_back(send);
    if (device.state == DeviceState::online) transmit(d, device.unacked.back());
  }

  // ---- faults --------------------------------------------------------------------------------
  std::vector<std::size_t> devices_in(const HostSet& hosts) const {
    std::vector<std::size_t> found;
    for (std::size_t d = 0; d < devices_.size(); ++d) {
      const Device& device = devices_[d];
      bool in = hosts.all_users;
      in =
          in || std::find(hosts.users.begin(), hosts.users.end(), device.user) != hosts.users.end();
      in = in || std::find(hosts.devices.begin(), hosts.devices.end(),
                           std::pair{device.user, device.index}) != hosts.devices.end();
      if (in) found.push_back(d);
    }
    return found;
  }

  std::vector<HostId> hosts_in(const HostSet& hosts) const {
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

  void schedule_faults() {
    for (const Fault& fault : scenario_.faults) {
      at(fault.at, [this, fault] { inject(fault); });
    }
  }

  void inject(const Fault& fault) {
    const std::string where = "fault at line " + std::to_string(fault.line) + ": ";
    switch (fault.kind) {
      case FaultKind::disconnect:
        fault_record(where + "disconnect");
        drop_links_of(hosts_in(fault.hosts));
        break;
      case FaultKind::partition: {
        fault_record(where + "partition");
        const unsigned side = ++next_partition_;
        for (HostId host : hosts_in(fault.hosts))
          partition_[host] = side;
        drop_links_of({});
        break;
      }
      case FaultKind::heal:
        fault_record(where + "heal");
        partition_.clear();
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
        nodes_[fault.node]->slow_commit = fault.commit;
        nodes_[fault.node]->slow_until = now_ + fault.duration;
        max_commit_ = std::max(max_commit_, fault.commit);
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

  void set_clocks(const Fault& fault) {
    for (std::size_t d : devices_in(fault.hosts)) {
      Clock& clock = devices_[d].clock;
      clock = Clock{now_, fault.offset, fault.drift_ppm};
    }
    for (std::uint32_t n = 0; n < scenario_.nodes; ++n) {
      const bool in = fault.hosts.all_nodes ||
                      std::find(fault.hosts.nodes.begin(), fault.hosts.nodes.end(), n) !=
                          fault.hosts.nodes.end();
      if (!in) continue;
      Node& node = *nodes_[n];
      node.clock = Clock{now_, fault.offset, fault.drift_ppm};
      // The oscillator's rate changes; a monotonic clock never jumps.
      node.monotonic = Clock{now_, node.monotonic.local(now_) - now_, fault.drift_ppm};
    }
  }

  // An NTP-style step: the hosts' wall clocks jump by `offset` (either sign), nothing else.
  void step_clocks(const Fault& fault) {
    const auto step = [&](Clock& clock) {
      clock = Clock{now_, clock.local(now_) - now_ + fault.offset, clock.drift_ppm};
    };
    for (std::size_t d : devices_in(fault.hosts))
      step(devices_[d].clock);
    for (std::uint32_t n = 0; n < scenario_.nodes; ++n) {
      const bool in = fault.hosts.all_nodes ||
                      std::find(fault.hosts.nodes.begin(), fault.hosts.nodes.end(), n) !=
                          fault.hosts.nodes.end();
      if (in) step(nodes_[n]->clock);
    }
  }

  // Cuts the hosts off one by one, then restores them in a random order.
  void swizzle(std::vector<HostId> hosts, TimeUs step) {
    fault_record("swizzle over " + std::to_string(hosts.size()) + " hosts");
    TimeUs when = now_;
    for (HostId host : hosts) {
      at(when, [this, host] {
        partition_[host] = ++next_partition_;
        drop_links_of({});
      });
      when += step;
    }
    for (std::size_t i = hosts.size(); i > 1; --i) {
      std::swap(hosts[i - 1], hosts[rng_.below(i)]);
    }
    for (HostId host : hosts) {
      at(when, [this, host] { partition_.erase(host); });
      when += step;
    }
  }

  void logout(std::size_t d, TimeUs duration) {
    Device& device = devices_[d];
    if (device.state == DeviceState::online) request(d, "logout", client::Logout{});
    device.state = DeviceState::logged_out;
    device.token_registered = false;
    ++device.attempt;
    at(now_ + duration, [this, d] { login(d); });
  }

  void login(std::size_t d) {
    Device& device = devices_[d];
    if (device.state != DeviceState::logged_out) return;
    if (device.link != 0) drop_link(device.link, true);
    device.state = DeviceState::offline;
    connect(d);
  }

  void group_action(const Fault& fault) {
    const auto group = groups_by_name_.find(fault.group);
    const GroupSpec* spec = nullptr;
    for (const GroupSpec& g : scenario_.groups) {
      if (g.name == fault.group) spec = &g;
    }
    if (spec == nullptr) return;  // the loader rejects unknown groups
    // A fault that acts for a role acts for whoever holds it now: after a hand-over the
    // group's admin is the successor, not the creator.
    const UserId actor = fault.kind == FaultKind::leave_group ? fault.user
                         : group == groups_by_name_.end()
                             ? 0
                             : admin_of(group->second, home_of(spec->creator));
    std::optional<std::size_t> online;
    if (actor != 0) {
      for (std::size_t d : users_[actor].devices) {
        if (devices_[d].state == DeviceState::online) online = d;
      }
    }
    if (group == groups_by_name_.end() || !online) {
      fault_record("skipped group action at line " + std::to_string(fault.line) +
                   ": the group or its actor is not online");
      return;
    }
    fault_record("group action at line " + std::to_string(fault.line));
    if (fault.kind == FaultKind::leave_group) {
      request(*online, "leave", client::LeaveGroup{0, group->second});
    } else if (fault.kind == FaultKind::add_member) {
      request(*online, "add", client::AddMember{0, group->second, fault.user});
    } else {
      request(*online, "remove", client::RemoveMember{0, group->second, fault.user});
    }
  }

  // The group's admin as its node sees it at this moment (the batch in flight included, which
  // is what the engine will check the request against); 0 when nobody is left in it.
  UserId admin_of(ChannelId group, std::uint32_t index) {
    Store& store = *nodes_[index]->store;
    const bool open = store.in_transaction();
    if (!open) store.begin();
    const auto channel = Records(store).channel(group);
    if (!open) store.abort();
    return channel ? channel->admin : 0;
  }

  void schedule_random_faults() {
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
        if (devices_[d].link != 0) drop_link(devices_[d].link, true);
      });
    });
    per_minute(scenario_.partitions_per_minute, [&](TimeUs t) {
      const UserId u = 1 + rng_.below(scenario_.users);
      const TimeUs length = rng_.between(1, scenario_.partition_max);
      at(t, [this, u, length] {
        fault_record("random partition of user " + std::to_string(u));
        const unsigned side = ++next_partition_;
        for (std::size_t d : users_[u].devices) {
          partition_[device_host(u, devices_[d].index)] = side;
        }
        drop_links_of({});
        at(now_ + length, [this, u] {
          for (std::size_t d : users_[u].devices)
            partition_.erase(device_host(u, devices_[d].index));
        });
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
  void settle() {
    fault_record("settle: heal everything");
    partition_.clear();
    gateway_down_ = false;
    for (auto& node : nodes_) {
      node->slow_until = 0;
      if (!node->up) restart(node->index);
    }
    for (std::size_t d = 0; d < devices_.size(); ++d) {
      if (devices_[d].state == DeviceState::logged_out) login(d);
    }
  }

  // ---- the end -------------------------------------------------------------------------------
  NodeContents contents(Node& node) {
    NodeContents result;
    node.store->begin();
    Records& records = node.engine->records();
    for (ChannelId id = 1;; ++id) {
      const auto channel = records.channel(id);
      if (!channel) break;
      ChannelLog& log = result.channels[id];
      log.kind = channel->kind;
      if (channel->kind == ChannelKind::direct) {
        for (const auto& [user, member] : records.all_members(id))
          log.direct_members.push_back(user);
      }
      log.messages = records.messages(id, 1, channel->last_seq);
    }
    for (const PushIntent& intent : records.push_intents_after(0, SIZE_MAX)) {
      result.outbox.push_back(intent.id);
    }
    node.store->abort();
    return result;
  }

  RunResult finish() {
    RunResult result;
    std::vector<NodeContents> contents_by_node;
    for (auto& node : nodes_) {
      if (!node->up) restart(node->index);
      if (node->committing && node->store->in_transaction()) node->store->abort();
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
    for (const Fault& fault : scenario_.faults) {
      const bool on_nodes = fault.hosts.all_nodes || !fault.hosts.nodes.empty();
      if (fault.kind == FaultKind::clock && on_nodes) {
        check.node_drift_ppm = std::max(check.node_drift_ppm,
                                        fault.drift_ppm < 0 ? -fault.drift_ppm : fault.drift_ppm);
      }
    }
    check.liveness = scenario_.settle > 0;
    Checker checker(check, std::move(contents_by_node), std::move(refs), std::move(home));
    result.check = checker.check(history_);
    summarize_latency();
    metrics_.simulated = end_;
    result.metrics = metrics_;
    result.trace_hash = trace_hash(history_);
    result.history = std::move(history_);
    return result;
  }

  void summarize_latency() {
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

  const Scenario& scenario_;
  const SimOptions& options_;
  Rng rng_;
  EngineConfig config_;
  TimeUs now_ = 0;
  TimeUs end_ = 0;
  std::uint64_t next_order_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<User> users_;
  std::vector<Device> devices_;
  std::map<ConnectionId, Link> links_;
  ConnectionId next_connection_ = 1;
  std::map<HostId, unsigned> partition_;
  unsigned next_partition_ = 0;
  std::map<std::size_t, std::vector<GroupSpec>> pending_groups_;
  std::map<std::string, ChannelId> groups_by_name_;
  std::map<std::pair<UserId, std::string>, TimeUs> first_sent_;
  std::vector<TimeUs> latencies_;
  TimeUs max_commit_ = 0;
  bool gateway_down_ = false;
  std::set<std::pair<std::uint32_t, std::uint64_t>> delivered_pushes_;
  Metrics metrics_;
  History history_;
};

std::vector<std::string> check_expectations(const Scenario& s, const Metrics& m,
                                            const CheckResult& check) {
  std::vector<std::string> failures;
  const auto at_most = [&](const char* what, double value, std::optional<double> limit) {
    if (limit && value > *limit) {
      failures.push_back(std::string(what) + " = " + std::to_string(value) + " > " +
                         std::to_string(*limit));
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
  return failures;
}

}  // namespace

RunResult run_simulation(const Scenario& scenario, std::uint64_t seed, const SimOptions& options) {
  World world(scenario, seed, options);
  RunResult result = world.run();
  result.seed = seed;
  result.expectation_failures = check_expectations(scenario, result.metrics, result.check);
  return result;
}

}  // namespace parley::sim
