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
  } else if (!user.friends.empty()) {
    send.peer = user.friends[rng_.below(user.friends.size())];
  } else {
    return;
  }
  send.client_msg_id = "u" + std::to_string(u) + "d" + std::to_string(device.index) + "m" +
                       std::to_string(++device.composed);
  send.text = random_text();
  queue_send(d, std::move(send));
}

// The app records the message as sent and transmits it now, or on its next connect.
void World::queue_send(std::size_t d, PendingSend send) {
  Device& device = devices_[d];
  const UserId u = device.user;
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
  device.unacked.push_back(std::move(send));
  if (device.state == DeviceState::online) transmit(d, device.unacked.back());
}

}  // namespace parley::sim::detail
