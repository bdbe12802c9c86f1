// Presence (docs/engine.md, rules 10-12): PresenceTracker, which knows who is online from
// signs of life, and the engine's presence domain: who may see whom, and announcing changes.
#include "engine/presence.hpp"

#include <algorithm>

#include "engine/context.hpp"

namespace parley::engine {

std::optional<PresenceChange> PresenceTracker::alive(UserId user, DeviceId device, TimeUs now) {
  note(device, user);
  auto [found, inserted] = devices_.try_emplace(device);
  Device& state = found->second;
  if (!inserted) {
    PARLEY_ASSERT(state.user == user);
    state.last_seen = std::max(state.last_seen, now);
    User& owner = users_.at(user);
    owner.last_active = std::max(owner.last_active, now);
    return std::nullopt;
  }
  state = Device{user, now, next_generation_++, 0};
  queue(device, state, now + timeout_);
  auto [owner, came_online] = users_.try_emplace(user);
  owner->second.live_devices += 1;
  owner->second.last_active = std::max(owner->second.last_active, now);
  if (!came_online) return std::nullopt;
  return PresenceChange{user, true, owner->second.last_active};
}

void PresenceTracker::restore(UserId user, DeviceId device, TimeUs last_active, TimeUs now) {
  auto [found, inserted] = devices_.try_emplace(device);
  if (!inserted) return;
  note(device, user);
  found->second = Device{user, now, next_generation_++, 0};
  queue(device, found->second, now + timeout_);
  User& owner = users_[user];
  owner.live_devices += 1;
  owner.last_active = std::max(owner.last_active, last_active);
}

void PresenceTracker::queue(DeviceId device, Device& state, TimeUs at) {
  state.deadline = at;
  deadlines_.push(Deadline{at, device, state.generation});
}

void PresenceTracker::take_changes(std::vector<DeviceId>& devices, std::vector<UserId>& users) {
  devices.insert(devices.end(), changed_devices_.begin(), changed_devices_.end());
  users.insert(users.end(), changed_users_.begin(), changed_users_.end());
  changed_devices_.clear();
  changed_users_.clear();
}

std::optional<PresenceTracker::DeviceLife> PresenceTracker::device_life(DeviceId device) const {
  const auto found = devices_.find(device);
  if (found == devices_.end()) return std::nullopt;
  return DeviceLife{found->second.user, found->second.last_seen, found->second.deadline};
}

void PresenceTracker::restore_exact(DeviceId device, const DeviceLife& life) {
  auto [found, inserted] = devices_.try_emplace(device);
  PARLEY_ASSERT(inserted);
  found->second = Device{life.user, life.last_seen, next_generation_++, 0};
  queue(device, found->second, life.deadline);
  users_[life.user].live_devices += 1;
}

void PresenceTracker::restore_user(UserId user, TimeUs last_active) {
  const auto found = users_.find(user);
  PARLEY_ASSERT(found != users_.end());
  found->second.last_active = last_active;
}

std::optional<PresenceChange> PresenceTracker::logged_out(DeviceId device, TimeUs now) {
  const auto found = devices_.find(device);
  if (found == devices_.end()) return std::nullopt;
  const Device state = found->second;
  note(device, state.user);
  devices_.erase(found);  // its queued deadline is now stale and will be skipped
  auto& owner = users_.at(state.user);
  owner.last_active = std::max(owner.last_active, now);
  PresenceChange change = remove_device(device, state);
  if (change.online) return std::nullopt;
  return change;
}

void PresenceTracker::expire(TimeUs now, std::vector<PresenceChange>& changes) {
  while (!deadlines_.empty() && deadlines_.top().at <= now) {
    const Deadline due = deadlines_.top();
    deadlines_.pop();
    const auto found = devices_.find(due.device);
    if (found == devices_.end() || found->second.generation != due.generation) continue;
    note(due.device, found->second.user);
    const TimeUs real_deadline = found->second.last_seen + timeout_;
    if (real_deadline > now) {
      queue(due.device, found->second, real_deadline);
      continue;
    }
    const Device state = found->second;
    devices_.erase(found);
    PresenceChange change = remove_device(due.device, state);
    if (!change.online) changes.push_back(change);
  }
}

std::optional<TimeUs> PresenceTracker::last_active(UserId user) const {
  const auto found = users_.find(user);
  if (found == users_.end()) return std::nullopt;
  return found->second.last_active;
}

// Takes one live device off its user; the returned change says offline when it was the last.
PresenceChange PresenceTracker::remove_device(DeviceId, const Device& state) {
  auto found = users_.find(state.user);
  PARLEY_ASSERT(found != users_.end() && found->second.live_devices > 0);
  const TimeUs last_active = found->second.last_active;
  if (--found->second.live_devices > 0) return PresenceChange{state.user, true, last_active};
  users_.erase(found);
  return PresenceChange{state.user, false, last_active};
}

// ---- The presence domain -------------------------------------------------------------------
namespace detail {
namespace {

// Presence of `user` is visible to the context's user: themself, a friend, or a fellow
// member of a group, unless either blocked the other.
bool visible(const Context& context, UserId user, const std::vector<ChannelId>& my_groups) {
  const Records& records = context.records;
  const UserId me = context.user();
  if (user == me) return true;
  if (blocks(records, me, user) || blocks(records, user, me)) return false;
  if (records.friends(me, user)) return true;
  // Both lists are ascending and at most limits::kMaxGroupsPerUser long.
  const auto theirs = records.active_groups(user, limits::kMaxGroupsPerUser);
  auto mine = my_groups.begin();
  for (ChannelId group : theirs) {
    while (mine != my_groups.end() && *mine < group)
      ++mine;
    if (mine != my_groups.end() && *mine == group) return true;
  }
  return false;
}

}  // namespace

void handle(Context&, const client::Heartbeat&) {}  // on_received already counted it

void handle(Context& context, const client::QueryPresence& query) {
  if (query.users.empty() || query.users.size() > limits::kMaxPresenceQuery) {
    return context.fail(query.request, {ErrorCode::invalid_limit,
                                        "a presence query names 1 to " +
                                            std::to_string(limits::kMaxPresenceQuery) + " users"});
  }
  const auto groups = context.records.active_groups(context.user(), limits::kMaxGroupsPerUser);
  server::PresenceList list{query.request, {}};
  for (UserId user : query.users) {
    if (!context.records.user(user)) return context.fail(query.request, unknown_user(user));
    if (!visible(context, user, groups)) {
      return context.fail(query.request,
                          {ErrorCode::not_visible, "user " + std::to_string(user) +
                                                       " is neither a mutual contact nor in a "
                                                       "group with you"});
    }
    list.entries.push_back(presence_of(context.state, user));
  }
  context.reply(std::move(list));
}

Effects on_tick(State& state, TimeUs now) {
  Effects out;
  expire_typing(state, now);
  std::vector<PresenceChange> changes;
  state.presence.expire(now, changes);
  for (const PresenceChange& change : changes)
    announce(state, change, now, out);
  return out;
}

void announce(State& state, const PresenceChange& change, TimeUs now, Effects& out) {
  Records& records = state.records;
  records.put_last_active(change.user, change.last_active_at);
  if (change.online) {
    state.away.put_online(change.user, change.last_active_at);
  } else {
    state.away.erase_online(change.user);
  }
  out.push_back(change);
  const server::Presence event{{change.user, change.online, change.last_active_at}};
  for (const auto& [other, contact] : records.contacts_of(change.user)) {
    if (records.friends(change.user, other)) send_to_user(state, other, event, out);
  }
  if (!change.online) push_pending(state, change.user, now, out);
}

void send_to_user(State& state, UserId user, const server::Event& event, Effects& out) {
  const auto found = state.connections_by_user.find(user);
  if (found == state.connections_by_user.end()) return;
  for (ConnectionId id : found->second)
    out.push_back(SendEvent{id, event});
}

void send_to_other_devices(Context& context, const server::Event& event) {
  const auto found = context.state.connections_by_user.find(context.user());
  if (found == context.state.connections_by_user.end()) return;
  for (ConnectionId id : found->second) {
    if (id != context.connection_id) context.out.push_back(SendEvent{id, event});
  }
}

server::PresenceEntry presence_of(const State& state, UserId user) {
  if (state.presence.online(user)) return {user, true, *state.presence.last_active(user)};
  return {user, false, state.records.last_active(user).value_or(0)};
}

}  // namespace detail

server::PresenceEntry Engine::presence_of(UserId user) const {
  return detail::presence_of(*state_, user);
}

const PresenceTracker& Engine::presence() const {
  return state_->presence;
}

}  // namespace parley::engine
