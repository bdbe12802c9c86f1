// What the nodes saw, as history records for the checker (sim/history.hpp): signs of life,
// logouts, token changes, presence, pushes, appends, typing and receipt events sent, and
// bound connections. They join the node's batch and reach the history only when it commits.
#include "sim/world_impl.hpp"

namespace parley::sim::detail {

Record World::node_record(const Node& node, RecordKind kind, TimeUs local) const {
  Record r;
  r.kind = kind;
  r.node = shard_of(node);
  r.node_time = local;
  return r;
}

// What the node saw, for the checker: signs of life, logouts and token changes.
void World::record_input(Node& node, const Input& input, TimeUs local) {
  ConnectionId connection = 0;
  const client::Request* request = nullptr;
  if (const auto* connected = std::get_if<Connected>(&input)) connection = connected->connection;
  if (const auto* received = std::get_if<Received>(&input)) {
    connection = received->connection;
    request = &received->request;
  }
  if (const auto* gone = std::get_if<Disconnected>(&input)) {
    node.bound->engine_links.erase(gone->connection);
    unbind(node, gone->connection, local);
  }
  if (connection == 0) return;
  if (request == nullptr) {
    node.bound->engine_links.insert(connection);
    const DeviceId id = std::get<Connected>(input).device;
    if (id >= 1 && id <= devices_.size()) bind(node, connection, id, local);
  }
  // The device from the node's own view, not the network's link: a frame the node queued
  // before a partition dropped the link is still a sign of life to the engine.
  const auto device = node.bound->device.find(connection);
  if (device == node.bound->device.end() || !node.bound->engine_links.contains(connection)) return;
  Record life = node_record(node, RecordKind::life, local);
  life.user = devices_[device->second - 1].user;
  life.device = device->second;
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
  if (const auto* typing = std::get_if<client::Typing>(&*request); typing && !typing->typing) {
    // A stop changes what the engine forwards next even when nobody is told of it
    // (invariant 9).
    Record stop = life;
    stop.kind = RecordKind::typing;
    stop.peer = life.user;
    stop.channel = typing->channel;
    stop.detail = "request";
    node.batch_records.push_back(stop);
  }
  if (registers || drops) {
    Record token = life;
    token.kind = RecordKind::token;
    token.flag = registers;
    node.batch_records.push_back(token);
  }
}

void World::record_effect(Node& node, const Effect& effect, TimeUs local) {
  if (const auto* close = std::get_if<CloseConnection>(&effect)) {
    node.bound->engine_links.erase(close->connection);
    unbind(node, close->connection, local);
  } else if (const auto* change = std::get_if<PresenceChange>(&effect)) {
    Record r = node_record(node, RecordKind::presence, local);
    r.user = change->user;
    r.flag = change->online;
    node.batch_records.push_back(r);
  } else if (const auto* push = std::get_if<PushNotification>(&effect)) {
    // Only a mention pushes to a user who muted the chat (rule 21).
    if (options_.planted_bug == PlantedBug::mention_unpushed &&
        muted_on_node(node, push->intent.user, push->intent.channel, local)) {
      return;  // PLANTED BUG: the mention's push is never recorded as sent
    }
    Record r = node_record(node, RecordKind::push, local);
    r.user = push->intent.user;
    r.device = push->intent.device;
    r.channel = push->intent.channel;
    r.seq = push->intent.seq;
    node.batch_records.push_back(r);
  } else if (const auto* send = std::get_if<SendEvent>(&effect)) {
    if (const auto* typing = std::get_if<server::Typing>(&send->event)) {
      return typing_record(node, send->connection, *typing, local);
    }
    // Receipts are recorded as the batch releases them, coalesced (record_receipts), to
    // the device bound now.
    if (std::holds_alternative<server::Receipt>(send->event)) {
      const auto device = node.bound->device.find(send->connection);
      if (device != node.bound->device.end())
        node.receipt_devices.emplace(send->connection, device->second);
      return;
    }
    if (const auto* mute = std::get_if<server::ChannelMute>(&send->event)) {
      return mute_record(node, send->connection, *mute, local);
    }
    if (const auto* answered = std::get_if<server::RequestAnswered>(&send->event)) {
      return answered_record(node, send->connection, *answered, local);
    }
    const auto* ack = std::get_if<server::SendAck>(&send->event);
    if (ack == nullptr || ack->duplicate) return;
    // The sender from the node's own view, as for signs of life: the network may have
    // dropped the link since the send arrived, and the message is appended all the same.
    const auto sender = node.bound->user.find(send->connection);
    if (sender == node.bound->user.end()) return;
    Record r = node_record(node, RecordKind::append, local);
    r.user = sender->second;
    r.channel = ack->channel;
    r.seq = ack->seq;
    node.batch_records.push_back(r);
    if (options_.planted_bug == PlantedBug::request_pushed) {
      push_request_anyway(node, *ack, sender->second, local);  // PLANTED BUG
    }
  }
}

// A typing event the engine sent a connection, with the engine's time (invariant 9).
void World::typing_record(Node& node, ConnectionId connection, const server::Typing& typing,
                          TimeUs local) {
  const auto device = node.bound->device.find(connection);
  if (device == node.bound->device.end()) return;
  Record r = node_record(node, RecordKind::typing, local);
  r.user = devices_[device->second - 1].user;
  r.device = device->second;
  r.peer = typing.user;
  r.channel = typing.channel;
  r.flag = typing.typing;
  node.batch_records.push_back(r);
  if (options_.planted_bug == PlantedBug::typing_sent_twice) {
    node.batch_records.push_back(r);  // PLANTED BUG: the same fanout again
  }
}

// The receipt frames a committed batch releases, as host::Core coalesced them (one per
// connection and channel: a server::Receipt, or a server::Receipts with request 0), one
// record per member entry, so the checker sees what the clients are sent.
void World::record_receipts(Node& node, const Effects& released, TimeUs local) {
  for (const Effect& effect : released) {
    const auto* send = std::get_if<SendEvent>(&effect);
    if (send == nullptr) continue;
    server::for_each_receipt(
        send->event, [&](ChannelId channel, const server::ReceiptEntry& entry) {
          receipt_record(node, send->connection, server::Receipt{channel, entry}, local);
        });
  }
  node.receipt_devices.clear();
}

// A receipt event the engine sent a connection (invariant 10): the recipient as user/device,
// the member whose positions moved as peer, delivered_seq as seq and read_seq as inbox_seq.
void World::receipt_record(Node& node, ConnectionId connection, const server::Receipt& receipt,
                           TimeUs local) {
  const auto device = node.receipt_devices.find(connection);
  if (device == node.receipt_devices.end()) return;  // not bound when told
  Record r = node_record(node, RecordKind::receipt, local);
  r.user = devices_[device->second - 1].user;
  r.device = device->second;
  r.peer = receipt.entry.user;
  r.channel = receipt.channel;
  r.seq = receipt.entry.delivered_seq;
  r.inbox_seq = receipt.entry.read_seq;
  if (options_.planted_bug == PlantedBug::read_receipt_early) {
    r.inbox_seq = r.seq;  // PLANTED BUG: as release() sends it, read claimed at delivery
  }
  node.batch_records.push_back(r);
}

// Whether a user has a connection bound in the engine, for the checker's push rule: a
// record when it changes.
void World::bind(Node& node, ConnectionId connection, DeviceId device, TimeUs local) {
  const UserId user = devices_[device - 1].user;
  if (!node.bound->user.emplace(connection, user).second) return;
  node.bound->device.emplace(connection, device);
  if (node.bound->per_user[user]++ == 0) connection_record(node, user, true, local);
}

void World::unbind(Node& node, ConnectionId connection, TimeUs local) {
  const auto found = node.bound->user.find(connection);
  if (found == node.bound->user.end()) return;
  const UserId user = found->second;
  node.bound->user.erase(found);
  node.bound->device.erase(connection);
  if (--node.bound->per_user[user] > 0) return;
  node.bound->per_user.erase(user);
  connection_record(node, user, false, local);
}

void World::connection_record(Node& node, UserId user, bool connected, TimeUs local) {
  Record r = node_record(node, RecordKind::connection, local);
  r.user = user;
  r.flag = connected;
  node.batch_records.push_back(r);
}

}  // namespace parley::sim::detail
