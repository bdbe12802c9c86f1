// Who is online, from heartbeats, with timers whose cost does not grow with the number of
// tracked devices.
//
// A device is alive while it showed a sign of life (a heartbeat, any frame, a connect) less
// than `timeout` ago; a user is online while any of their devices is alive. A dropped
// connection changes nothing by itself, so a device that reconnects within the timeout
// causes no flap; an explicit logout stops the device counting at once.
#pragma once

#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "engine/types.hpp"

namespace parley::engine {

struct PresenceChange {
  UserId user = 0;
  bool online = false;
  TimeUs last_active_at = 0;  // the newest sign of life of any of the user's devices
};

class PresenceTracker {
 public:
  explicit PresenceTracker(TimeUs timeout) : timeout_(timeout) { PARLEY_ASSERT(timeout > 0); }

  // A sign of life; returns the change if the user just came online.
  std::optional<PresenceChange> alive(UserId user, DeviceId device, TimeUs now);
  // After a restart: `device` counts as alive as of `now` (its deadline is now + timeout)
  // and its user as online with `last_active`, without a change: they were online before.
  // Does nothing for a device already tracked.
  void restore(UserId user, DeviceId device, TimeUs last_active, TimeUs now);
  // An explicit logout; returns the change if it was the user's last live device.
  std::optional<PresenceChange> logged_out(DeviceId device, TimeUs now);
  // Expires every device silent for `timeout` as of `now`; appends the users that went
  // offline, in deadline order. Costs O((expired + rescheduled) log n), never a scan.
  void expire(TimeUs now, std::vector<PresenceChange>& changes);

  // ---- For EngineConfig::durable_sessions (engine/sessions.cpp) ---------------------------
  // A device's life as the tracker holds it: enough to rebuild it exactly (restore_exact).
  struct DeviceLife {
    UserId user = 0;
    TimeUs last_seen = 0;
    TimeUs deadline = 0;  // when its queued deadline comes due (<= last_seen + timeout)
  };
  // With `on`, every device and user whose state changes is noted for take_changes().
  void note_changes(bool on) { noting_ = on; }
  // The devices and users whose state changed since the last call, in the order of the
  // changes (with repeats); clears the notes.
  void take_changes(std::vector<DeviceId>& devices, std::vector<UserId>& users);
  std::optional<DeviceLife> device_life(DeviceId device) const;
  // Rebuilds a device exactly as device_life() described it, and then each of their users'
  // last_active (restore_user), so that expiry runs as it would have without a restart.
  // REQUIRES: the device is not tracked.
  void restore_exact(DeviceId device, const DeviceLife& life);
  void restore_user(UserId user, TimeUs last_active);

  bool online(UserId user) const { return users_.contains(user); }
  // The newest sign of life of an online user.
  std::optional<TimeUs> last_active(UserId user) const;
  std::size_t tracked_devices() const { return devices_.size(); }
  std::size_t queued_deadlines() const { return deadlines_.size(); }

 private:
  struct Device {
    UserId user = 0;
    TimeUs last_seen = 0;
    std::uint64_t generation = 0;  // tells this life's deadline from a logged-out one's
    TimeUs deadline = 0;           // the deadline queued for this life
  };
  struct User {
    std::uint32_t live_devices = 0;
    TimeUs last_active = 0;
  };
  struct Deadline {
    TimeUs at = 0;
    DeviceId device = 0;
    std::uint64_t generation = 0;
    // Earliest first; ties broken by device id, so expiry order is deterministic.
    bool operator>(const Deadline& other) const {
      return at != other.at ? at > other.at : device > other.device;
    }
  };

  PresenceChange remove_device(DeviceId device, const Device& state);
  void queue(DeviceId device, Device& state, TimeUs at);
  void note(DeviceId device, UserId user) {
    if (!noting_) return;
    changed_devices_.push_back(device);
    changed_users_.push_back(user);
  }

  TimeUs timeout_;
  std::uint64_t next_generation_ = 1;
  // Looked up only, never iterated: hash order cannot reach any output.
  std::unordered_map<DeviceId, Device> devices_;
  std::unordered_map<UserId, User> users_;
  // One entry per live device. A heartbeat only moves `last_seen`; when the entry comes due
  // and the device was seen since, it is pushed again at its real deadline. So heartbeats
  // are O(1) and the queue never holds more than one entry per device.
  std::priority_queue<Deadline, std::vector<Deadline>, std::greater<>> deadlines_;
  bool noting_ = false;
  std::vector<DeviceId> changed_devices_;
  std::vector<UserId> changed_users_;
};

}  // namespace parley::engine
