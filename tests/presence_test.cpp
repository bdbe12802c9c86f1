// The heartbeat deadline queue on its own.
#include "engine/presence.hpp"

#include "engine/clock.hpp"

#include <gtest/gtest.h>

namespace parley::engine {
namespace {

constexpr TimeUs kTimeout = 30'000'000;

// Issue 14, section 7: timeouts follow the monotonic clock; a wall-clock step moves nothing.
TEST(EngineClock, AnchorsOnTheWallThenFollowsTheMonotonicClockOnly) {
  EngineClock clock;
  const TimeUs wall = 1'700'000'000'000'000;
  EXPECT_EQ(clock.now(wall, 5'000), wall);
  EXPECT_EQ(clock.now(wall + 1'000'000, 1'005'000), wall + 1'000'000);
  // NTP steps the wall 30 s forward: the engine's time moves by the elapsed 1 s only.
  EXPECT_EQ(clock.now(wall + 32'000'000, 2'005'000), wall + 2'000'000);
  // ... and 30 s back: still only elapsed time.
  EXPECT_EQ(clock.now(wall - 27'000'000, 3'005'000), wall + 3'000'000);
  // Never backwards, even if the monotonic reading were.
  EXPECT_EQ(clock.now(wall, 1'005'000), wall + 3'000'000);
  // A presence deadline set before the step is not reached by it.
  PresenceTracker tracker(kTimeout);
  EngineClock node;
  ASSERT_TRUE(tracker.alive(1, 10, node.now(wall, 0)).has_value());
  std::vector<PresenceChange> changes;
  tracker.expire(node.now(wall + 30'000'000 + 1'000'000, 1'000'000), changes);
  EXPECT_TRUE(changes.empty());
  EXPECT_TRUE(tracker.online(1));
}

TEST(PresenceTracker, RestoredDevicesHoldTheUserOnlineForAFullTimeout) {
  PresenceTracker tracker(kTimeout);
  tracker.restore(1, 10, 50, 1'000);
  tracker.restore(1, 11, 50, 1'000);
  EXPECT_TRUE(tracker.online(1));
  EXPECT_EQ(tracker.last_active(1), 50);
  EXPECT_FALSE(tracker.alive(1, 10, 2'000).has_value());  // it was online: no change
  std::vector<PresenceChange> changes;
  tracker.expire(1'000 + kTimeout - 1, changes);
  EXPECT_TRUE(changes.empty());
  tracker.expire(2'000 + kTimeout, changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].online);
}

TEST(PresenceTracker, OnlineOnFirstSignOfLifeOnly) {
  PresenceTracker tracker(kTimeout);
  const auto first = tracker.alive(1, 10, 100);
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->online);
  EXPECT_FALSE(tracker.alive(1, 10, 200).has_value());
  EXPECT_FALSE(tracker.alive(1, 11, 300).has_value());  // a second device: still online
  EXPECT_TRUE(tracker.online(1));
  EXPECT_EQ(tracker.last_active(1), 300);
}

TEST(PresenceTracker, ExpiresExactlyAtTheTimeout) {
  PresenceTracker tracker(kTimeout);
  tracker.alive(1, 10, 0);
  tracker.alive(1, 10, 5'000'000);
  std::vector<PresenceChange> changes;
  tracker.expire(5'000'000 + kTimeout - 1, changes);
  EXPECT_TRUE(changes.empty());
  EXPECT_TRUE(tracker.online(1));
  tracker.expire(5'000'000 + kTimeout, changes);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_FALSE(changes[0].online);
  EXPECT_EQ(changes[0].last_active_at, 5'000'000);
  EXPECT_FALSE(tracker.online(1));
  tracker.expire(10 * kTimeout, changes);
  EXPECT_EQ(changes.size(), 1u) << "offline is reported once";
}

TEST(PresenceTracker, UserStaysOnlineWhileAnyDeviceLives) {
  PresenceTracker tracker(kTimeout);
  tracker.alive(1, 10, 0);
  tracker.alive(1, 11, 0);
  std::vector<PresenceChange> changes;
  for (TimeUs t = 5'000'000; t <= 60'000'000; t += 5'000'000) {
    tracker.alive(1, 11, t);  // only the second device keeps heartbeating
    tracker.expire(t, changes);
  }
  EXPECT_TRUE(changes.empty());
  EXPECT_EQ(tracker.tracked_devices(), 1u);
  EXPECT_FALSE(tracker.logged_out(11, 61'000'000)->online);
  EXPECT_FALSE(tracker.online(1));
}

TEST(PresenceTracker, LogoutOfOneDeviceOfTwoChangesNothing) {
  PresenceTracker tracker(kTimeout);
  tracker.alive(1, 10, 0);
  tracker.alive(1, 11, 0);
  EXPECT_FALSE(tracker.logged_out(10, 1).has_value());
  EXPECT_TRUE(tracker.online(1));
  EXPECT_FALSE(tracker.logged_out(10, 2).has_value()) << "a second logout is a no-op";
  // The logged-out device's stale deadline must not expire the device that came back.
  tracker.alive(1, 10, 3);
  std::vector<PresenceChange> changes;
  tracker.expire(kTimeout + 1, changes);
  EXPECT_TRUE(changes.empty());
  tracker.expire(kTimeout + 3, changes);
  ASSERT_EQ(changes.size(), 1u);
}

TEST(PresenceTracker, HeartbeatsDoNotGrowTheQueue) {
  PresenceTracker tracker(kTimeout);
  std::vector<PresenceChange> changes;
  for (DeviceId device = 1; device <= 1000; ++device)
    tracker.alive(device, device, 0);
  for (TimeUs t = 1'000'000; t <= 120'000'000; t += 1'000'000) {
    for (DeviceId device = 1; device <= 1000; ++device)
      tracker.alive(device, device, t);
    tracker.expire(t, changes);
    EXPECT_LE(tracker.queued_deadlines(), tracker.tracked_devices());
  }
  EXPECT_TRUE(changes.empty());
}

TEST(PresenceTracker, ExpiryOrderIsDeterministic) {
  PresenceTracker tracker(kTimeout);
  for (UserId user : {5, 3, 9, 1})
    tracker.alive(user, user * 10, 0);
  tracker.alive(7, 70, -1);
  std::vector<PresenceChange> changes;
  tracker.expire(kTimeout, changes);
  std::vector<UserId> order;
  for (const auto& change : changes)
    order.push_back(change.user);
  EXPECT_EQ(order, (std::vector<UserId>{7, 1, 3, 5, 9}));  // by deadline, then device id
}

}  // namespace
}  // namespace parley::engine
