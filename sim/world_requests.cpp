// Simulated people and message requests (engine rule 22): messages to strangers
// (stranger_percent), accepting some of the requests they make (accept_percent), the apps'
// unread queries and the `answered` / `unread` trace records invariant 12 reads, and the
// planted bugs of a node that ignored requests.
#include "sim/world_impl.hpp"

#include <algorithm>

namespace parley::sim::detail {

// A user of the same node who is neither `u` nor one of their contacts; none when the node
// has no such user. Cross-node chat is not simulated outside a cluster, so a stranger lives
// on the same node.
std::optional<UserId> World::random_stranger(UserId u) {
  const auto& friends = users_[u].friends;  // sorted (build_friends)
  std::vector<UserId> strangers;
  for (UserId other = 1; other <= scenario_.users; ++other) {
    if (other == u || home_of(other) != home_of(u)) continue;
    if (std::binary_search(friends.begin(), friends.end(), other)) continue;
    strangers.push_back(other);
  }
  if (strangers.empty()) return std::nullopt;
  return strangers[rng_.below(strangers.size())];
}

// The first text a user receives in a 1:1 chat from someone who is not their contact: a
// message request. With accept_percent, drawn once per chat, the app accepts it 1 to 5 s
// later (an `accept` the node answers with a RequestAnswered).
void World::maybe_accept_later(std::size_t d, const Message& message) {
  if (scenario_.accept_percent == 0 || message.kind != MessageKind::text) return;
  User& user = users_[devices_[d].user];
  if (message.sender == user.id || user.groups.contains(message.channel)) return;
  if (std::binary_search(user.friends.begin(), user.friends.end(), message.sender)) return;
  if (!user.accept_decided.insert(message.channel).second) return;
  if (rng_.below(100) >= scenario_.accept_percent) return;
  const ChannelId channel = message.channel;
  at(now_ + rng_.between(1'000'000, 5'000'000), [this, d, channel] {
    if (devices_[d].state != DeviceState::online || now_ >= scenario_.duration) return;
    ++metrics_.accepts_sent;
    request(d, "accept", client::AnswerRequest{0, channel, engine::client::RequestAnswer::accept});
  });
}

// The node answered an AnswerRequest (request != 0): an `answered` record with the node's
// time, which invariants 5 and 12 read to know the request ended.
void World::answered_record(Node& node, ConnectionId connection,
                            const server::RequestAnswered& answered, TimeUs local) {
  if (answered.request == 0) return;
  const auto user = node.bound->user.find(connection);
  if (user == node.bound->user.end()) return;
  Record r = node_record(node, RecordKind::answered, local);
  r.user = user->second;
  r.channel = answered.channel;
  r.flag = answered.answer == engine::client::RequestAnswer::accept;
  node.batch_records.push_back(r);
}

// What queryUnread told the app: an `unread` record per channel counted, and the total.
void World::on_unread(std::size_t d, const server::UnreadCounts& counts) {
  Record total = device_record(d, RecordKind::unread);
  total.seq = counts.total;
  record(total);
  for (const auto& [channel, count] : counts.channels) {
    Record r = device_record(d, RecordKind::unread);
    r.channel = channel;
    r.seq = count;
    record(std::move(r));
  }
}

// PLANTED BUG (request_pushed): the append of a stranger's message is recorded with a push
// to the user written to, as if the node pushed message requests like any message.
void World::push_request_anyway(Node& node, const server::SendAck& ack, UserId sender,
                                TimeUs local) {
  const auto chat = stranger_chats_.find({shard_of(node), ack.channel});
  if (chat == stranger_chats_.end() || chat->second == sender) return;
  for (std::size_t d : users_[chat->second].devices) {
    Record r = node_record(node, RecordKind::push, local);
    r.user = chat->second;
    r.device = devices_[d].id;
    r.channel = ack.channel;
    r.seq = ack.seq;
    node.batch_records.push_back(r);
  }
}

// PLANTED BUG (request_counted): an UnreadCounts answer counts each stranger's chat of the
// user one unread, as if requests counted like any chat.
void World::count_requests_anyway(ConnectionId connection, server::Event& event) {
  auto* counts = std::get_if<server::UnreadCounts>(&event);
  const Link* link = links_.find(connection);
  if (counts == nullptr || link == nullptr) return;
  const UserId user = devices_[link->device].user;
  for (const auto& [chat, to] : stranger_chats_) {
    if (to != user || chat.first != users_[user].node) continue;
    const bool listed = std::any_of(counts->channels.begin(), counts->channels.end(),
                                    [&](const auto& entry) { return entry.first == chat.second; });
    if (listed) continue;
    counts->channels.emplace_back(chat.second, 1);
    ++counts->total;
  }
}

}  // namespace parley::sim::detail
