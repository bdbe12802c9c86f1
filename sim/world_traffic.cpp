// The traffic: people writing messages at the scenario's rate.
#include "sim/world_impl.hpp"

#include <algorithm>
#include <iterator>
#include <string>

namespace parley::sim::detail {

void World::schedule_traffic(UserId user) {
  const auto mean = static_cast<TimeUs>(static_cast<double>(kMinute) / users_[user].rate);
  // Apps open during the first second; people start writing once they have.
  at(std::max(now_, kTrafficStart) + rng_.gap(mean), [this, user] {
    if (now_ >= scenario_.duration) return;
    compose(user);
    schedule_traffic(user);
  });
}

std::string World::random_text() {
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
void World::compose(UserId u) {
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
  } else if (const auto stranger = maybe_stranger(u)) {
    send.peer = *stranger;
    send.stranger = true;
    ++metrics_.stranger_sent;
  } else if (!user.friends.empty()) {
    send.peer = user.friends[rng_.below(user.friends.size())];
  } else {
    return;
  }
  send.client_msg_id = "u" + std::to_string(u) + "d" + std::to_string(device.index) + "m" +
                       std::to_string(++device.composed);
  send.text = random_text();
  choose_reply_and_mention(u, to_group, send);
  if (scenario_.typing_percent > 0 && rng_.below(100) < scenario_.typing_percent) {
    return type_then_send(d, std::move(send));
  }
  queue_send(d, std::move(send));
}

// stranger_percent of 1:1 messages go to a stranger (drawn only with the rate set, so other
// scenarios' runs stay as they were).
std::optional<UserId> World::maybe_stranger(UserId u) {
  if (scenario_.stranger_percent == 0 || rng_.below(100) >= scenario_.stranger_percent) {
    return std::nullopt;
  }
  return random_stranger(u);
}

// The user types for 1 to 6 s first, the app saying so every 3 s (docs/protocol.md,
// "Typing indicators"), then sends, or one time in five clears the composer instead.
void World::type_then_send(std::size_t d, PendingSend send) {
  const User& user = users_[devices_[d].user];
  ChannelId channel = send.channel;
  if (channel == 0) {
    const auto known = user.direct_chats.find(send.peer);
    if (known != user.direct_chats.end()) channel = known->second;
  }
  if (channel == 0 || devices_[d].state != DeviceState::online)
    return queue_send(d, std::move(send));
  const TimeUs typing_for = 1'000'000 + static_cast<TimeUs>(rng_.below(5'000'001));
  const bool gives_up = rng_.below(5) == 0;
  for (TimeUs after = 0; after < typing_for; after += engine::limits::kTypingRefreshUs) {
    at(now_ + after, [this, d, channel] { send_typing(d, channel, true); });
  }
  at(now_ + typing_for, [this, d, channel, gives_up, send = std::move(send)]() mutable {
    if (!gives_up) return queue_send(d, std::move(send));
    send_typing(d, channel, false);
  });
}

void World::send_typing(std::size_t d, ChannelId channel, bool typing) {
  if (devices_[d].state != DeviceState::online) return;
  ++metrics_.typing_sent;
  to_server(d, client::Typing{0, channel, typing});
}

// reply_percent and mention_percent (world_replies.cpp's rates): the app makes the send a
// reply to the newest text message the user received in that chat, and a group send name a
// friend. Drawn from the PRNG only with the rate set: other scenarios' runs stay as they were.
void World::choose_reply_and_mention(UserId u, bool to_group, PendingSend& send) {
  User& user = users_[u];
  if (scenario_.reply_percent > 0 && rng_.below(100) < scenario_.reply_percent) {
    ChannelId channel = send.channel;
    if (channel == 0) {
      const auto known = user.direct_chats.find(send.peer);
      if (known != user.direct_chats.end()) channel = known->second;
    }
    const auto newest = user.newest_text.find(channel);
    if (channel != 0 && newest != user.newest_text.end()) {
      send.reply_to = newest->second;
      ++metrics_.replies_sent;
    }
  }
  if (to_group && !user.friends.empty() && scenario_.mention_percent > 0 &&
      rng_.below(100) < scenario_.mention_percent) {
    const UserId named = user.friends[rng_.below(user.friends.size())];
    send.text = "@u" + std::to_string(named) + " " + send.text;
    send.mention = named;
    ++metrics_.mentions_sent;
  }
}

// The app records the message as sent and transmits it now, or on its next connect.
void World::queue_send(std::size_t d, PendingSend send) {
  Device& device = devices_[d];
  const UserId u = device.user;
  Record r = device_record(d, RecordKind::sent);
  r.channel = send.channel;
  r.peer = send.peer;
  r.text = send.client_msg_id;
  if (send.mention != 0) r.detail = "mention:" + std::to_string(send.mention);
  if (send.stranger) {
    r.detail = "stranger";
    stranger_sends_[{u, send.client_msg_id}] = send.peer;
  }
  record(std::move(r));
  ++metrics_.sent;
  first_sent_[{u, send.client_msg_id}] = now_;
  device.unacked.push_back(std::move(send));
  if (device.state == DeviceState::online) transmit(d, device.unacked.back());
}

}  // namespace parley::sim::detail

namespace parley::sim::detail {

// People scrolling back through a chat: a walk of up to `history_walk_pages` pages, from the
// newest message back, on one of the user's online devices.
void World::schedule_history_walk(UserId user) {
  const auto mean = static_cast<TimeUs>(static_cast<double>(kMinute) /
                                        scenario_.history_walks_per_user_per_minute);
  at(std::max(now_, kTrafficStart) + rng_.gap(mean), [this, user] {
    if (now_ >= scenario_.duration) return;
    start_history_walk(user);
    schedule_history_walk(user);
  });
}

void World::start_history_walk(UserId u) {
  const User& user = users_[u];
  if (user.chats.empty()) return;
  const std::size_t d = user.devices[rng_.below(user.devices.size())];
  if (devices_[d].state != DeviceState::online) return;
  auto chat = user.chats.begin();
  std::advance(chat, static_cast<long>(rng_.below(user.chats.size())));
  request(d, "history:1", client::History{0, *chat, 0, scenario_.history_page_size});
}

// What the page showed the user, for the checker (members only, stored), then the next page
// back while there is one and the walk has pages left.
void World::on_history_page(std::size_t d, const server::HistoryPage& page,
                            const std::string& purpose) {
  if (!purpose.starts_with("history:")) return;
  const Device& device = devices_[d];
  ++metrics_.history_pages;
  for (const Message& message : page.messages) {
    Record r = device_record(d, RecordKind::read);
    r.peer = message.sender;
    r.channel = message.channel;
    r.seq = message.seq;
    r.detail = to_string(message.kind);
    r.flag = is_tombstone(message);
    r.text = reference_state(message);
    record(std::move(r));
    ++metrics_.history_reads;
  }
  const auto pages = static_cast<std::uint32_t>(std::stoul(purpose.substr(8)));
  if (!page.has_more || page.messages.empty() || pages >= scenario_.history_walk_pages) return;
  if (device.state != DeviceState::online) return;
  request(d, "history:" + std::to_string(pages + 1),
          client::History{0, page.channel, page.messages.front().seq, scenario_.history_page_size});
}

}  // namespace parley::sim::detail
