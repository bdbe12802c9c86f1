// The devices: apps that connect, reconnect with backoff, send requests and handle events.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <string>
#include <type_traits>

namespace parley::sim::detail {

void World::connect(std::size_t d) {
  Device& device = devices_[d];
  if (device.state != DeviceState::offline) return;
  device.state = DeviceState::connecting;
  const std::uint64_t attempt = ++device.attempt;
  at(now_ + scenario_.connect_time, [this, d, attempt] {
    Device& dev = devices_[d];
    if (dev.attempt != attempt || dev.state != DeviceState::connecting) return;
    if (has_gateways()) {
      // The app asks discovery for a gateway, which relays it to the leader.
      if (!connect_through_gateway(d)) {
        dev.state = DeviceState::offline;
        schedule_reconnect(d);
        return;
      }
      dev.state = DeviceState::online;
      dev.backoff = scenario_.reconnect_min;
      ++metrics_.connects;
      on_connected(d);
      return;
    }
    if (clustered()) {
      // Without gateways, the app asks the directory which replica leads, then connects to it;
      // a replica that does not lead refuses it (not_leader), as a dead one does not answer.
      const auto leader = etcd_->leader_node(now_);
      if (leader) dev.node = *leader;
    }
    Node& node = *nodes_[dev.node];
    const bool serving = !clustered() || node.token != 0;
    if (!node.up || !serving || !reachable(device_host(dev.user, dev.index), node_host(dev.node))) {
      dev.state = DeviceState::offline;
      schedule_reconnect(d);
      return;
    }
    const ConnectionId id = next_connection_++;
    links_.put(id, Link{d, dev.node, node.generation, true, now_, now_});
    node.links.insert(id);
    dev.link = id;
    dev.state = DeviceState::online;
    dev.backoff = scenario_.reconnect_min;
    ++metrics_.connects;
    node_input(node, Connected{id, dev.id, dev.cursor});
    on_connected(d);
  });
}

void World::schedule_reconnect(std::size_t d) {
  Device& device = devices_[d];
  const TimeUs wait = device.backoff + rng_.between(0, device.backoff / 2);
  device.backoff = std::min(device.backoff * 2, scenario_.reconnect_max);
  const std::uint64_t attempt = ++device.attempt;
  at(now_ + wait, [this, d, attempt] {
    if (devices_[d].attempt == attempt) connect(d);
  });
}

RequestId World::request(std::size_t d, std::string purpose, client::Request request) {
  Device& device = devices_[d];
  const RequestId id = device.next_request++;
  std::visit(
      [id](auto& typed) {
        if constexpr (requires { typed.request; }) typed.request = id;
      },
      request);
  device.requests[id] = std::move(purpose);
  to_server(d, std::move(request));
  return id;
}

// A real app on connect: register its push token, create what it was asked to, and resend
// everything not yet acked, in order, with the same client_msg_ids.
void World::on_connected(std::size_t d) {
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
  device.unread_asked = false;  // an answer lost with the last connection never comes
  ask_unread(d);
}

// An app that may hold message requests keeps its unread badge up to date: it asks after
// each welcome and each delivery, one question at a time (invariant 12 reads the answers).
void World::ask_unread(std::size_t d) {
  Device& device = devices_[d];
  if (scenario_.stranger_percent == 0 || device.unread_asked) return;
  device.unread_asked = true;
  request(d, "unread", client::QueryUnread{});
}

void World::transmit(std::size_t d, const PendingSend& send) {
  request(d, "send:" + send.client_msg_id,
          client::Send{0, send.channel, send.peer, send.client_msg_id, send.text, send.reply_to});
}

void World::schedule_heartbeat(std::size_t d) {
  const TimeUs local = users_[devices_[d].user].heartbeat.value_or(scenario_.heartbeat_interval);
  if (local == 0) return;  // an app that never heartbeats
  const TimeUs interval = devices_[d].clock.global_interval(local);
  at(now_ + interval, [this, d] {
    if (devices_[d].state == DeviceState::online) to_server(d, client::Heartbeat{});
    schedule_heartbeat(d);
  });
}

void World::on_event(std::size_t d, server::Event event) {
  Device& device = devices_[d];
  server::for_each_receipt(event, [&](ChannelId, const server::ReceiptEntry&) {
    ++metrics_.receipt_events;  // a receipt, or an entry of one commit's coalesced
  });
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
          const std::string purpose = take_request(device, e.request);
          if (purpose == "token") device.token_registered = true;
          if (purpose.starts_with("action:")) action_answered(purpose, "ok");
        } else if constexpr (std::is_same_v<T, server::PresenceList>) {
          device.presence_known.clear();
          for (const server::PresenceEntry& entry : e.entries)
            device.presence_known[entry.user] = entry.online;
        } else if constexpr (std::is_same_v<T, server::Presence>) {
          ++metrics_.presence_events;
          const auto [known, first] =
              device.presence_known.try_emplace(e.entry.user, e.entry.online);
          if (!first && known->second == e.entry.online) ++metrics_.presence_repeats;
          known->second = e.entry.online;
        } else if constexpr (std::is_same_v<T, server::Typing>) {
          ++metrics_.typing_events;
        } else if constexpr (std::is_same_v<T, server::HistoryPage>) {
          on_history_page(d, e, take_request(device, e.request));
        } else if constexpr (std::is_same_v<T, server::SearchResults>) {
          on_search_results(d, e, take_request(device, e.request));
        } else if constexpr (std::is_same_v<T, server::UnreadCounts>) {
          if (take_request(device, e.request) == "unread") {
            device.unread_asked = false;
            on_unread(d, e);
          }
        } else {
          if constexpr (requires { e.request; }) take_request(device, e.request);
        }
      },
      event);
}

