// Issue 3, rules 1-4: contacts, heartbeats, presence fanout, last_active_at.
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kSecond = 1'000'000;

server::Event contact_op(Harness& h, ConnectionId connection, client::ContactAction action,
                         UserId user) {
  return h.group_op(connection, client::ChangeContact{0, action, user});
}

void befriend(Harness& h, ConnectionId a, UserId a_user, ConnectionId b, UserId b_user) {
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, a, client::ContactAction::add, b_user)));
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, b, client::ContactAction::add, a_user)));
}

// Ticks once a second until `until`, like a host would.
void tick_until(Harness& h, TimeUs until) {
  while (h.now() + kSecond <= until) {
    h.advance(kSecond - 1000);
    h.tick();
  }
}

class Presence : public ::testing::Test {
 protected:
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  DeviceId alice_phone = h.device(alice);
  DeviceId bob_phone = h.device(bob);
  DeviceId bob_laptop = h.device(bob, "laptop");
  ConnectionId a = h.connect(alice_phone);
  ConnectionId b = h.connect(bob_phone);
};

TEST_F(Presence, FriendsSeeEachOtherOnlyOnceBothAreContacts) {
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, a, client::ContactAction::add, bob)));
  EXPECT_TRUE(h.presence_events(a).empty()) << "one-sided contact: no presence";
  EXPECT_TRUE(h.presence_events(b).empty());
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, b, client::ContactAction::add, alice)));
  ASSERT_EQ(h.presence_events(a).size(), 1u);
  EXPECT_EQ(h.presence_events(a)[0].user, bob);
  EXPECT_TRUE(h.presence_events(a)[0].online);
  ASSERT_EQ(h.presence_events(b).size(), 1u);
  EXPECT_EQ(h.presence_events(b)[0].user, alice);
  EXPECT_TRUE(h.presence_events(b)[0].online);
  // Adding again changes nothing and sends nothing.
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, b, client::ContactAction::add, alice)));
  EXPECT_EQ(h.presence_events(a).size(), 1u);
}

TEST_F(Presence, ConnectSendsASnapshotOfFriends) {
  befriend(h, a, alice, b, bob);
  const ConnectionId laptop = h.connect(bob_laptop);
  const auto& snapshot = std::get<server::PresenceList>(h.events(laptop).at(1));
  ASSERT_EQ(snapshot.entries.size(), 1u);
  EXPECT_EQ(snapshot.entries[0].user, alice);
  EXPECT_TRUE(snapshot.entries[0].online);
  const auto& welcome = std::get<server::Welcome>(h.events(laptop).at(0));
  EXPECT_EQ(welcome.heartbeat_interval_us, 5 * kSecond);
  EXPECT_EQ(welcome.presence_timeout_us, 30 * kSecond);
}

TEST_F(Presence, TunnelStyleReconnectInsideTheTimeoutDoesNotFlap) {
  befriend(h, a, alice, b, bob);
  h.clear(a);
  h.disconnect(b);
  tick_until(h, h.now() + 20 * kSecond);
  const ConnectionId again = h.connect(bob_phone, 0);
  // Back within the timeout; from now on bob heartbeats every 5 s like a real app.
  for (int second = 1; second <= 60; ++second) {
    h.advance(kSecond - 1000);
    h.tick();
    if (second % 5 == 0) h.request(again, client::Heartbeat{});
  }
  EXPECT_TRUE(h.presence_events(a).empty());
}

