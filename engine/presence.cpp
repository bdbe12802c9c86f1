#include "engine/presence.hpp"

#include <algorithm>

namespace parley::engine {

std::optional<PresenceChange> PresenceTracker::alive(UserId user, DeviceId device, TimeUs now) {
  auto [found, inserted] = devices_.try_emplace(device);
  Device& state = found->second;
  if (!inserted) {
    PARLEY_ASSERT(state.user == user);
    state.last_seen = std::max(state.last_seen, now);
    User& owner = users_.at(user);
    owner.last_active = std::max(owner.last_active, now);
    return std::nullopt;
  }
  state = Device{user, now, next_generation_++};
  deadlines_.push(Deadline{now + timeout_, device, state.generation});
  auto [owner, came_online] = users_.try_emplace(user);
  owner->second.live_devices += 1;
  owner->second.last_active = std::max(owner->second.last_active, now);
  if (!came_online) return std::nullopt;
  return PresenceChange{user, true, owner->second.last_active};
}

void PresenceTracker::restore(UserId user, DeviceId device, TimeUs last_active, TimeUs now) {
  auto [found, inserted] = devices_.try_emplace(device);
  if (!inserted) return;
  found->second = Device{user, now, next_generation_++};
  deadlines_.push(Deadline{now + timeout_, device, found->second.generation});
  User& owner = users_[user];
  owner.live_devices += 1;
  owner.last_active = std::max(owner.last_active, last_active);
}

std::optional<PresenceChange> PresenceTracker::logged_out(DeviceId device, TimeUs now) {
  const auto found = devices_.find(device);
  if (found == devices_.end()) return std::nullopt;
  const Device state = found->second;
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
    const TimeUs real_deadline = found->second.last_seen + timeout_;
    if (real_deadline > now) {
      deadlines_.push(Deadline{real_deadline, due.device, due.generation});
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

}  // namespace parley::engine
