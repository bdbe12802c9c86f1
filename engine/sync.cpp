// Multi-device sync (docs/engine.md, rule 7): binding connections to devices, the delivery
// pump with its window, and acks that move a device's cursor.
#include <algorithm>

#include "engine/context.hpp"

namespace parley::engine::detail {

Effects on_connected(State& state, const Connected& input, TimeUs now) {
  Records& records = state.records;
  Effects out;
  PARLEY_ASSERT(!state.connections.contains(input.connection));
  const auto device = records.device(input.device);
  if (!device) {
    out.push_back(
        SendEvent{input.connection, server::Failure{0, ErrorCode::unknown_device,
                                                    "no device " + std::to_string(input.device)}});
    out.push_back(CloseConnection{input.connection, CloseReason::unknown_device});
    return out;
  }
  const InboxSeq head = records.inbox_head(device->user);
  if (input.cursor > head) {
    out.push_back(SendEvent{
        input.connection,
        server::Failure{0, ErrorCode::invalid_cursor,
                        "cursor " + std::to_string(input.cursor) + " is past the inbox head " +
                            std::to_string(head) + "; reconnect with a cursor <= head"}});
    out.push_back(CloseConnection{input.connection, CloseReason::invalid_cursor});
    return out;
  }
  if (auto previous = state.connection_by_device.find(input.device);
      previous != state.connection_by_device.end()) {
    out.push_back(CloseConnection{previous->second, CloseReason::replaced});
    forget_connection(state, previous->second);
  }
  Connection& connection = state.connections[input.connection];
  connection = Connection{input.device, device->user, input.cursor, input.cursor, {}, 0};
  state.connection_by_device[input.device] = input.connection;
  // Ascending, so a replica that restores the table from the store (sessions.cpp) fans out
  // in the same order as one that never restarted.
  auto& of_user = state.connections_by_user[device->user];
  of_user.insert(std::upper_bound(of_user.begin(), of_user.end(), input.connection),
                 input.connection);
  note_session(state, input.connection);
  out.push_back(SendEvent{
      input.connection,
      server::Welcome{device->user, input.device, input.cursor, head,
                      state.config.heartbeat_interval_us, state.config.presence_timeout_us}});
  if (auto change = state.presence.alive(device->user, input.device, now)) {
    announce(state, *change, now, out);
  }
  server::PresenceList snapshot;
  for (const auto& [other, contact] : records.contacts_of(device->user)) {
    if (records.friends(device->user, other)) snapshot.entries.push_back(presence_of(state, other));
  }
  out.push_back(SendEvent{input.connection, std::move(snapshot)});
  pump(state, input.connection, connection, out);
  return out;
}

Effects on_disconnected(State& state, const Disconnected& input) {
  forget_connection(state, input.connection);
  return {};
}

void handle(Context& context, const client::Ack& ack) {
  Connection& connection = context.connection;
  if (ack.inbox_seq > connection.sent_upto) {
    return context.fail(
        0, {ErrorCode::invalid_ack,
            "ack for inbox entry " + std::to_string(ack.inbox_seq) + " that was never delivered"});
  }
  if (ack.inbox_seq <= connection.acked) return;  // stale or repeated: harmless
  connection.acked = ack.inbox_seq;
  note_session(context.state, context.connection_id);
  while (!connection.in_flight.empty() && connection.in_flight.front().first <= ack.inbox_seq) {
    connection.in_flight_bytes -= connection.in_flight.front().second;
    connection.in_flight.pop_front();
  }
  check_in_flight(context.state, connection);
  if (context.records.device_cursor(connection.device) < ack.inbox_seq) {
    context.records.put_device_cursor(connection.device, ack.inbox_seq);
  }
  advance_delivered(context, ack.inbox_seq);
  pump(context.state, context.connection_id, connection, context.out);
}

void forget_connection(State& state, ConnectionId id) {
  const auto found = state.connections.find(id);
  if (found == state.connections.end()) return;
  const Connection connection = found->second;
  state.connections.erase(found);
  note_session(state, id);
  state.connection_by_device.erase(connection.device);
  auto& of_user = state.connections_by_user[connection.user];
  std::erase(of_user, id);
  if (of_user.empty()) state.connections_by_user.erase(connection.user);
}

void close_device_connection(State& state, DeviceId device, CloseReason reason, Effects& out) {
  const auto live = state.connection_by_device.find(device);
  if (live == state.connection_by_device.end()) return;
  out.push_back(CloseConnection{live->second, reason});
  forget_connection(state, live->second);
}

void pump(State& state, ConnectionId id, Connection& connection, Effects& out) {
  const EngineConfig& config = state.config;
  const auto bytes_allow = [&] {
    return connection.in_flight.empty() ||
           connection.in_flight_bytes < config.delivery_window_bytes;
  };
  while (connection.sent_upto - connection.acked < config.delivery_window && bytes_allow()) {
    const std::size_t room = config.delivery_window - (connection.sent_upto - connection.acked);
    const std::size_t asked = std::min<std::size_t>(room, config.delivery_batch);
    const auto entries = state.records.inbox_after(connection.user, connection.sent_upto, asked);
    if (entries.empty()) break;
    server::Deliver deliver;
    deliver.entries.reserve(entries.size());
    std::size_t bytes = 0;
    for (const InboxRef& entry : entries) {
      if (!deliver.entries.empty() && bytes >= config.delivery_batch_bytes) break;
      if (!deliver.entries.empty() && !bytes_allow()) break;
      PARLEY_ASSERT(entry.inbox_seq == connection.sent_upto + deliver.entries.size() + 1);
      auto message = state.records.message(entry.message);
      PARLEY_ASSERT(message.has_value());
      present(state.records, connection.user, *message);
      bytes += message->text.size();
      connection.in_flight.emplace_back(entry.inbox_seq, message->text.size());
      connection.in_flight_bytes += message->text.size();
      deliver.entries.push_back(InboxEntry{entry.inbox_seq, std::move(*message)});
    }
    connection.sent_upto = deliver.entries.back().inbox_seq;
    note_session(state, id);
    // Fewer entries than asked, all sent: the inbox is empty past them (a scan to learn it
    // again cost a tree walk per delivery, issue 16).
    const bool drained = entries.size() < asked && deliver.entries.size() == entries.size();
    out.push_back(SendEvent{id, std::move(deliver)});
    if (drained) break;
  }
  check_in_flight(state, connection);
}

void deliver_live(State& state, UserId user, Effects& out) {
  const auto found = state.connections_by_user.find(user);
  if (found == state.connections_by_user.end()) return;
  for (ConnectionId id : found->second)
    pump(state, id, state.connections.at(id), out);
}

void check_in_flight(const State& state, const Connection& connection) {
  if (!state.config.check_invariants) return;
  PARLEY_ASSERT(connection.acked <= connection.sent_upto);
  PARLEY_ASSERT(connection.in_flight.size() == connection.sent_upto - connection.acked);
  std::size_t bytes = 0;
  InboxSeq expected = connection.acked;
  for (const auto& [inbox_seq, size] : connection.in_flight) {
    PARLEY_ASSERT(inbox_seq == ++expected);
    bytes += size;
  }
  PARLEY_ASSERT(bytes == connection.in_flight_bytes);
}

}  // namespace parley::engine::detail
