// Simulated people muting chats (mute_percent; engine rule 21), the `muted` trace records,
// and the planted bug about mentions in muted chats. Replies and mentions are chosen when a
// message is composed (World::choose_reply_and_mention, world_traffic.cpp).
#include "sim/world_impl.hpp"

namespace parley::sim::detail {

// Drawn from the PRNG only with mute_percent set, once per user and chat, at the first
// message the user receives there: other scenarios' runs stay as they were.
void World::maybe_mute_later(std::size_t d, const Message& message) {
  if (scenario_.mute_percent == 0) return;
  User& user = users_[devices_[d].user];
  if (!user.mute_decided.insert(message.channel).second) return;
  if (rng_.below(100) >= scenario_.mute_percent) return;
  const TimeUs after = rng_.between(1'000'000, 5'000'000);
  const bool forever = rng_.below(2) == 0;
  const TimeUs for_us = forever ? 0 : rng_.between(5'000'000, 30'000'000);
  const ChannelId channel = message.channel;
  at(now_ + after, [this, d, channel, for_us, forever] { send_mute(d, channel, for_us, forever); });
  if (!forever) return;
  const TimeUs lifted = after + rng_.between(10'000'000, 40'000'000);
  at(now_ + lifted, [this, d, channel] { send_mute(d, channel, 0, false); });
}

// The app mutes (or, with neither, unmutes) the chat, if the device is online. A refusal
// (the user left the group meanwhile) counts in the errors.
void World::send_mute(std::size_t d, ChannelId channel, TimeUs for_us, bool forever) {
  if (devices_[d].state != DeviceState::online || now_ >= scenario_.duration) return;
  ++metrics_.mutes_sent;
  request(d, "mute", client::MuteChannel{0, channel, for_us, forever});
}

// The node answered a MuteChannel (request != 0; the copies its other devices get say the
// same): a `muted` record with the node's time, which invariant 5 holds pushes to.
void World::mute_record(Node& node, ConnectionId connection, const server::ChannelMute& mute,
                        TimeUs local) {
  if (mute.request == 0) return;
  const auto user = node.bound->user.find(connection);
  if (user == node.bound->user.end()) return;
  Record r = node_record(node, RecordKind::muted, local);
  r.user = user->second;
  r.channel = mute.channel;
  r.flag = mute.forever;
  r.seq = static_cast<Seq>(mute.muted_until);
  node.batch_records.push_back(r);
  node_mutes_[{shard_of(node), r.user, r.channel}] =
      mute.forever ? engine::kMutedForever : mute.muted_until;
}

bool World::muted_on_node(const Node& node, UserId user, ChannelId channel, TimeUs local) const {
  const auto found = node_mutes_.find({shard_of(node), user, channel});
  return found != node_mutes_.end() && local < found->second;
}

}  // namespace parley::sim::detail