TEST_F(Presence, SilencePastTheTimeoutIsOneOfflineEventWithinOneTick) {
  befriend(h, a, alice, b, bob);
  h.clear(a);
  h.request(b, client::Heartbeat{});
  const TimeUs last_sign_of_life = h.now();
  const TimeUs deadline = last_sign_of_life + 30 * kSecond;
  // Alice heartbeats every 5 s; bob goes silent (his connection stays open).
  while (h.now() < deadline + 10 * kSecond) {
    h.advance(kSecond - 1000);
    h.tick();
    if (h.now() % (5 * kSecond) < kSecond) h.request(a, client::Heartbeat{});
    if (h.now() < deadline) {
      EXPECT_TRUE(h.presence_events(a).empty()) << "offline too early at " << h.now();
    } else if (h.now() >= deadline + kSecond) {
      ASSERT_EQ(h.presence_events(a).size(), 1u) << "offline not shown by " << h.now();
    }
  }
  const auto events = h.presence_events(a);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].user, bob);
  EXPECT_FALSE(events[0].online);
  EXPECT_EQ(events[0].last_active_at, last_sign_of_life);
  // The host hears of the change too (for metrics and the simulator's checker).
  ASSERT_FALSE(h.presence_changes().empty());
  EXPECT_EQ(h.presence_changes().back().user, bob);
  EXPECT_FALSE(h.presence_changes().back().online);
}

TEST_F(Presence, LogoutOfTheLastDeviceIsOfflineAtOnce) {
  befriend(h, a, alice, b, bob);
  h.clear(a);
  h.group_op(b, client::Logout{});
  const auto events = h.presence_events(a);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_FALSE(events[0].online);
  EXPECT_EQ(h.read([&](Records& r) { return r.last_active(bob); }), h.now());
}

TEST_F(Presence, TwoDevicesAreOfflineOnlyWhenBothAre) {
  befriend(h, a, alice, b, bob);
  const ConnectionId laptop = h.connect(bob_laptop);
  h.clear(a);
  h.group_op(b, client::Logout{});
  EXPECT_TRUE(h.presence_events(a).empty()) << "the laptop is still online";
  h.group_op(laptop, client::Logout{});
  ASSERT_EQ(h.presence_events(a).size(), 1u);
  EXPECT_FALSE(h.presence_events(a)[0].online);

  // Coming back on either device is one online event, not two.
  const ConnectionId phone_again = h.connect(bob_phone);
  h.connect(bob_laptop);
  ASSERT_EQ(h.presence_events(a).size(), 2u);
  EXPECT_TRUE(h.presence_events(a)[1].online);
  // One device timing out while the other heartbeats changes nothing.
  for (int i = 0; i < 12; ++i) {
    h.advance(5 * kSecond);
    h.request(phone_again, client::Heartbeat{});
    h.request(a, client::Heartbeat{});
    h.tick();
  }
  EXPECT_EQ(h.presence_events(a).size(), 2u);
}

TEST_F(Presence, NonFriendsNeverReceivePresence) {
  const UserId eve = h.user("eve");
  const ConnectionId e = h.connect(h.device(eve));
  // Eve has alice as a contact, alice does not have eve.
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, e, client::ContactAction::add, alice)));
  h.group_op(a, client::Logout{});
  h.connect(alice_phone);
  tick_until(h, h.now() + 40 * kSecond);
  EXPECT_TRUE(h.presence_events(e).empty());
  const auto& snapshot = std::get<server::PresenceList>(h.events(e).at(1));
  EXPECT_TRUE(snapshot.entries.empty());
  EXPECT_EQ(error_code(h.group_op(e, client::QueryPresence{0, {alice}})), ErrorCode::not_visible);
}

TEST_F(Presence, GroupMembersQueryPresenceOnDemandWithoutFanout) {
  const UserId carol = h.user("carol");
  const ConnectionId c = h.connect(h.device(carol));
  const ChannelId group = h.create_group(a, "team", {carol});
  h.group_op(a, client::Logout{});
  EXPECT_TRUE(h.presence_events(c).empty()) << "group members get no presence fanout";
  const auto reply = h.group_op(c, client::QueryPresence{0, {alice, carol}});
  const auto& list = std::get<server::PresenceList>(reply);
  ASSERT_EQ(list.entries.size(), 2u);
  EXPECT_FALSE(list.entries[0].online);
  EXPECT_GT(list.entries[0].last_active_at, 0);
  EXPECT_TRUE(list.entries[1].online);
  // Bob shares no group with carol and is not her friend.
  EXPECT_EQ(error_code(h.group_op(c, client::QueryPresence{0, {bob}})), ErrorCode::not_visible);
  std::vector<UserId> too_many(101, alice);
  EXPECT_EQ(error_code(h.group_op(c, client::QueryPresence{0, too_many})),
            ErrorCode::invalid_limit);
  // After leaving the group, carol no longer sees alice.
  h.group_op(c, client::LeaveGroup{0, group});
  EXPECT_EQ(error_code(h.group_op(c, client::QueryPresence{0, {alice}})), ErrorCode::not_visible);
}