// A group action's reply: its outcome in the trace and for the fault's `outcome`. `purpose`
// is "action:LINE:TEXT"; `outcome` "ok" or the error code.
void World::action_answered(const std::string& purpose, std::string_view outcome) {
  const std::size_t colon = purpose.find(':', 7);
  const std::size_t line = std::stoul(purpose.substr(7, colon - 7));
  action_outcomes_[line].emplace_back(outcome);
  const std::string said = outcome == "ok" ? "ok" : "refused " + std::string(outcome);
  fault_record(purpose.substr(colon + 1) + ": " + said, false);
}

std::string World::take_request(Device& device, RequestId id) {
  const auto found = device.requests.find(id);
  if (found == device.requests.end()) return "";
  std::string purpose = std::move(found->second);
  device.requests.erase(found);
  return purpose;
}

void World::on_deliver(std::size_t d, const server::Deliver& deliver) {
  Device& device = devices_[d];
  metrics_.largest_deliver =
      std::max<std::uint64_t>(metrics_.largest_deliver, deliver.entries.size());
  for (const InboxEntry& entry : deliver.entries) {
    Record r = device_record(d, RecordKind::delivered);
    r.peer = entry.message.sender;
    r.channel = entry.message.channel;
    r.seq = entry.message.seq;
    r.inbox_seq = entry.inbox_seq;
    r.detail = to_string(entry.message.kind);
    r.flag = is_tombstone(entry.message);
    r.text = reference_state(entry.message);
    record(std::move(r));
    ++metrics_.delivered;
    if (entry.message.target != 0) ++metrics_.revisions;
    if (entry.inbox_seq == device.cursor + 1) device.cursor = entry.inbox_seq;
    learn_membership(device.user, entry.message);
    users_[device.user].chats.insert(entry.message.channel);
    maybe_read_later(d, entry.message);
    maybe_mute_later(d, entry.message);
    maybe_accept_later(d, entry.message);
    ask_unread(d);
    if (entry.message.kind == MessageKind::text && entry.message.sender != device.user) {
      Seq& newest = users_[device.user].newest_text[entry.message.channel];
      newest = std::max(newest, entry.message.seq);
    }
    if (entry.message.kind == MessageKind::text) {
      const auto sent = first_sent_.find({entry.message.sender, entry.message.client_msg_id});
      if (sent != first_sent_.end()) {
        const TimeUs latency = now_ - sent->second;
        latencies_.push_back(latency);
        TimeUs& by_user = slowest_by_user_[device.user];
        by_user = std::max(by_user, latency);
        TimeUs& by_channel = slowest_by_channel_[{home_of(device.user), entry.message.channel}];
        by_channel = std::max(by_channel, latency);
      }
    }
  }
  to_server(d, client::Ack{device.cursor});
}

