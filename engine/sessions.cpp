// Engine memory made durable (EngineConfig::durable_sessions; docs/cluster.md, "Engine
// memory"). A replica restarted at log index n must hold what every other replica holds at
// n, including what the engine keeps in memory: the connection table (each connection's
// device, user and delivery window) and the presence tracker (each live device's last sign
// of life and queued deadline, each online user's last_active). Handlers note what they
// change; at the end of each input the noted entries are written (or erased) in the input's
// own transaction, so the tables always match memory at a commit; open() reads them back.
#include <algorithm>

#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

template <typename Id>
void sort_unique(std::vector<Id>& ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

void persist_sessions(State& state) {
  sort_unique(state.changed_sessions);
  for (ConnectionId id : state.changed_sessions) {
    const auto found = state.connections.find(id);
    if (found == state.connections.end()) {
      state.records.erase_session(id);
      continue;
    }
    const Connection& connection = found->second;
    state.records.put_session(id, SessionRecord{connection.device, connection.user,
                                                connection.acked, connection.sent_upto});
  }
  state.changed_sessions.clear();
}

void persist_presence(State& state) {
  std::vector<DeviceId> devices;
  std::vector<UserId> users;
  state.presence.take_changes(devices, users);
  sort_unique(devices);
  sort_unique(users);
  for (DeviceId device : devices) {
    if (const auto life = state.presence.device_life(device)) {
      state.records.put_live_device(device, {life->user, life->last_seen, life->deadline});
    } else {
      state.records.erase_live_device(device);
    }
  }
  for (UserId user : users) {
    if (const auto last_active = state.presence.last_active(user)) {
      state.records.put_live_user(user, *last_active);
    } else {
      state.records.erase_live_user(user);
    }
  }
}

// The connection's in-flight entries (acked + 1 to sent_upto) with their text sizes, as
// pump() recorded them when it sent them.
void rebuild_in_flight(const State& state, Connection& connection) {
  const auto entries = state.records.inbox_after(connection.user, connection.acked,
                                                 connection.sent_upto - connection.acked);
  PARLEY_ASSERT(entries.size() == connection.sent_upto - connection.acked);
  for (const InboxRef& entry : entries) {
    const auto message = state.records.message(entry.message);
    PARLEY_ASSERT(message.has_value());
    connection.in_flight.emplace_back(entry.inbox_seq, message->text.size());
    connection.in_flight_bytes += message->text.size();
  }
}

}  // namespace

void persist_memory(State& state) {
  if (!state.config.durable_sessions) return;
  persist_sessions(state);
  persist_presence(state);
}

void restore_memory(State& state) {
  PARLEY_ASSERT(state.config.durable_sessions && state.connections.empty());
  for (const auto& [id, session] : state.records.sessions()) {
    Connection& connection = state.connections[id];
    connection = Connection{session.device, session.user, session.acked, session.sent_upto, {}, 0};
    rebuild_in_flight(state, connection);
    check_in_flight(state, connection);
    state.connection_by_device[session.device] = id;
    state.connections_by_user[session.user].push_back(id);  // ascending, as attach() keeps it
  }
  for (const auto& [device, life] : state.records.live_devices())
    state.presence.restore_exact(device, {life.user, life.last_seen, life.deadline});
  for (const auto& [user, last_active] : state.records.live_users())
    state.presence.restore_user(user, last_active);
  std::vector<DeviceId> devices;
  std::vector<UserId> users;
  state.presence.take_changes(devices, users);  // nothing changed: it was read back
}

}  // namespace parley::engine::detail