TEST_F(Presence, BlockingHidesPresenceAndRefusesOneToOneMessages) {
  befriend(h, a, alice, b, bob);
  ack_of(h.send_to(b, alice, "hi"));
  h.clear(a);
  h.clear(b);
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, a, client::ContactAction::block, bob)));
  // Both sides are told presence stopped flowing.
  ASSERT_EQ(h.presence_events(b).size(), 1u);
  EXPECT_EQ(h.presence_events(b)[0].last_active_at, 0);
  const std::string before = h.fingerprint();
  const auto refused = h.send_to(b, alice, "please");
  EXPECT_EQ(error_code(refused), ErrorCode::blocked);
  EXPECT_FALSE(std::get<server::Failure>(refused).message.empty());
  const ChannelId pair = h.read([&](Records& r) { return *r.direct_channel(alice, bob); });
  EXPECT_EQ(error_code(h.post(b, pair, "via channel")), ErrorCode::blocked);
  EXPECT_EQ(error_code(h.send_to(a, bob, "from the blocker")), ErrorCode::blocked);
  EXPECT_EQ(h.fingerprint(), before);
  h.group_op(a, client::Logout{});
  EXPECT_TRUE(h.presence_events(b).size() == 1u) << "no presence after a block";
  EXPECT_EQ(error_code(h.group_op(b, client::QueryPresence{0, {alice}})), ErrorCode::not_visible);

  // Unblocking allows messages again, but is not a contact: no presence until re-added.
  const ConnectionId a2 = h.connect(alice_phone);
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(contact_op(h, a2, client::ContactAction::unblock, bob)));
  EXPECT_EQ(ack_of(h.send_to(b, alice, "thanks")).channel, pair);
  EXPECT_FALSE(h.read([&](Records& r) { return r.friends(alice, bob); }));
}

TEST_F(Presence, ContactListShowsStateAndMutuality) {
  const UserId carol = h.user("carol");
  befriend(h, a, alice, b, bob);
  contact_op(h, a, client::ContactAction::block, carol);
  const auto list = std::get<server::ContactList>(h.group_op(a, client::ListContacts{}));
  ASSERT_EQ(list.contacts.size(), 2u);
  EXPECT_EQ(list.contacts[0].name, "bob");
  EXPECT_TRUE(list.contacts[0].mutual);
  EXPECT_EQ(list.contacts[1].state, ContactState::blocked);
  EXPECT_FALSE(list.contacts[1].mutual);
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(contact_op(h, a, client::ContactAction::add, alice)),
            ErrorCode::bad_request);
  EXPECT_EQ(error_code(contact_op(h, a, client::ContactAction::add, 999)), ErrorCode::unknown_user);
  EXPECT_EQ(h.fingerprint(), before);
  // Removing a friend stops presence in both directions.
  h.clear(b);
  contact_op(h, a, client::ContactAction::remove, bob);
  ASSERT_EQ(h.presence_events(b).size(), 1u);
  EXPECT_EQ(h.presence_events(b)[0].last_active_at, 0);
}

TEST_F(Presence, LastActiveAtSurvivesARestart) {
  befriend(h, a, alice, b, bob);
  h.request(b, client::Heartbeat{});
  const TimeUs seen = h.now();
  tick_until(h, seen + 31 * kSecond);
  const TimeUs stored = h.read([&](Records& r) { return r.last_active(bob).value_or(-1); });
  EXPECT_EQ(stored, seen);
  // A new engine over the same store (a restarted node) reports the same last_active_at.
  Engine restarted(h.store());
  h.store().begin();
  EXPECT_EQ(restarted.presence_of(bob).last_active_at, seen);
  EXPECT_FALSE(restarted.presence_of(bob).online);
  h.store().abort();
}

}  // namespace
}  // namespace parley::testing