// Drawn from the PRNG only with read_percent set: other scenarios' runs stay as they were.
void World::maybe_read_later(std::size_t d, const Message& message) {
  if (scenario_.read_percent == 0 || message.kind != MessageKind::text) return;
  if (message.sender == devices_[d].user) return;
  if (rng_.below(100) >= scenario_.read_percent) return;
  const TimeUs after = rng_.between(500'000, 5'000'000);
  at(now_ + after,
     [this, d, channel = message.channel, seq = message.seq] { mark_read(d, channel, seq); });
}

// The app marks the chat read up to `seq` (answered by Ok), if the device is still online.
void World::mark_read(std::size_t d, ChannelId channel, Seq seq) {
  const Device& device = devices_[d];
  if (device.state != DeviceState::online) return;
  Record r = device_record(d, RecordKind::marked);
  r.channel = channel;
  r.seq = seq;
  record(std::move(r));
  ++metrics_.marks_sent;
  request(d, "read", client::MarkRead{0, channel, seq});
}

void World::learn_membership(UserId user, const Message& message) {
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

void World::on_send_ack(std::size_t d, const server::SendAck& ack) {
  Device& device = devices_[d];
  const std::string purpose = take_request(device, ack.request);
  if (purpose.rfind("send:", 0) != 0) return;
  const std::string client_msg_id = purpose.substr(5);
  Record r = device_record(d, RecordKind::acked);
  r.channel = ack.channel;
  r.seq = ack.seq;
  r.flag = ack.duplicate;
  r.text = client_msg_id;
  record(std::move(r));
  if (ack.duplicate) ++metrics_.duplicate_acks;
  if (!ack.duplicate) maybe_revise_later(d, ack.channel, ack.seq);
  const UserId peer = forget_send(device, client_msg_id, true);
  if (peer != 0) users_[device.user].direct_chats[peer] = ack.channel;
  if (const auto stranger = stranger_sends_.find({device.user, client_msg_id});
      stranger != stranger_sends_.end()) {
    stranger_chats_[{users_[device.user].node, ack.channel}] = stranger->second;
  }
}

void World::on_failure(std::size_t d, const server::Failure& failure) {
  Device& device = devices_[d];
  ++metrics_.errors[std::string(to_string(failure.code))];
  const std::string purpose = take_request(device, failure.request);
  if (purpose.starts_with("action:")) action_answered(purpose, to_string(failure.code));

  if (purpose.rfind("send:", 0) != 0) return;
  const std::string client_msg_id = purpose.substr(5);
  Record r = device_record(d, RecordKind::refused);
  r.text = client_msg_id;
  r.detail = std::string(to_string(failure.code));
  record(std::move(r));
  ++metrics_.refused;
  forget_send(device, client_msg_id, false);
}

UserId World::forget_send(Device& device, const std::string& client_msg_id, bool acked) {
  const auto found =
      std::find_if(device.unacked.begin(), device.unacked.end(),
                   [&](const PendingSend& s) { return s.client_msg_id == client_msg_id; });
  if (found == device.unacked.end()) return 0;  // an earlier copy was answered already
  const UserId peer = found->peer;
  device.unacked.erase(found);
  if (acked) ++metrics_.acked;
  return peer;
}

}  // namespace parley::sim::detail
