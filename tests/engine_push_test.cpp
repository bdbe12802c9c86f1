// Issue 3, rules 6 and 7: push intents and unread counts.
#include <set>

#include "engine/push.hpp"  // AwayRecords
#include "engine/utf8.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kSecond = 1'000'000;

server::Event register_token(Harness& h, ConnectionId connection, std::string platform,
                             std::string token) {
  return h.group_op(connection,
                    client::RegisterPushToken{0, std::move(platform), std::move(token)});
}

class Push : public ::testing::Test {
 protected:
  void SetUp() override {
    // Bob registers tokens on two devices, then logs nowhere: he closes the app.
    const ConnectionId phone = h.connect(bob_phone);
    const ConnectionId tablet = h.connect(bob_tablet);
    ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, phone, "apns", "tok-phone")));
    ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, tablet, "fcm", "tok-tablet")));
    h.disconnect(phone);
    h.disconnect(tablet);
    go_offline();
  }
  // Lets every silent device time out, with alice heartbeating meanwhile.
  void go_offline() {
    for (int i = 0; i < 35; ++i) {
      h.advance(kSecond);
      h.request(a, client::Heartbeat{});
      h.tick();
    }
  }
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  bool friends = (h.befriend(alice, bob), true);  // no message request (rule 22)
  DeviceId bob_phone = h.device(bob, "phone");
  DeviceId bob_tablet = h.device(bob, "tablet");
  ConnectionId a = h.connect(h.device(alice));
};

TEST_F(Push, OneIntentPerTokenForAUserWithNoOnlineDevice) {
  ASSERT_FALSE(h.engine().presence().online(bob));
  const auto sent = ack_of(h.send_to(a, bob, "are you there?"));
  ASSERT_EQ(h.pushes().size(), 2u);
  std::set<std::string> tokens;
  for (const PushIntent& intent : h.pushes()) {
    tokens.insert(intent.token);
    EXPECT_EQ(intent.user, bob);
    EXPECT_EQ(intent.sender, alice);
    EXPECT_EQ(intent.channel, sent.channel);
    EXPECT_EQ(intent.seq, sent.seq);
    EXPECT_EQ(intent.preview, "are you there?");
    EXPECT_EQ(intent.unread_in_channel, 1u);
    EXPECT_EQ(intent.unread_total, 1u);
    EXPECT_FALSE(intent.mentions_you) << "a 1:1 message mentions no one";
    // Written to the outbox, so a delivery worker finds it after a restart.
    const auto stored = h.read([&](Records& r) { return r.push_intent(intent.id); });
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->token, intent.token);
  }
  EXPECT_EQ(tokens, (std::set<std::string>{"tok-phone", "tok-tablet"}));
  EXPECT_NE(h.pushes()[0].id, h.pushes()[1].id);
  EXPECT_EQ(h.read([](Records& r) { return r.push_intents_after(0, 10).size(); }), 2u);
}

TEST_F(Push, NoIntentForAnOnlineUserNorForTheSender) {
  const ConnectionId phone = h.connect(bob_phone);
  ack_of(h.send_to(a, bob, "you are online"));
  EXPECT_TRUE(h.pushes().empty());
  // Alice has a token too, but she is the sender.
  ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, a, "web", "tok-alice")));
  ack_of(h.send_to(phone, alice, "reply"));
  EXPECT_TRUE(h.pushes().empty());
}

TEST_F(Push, DroppedConnectionInsideTheTimeoutIsStillOnlineByDefault) {
  const ConnectionId phone = h.connect(bob_phone);
  h.disconnect(phone);
  ack_of(h.send_to(a, bob, "tunnel"));
  EXPECT_TRUE(h.pushes().empty());
}

TEST(PushPolicy, DisconnectedPolicyPushesAsSoonAsNoDeviceIsConnected) {
  EngineConfig config;
  config.push_when = EngineConfig::PushWhen::disconnected;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId phone = h.connect(h.device(bob));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, phone, "apns", "tok")));
  h.disconnect(phone);
  ack_of(h.send_to(a, bob, "tunnel"));
  EXPECT_EQ(h.pushes().size(), 1u);
}

TEST_F(Push, CollapseWindowAllowsOneIntentPerUserAndChannel) {
  ack_of(h.send_to(a, bob, "one"));
  ASSERT_EQ(h.pushes().size(), 2u);
  h.advance(9 * kSecond);
  ack_of(h.send_to(a, bob, "two, inside the window"));
  EXPECT_EQ(h.pushes().size(), 2u);
  // Another channel is collapsed separately.
  const ChannelId group = h.create_group(a, "g", {bob});
  ack_of(h.post(a, group, "group news"));
  ASSERT_EQ(h.pushes().size(), 4u);
  EXPECT_EQ(h.pushes()[3].channel, group);
  EXPECT_EQ(h.pushes()[3].unread_total, 3u);
  h.advance(2 * kSecond);
  ack_of(h.send_to(a, bob, "three, after the window"));
  ASSERT_EQ(h.pushes().size(), 6u);
  EXPECT_EQ(h.pushes()[5].unread_in_channel, 3u);
  EXPECT_EQ(h.pushes()[5].unread_total, 4u);
}

TEST_F(Push, PreviewIsAtMost120CodePoints) {
  std::string long_text;
  for (int i = 0; i < 200; ++i)
    long_text += "\xf0\x9f\x98\x80";
  ack_of(h.send_to(a, bob, long_text));
  ASSERT_FALSE(h.pushes().empty());
  EXPECT_EQ(utf8_code_points(h.pushes()[0].preview), 120u);
}

TEST_F(Push, NoTokenNoIntentAndLogoutUnregisters) {
  const UserId carol = h.user("carol");
  ack_of(h.send_to(a, carol, "carol never registered"));
  EXPECT_TRUE(h.pushes().empty());

  const ConnectionId phone = h.connect(bob_phone);
  h.group_op(phone, client::Logout{});
  const ConnectionId tablet = h.connect(bob_tablet);
  h.group_op(tablet, client::UnregisterPushToken{});
  h.group_op(tablet, client::Logout{});
  ack_of(h.send_to(a, bob, "nobody to wake"));
  EXPECT_TRUE(h.pushes().empty());
}

TEST_F(Push, InvalidTokensAreRefusedAndStoreNothing) {
  const ConnectionId phone = h.connect(bob_phone);
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(register_token(h, phone, "pager", "x")), ErrorCode::invalid_push_token);
  EXPECT_EQ(error_code(register_token(h, phone, "apns", "")), ErrorCode::invalid_push_token);
  EXPECT_EQ(error_code(register_token(h, phone, "apns", "has space")),
            ErrorCode::invalid_push_token);
  EXPECT_EQ(error_code(register_token(h, phone, "fcm", std::string(4097, 'x'))),
            ErrorCode::invalid_push_token);
  EXPECT_EQ(h.fingerprint(), before);
}

// Rule 19: acks are delivery; the counts move when the user reads, on any device.
TEST(Unread, CountsAgreeAcrossDevicesAndFollowTheHighestRead) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId phone = h.connect(h.device(bob, "phone"));
  const ConnectionId laptop = h.connect(h.device(bob, "laptop"));
  const ChannelId group = h.create_group(a, "g", {bob});
  for (int i = 0; i < 3; ++i)
    ack_of(h.send_to(a, bob, "dm"));
  for (int i = 0; i < 2; ++i)
    ack_of(h.post(a, group, "group"));
  ack_of(h.post(phone, group, "bob's own message does not count"));
  const ChannelId pair = h.read([&](Records& r) { return *r.direct_channel(alice, bob); });

  const auto query = [&](ConnectionId connection) {
    return std::get<server::UnreadCounts>(h.group_op(connection, client::QueryUnread{}));
  };
  auto on_phone = query(phone);
  auto on_laptop = query(laptop);
  EXPECT_EQ(on_phone.total, 5u);
  EXPECT_EQ(on_phone.channels,
            (std::vector<std::pair<ChannelId, std::uint64_t>>{{group, 2}, {pair, 3}}));
  EXPECT_EQ(on_laptop.total, on_phone.total);
  EXPECT_EQ(on_laptop.channels, on_phone.channels);

  // Every device stored everything: still unread, nobody has looked.
  h.drain(phone);
  h.drain(laptop);
  EXPECT_EQ(query(phone).total, 5u);
  // The phone shows the 1:1 chat up to its third message.
  const auto read = [&](ConnectionId connection, ChannelId channel, Seq seq) {
    return h.group_op(connection, client::MarkRead{0, channel, seq});
  };
  EXPECT_TRUE(std::holds_alternative<server::Ok>(read(phone, pair, 3)));
  on_phone = query(phone);
  on_laptop = query(laptop);
  EXPECT_EQ(on_phone.total, 2u);
  EXPECT_EQ(on_phone.channels, (std::vector<std::pair<ChannelId, std::uint64_t>>{{group, 2}}));
  EXPECT_EQ(on_laptop.channels, on_phone.channels) << "read position syncs across devices";
  // A lower read from the laptop does not move the read position back.
  EXPECT_TRUE(std::holds_alternative<server::Ok>(read(laptop, pair, 1)));
  EXPECT_EQ(query(laptop).total, 2u);
  // The group up to bob's own message (seq 4: created, two posts, his).
  EXPECT_TRUE(std::holds_alternative<server::Ok>(read(laptop, group, 4)));
  EXPECT_EQ(query(phone).total, 0u);
  EXPECT_TRUE(query(phone).channels.empty());
  (void)alice;
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

TEST_F(Push, ResultsEmptyTheOutboxAndDeadTokensAreDropped) {
  ack_of(h.send_to(a, bob, "one"));
  ASSERT_EQ(h.pushes().size(), 2u);
  EXPECT_EQ(h.read([](Records& r) { return r.push_outbox_size(); }), 2u);
  const PushIntent phone = h.pushes()[0].token == "tok-phone" ? h.pushes()[0] : h.pushes()[1];
  const PushIntent tablet = h.pushes()[0].token == "tok-phone" ? h.pushes()[1] : h.pushes()[0];
  h.input(PushResult{phone.id, PushOutcome::delivered});
  h.input(PushResult{phone.id, PushOutcome::delivered});  // at least once: a repeat is harmless
  h.input(PushResult{tablet.id, PushOutcome::dead_token});
  EXPECT_EQ(h.read([](Records& r) { return r.push_outbox_size(); }), 0u);
  EXPECT_TRUE(h.read([](Records& r) { return r.push_intents_after(0, 10); }).empty());
  const auto tokens = h.read([&](Records& r) { return r.push_tokens(bob); });
  ASSERT_EQ(tokens.size(), 1u) << "the dead token is unregistered, the other stays";
  EXPECT_EQ(tokens[0].token, "tok-phone");
}

TEST(PushOutbox, AFullOutboxDropsNewIntentsVisibly) {
  EngineConfig config;
  config.push_outbox_max = 1;
  config.push_collapse_window_us = 0;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId phone = h.connect(h.device(bob));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, phone, "fcm", "tok")));
  h.group_op(phone, client::UnregisterPushToken{});
  ASSERT_TRUE(std::holds_alternative<server::Ok>(register_token(h, phone, "fcm", "tok")));
  h.disconnect(phone);
  for (int i = 0; i < 35; ++i) {
    h.advance(1'000'000);
    h.request(a, client::Heartbeat{});
    h.tick();
  }
  ack_of(h.send_to(a, bob, "fits"));
  ack_of(h.send_to(a, bob, "does not fit"));
  EXPECT_EQ(h.pushes().size(), 1u);
  ASSERT_EQ(h.dropped_pushes().size(), 1u);
  EXPECT_EQ(h.dropped_pushes()[0].user, bob);
  EXPECT_EQ(h.read([](Records& r) { return r.push_outbox_size(); }), 1u);
}

}  // namespace
}  // namespace parley::testing

// Issue 14, section 5: a message that arrives while none of the user's devices is connected,
// but before the presence timeout shows them offline, is pushed once it does (unless read).
namespace parley::testing {
namespace {

class DeferredPush : public ::testing::Test {
 protected:
  void SetUp() override {
    phone = h.connect(bob_phone);
    ASSERT_TRUE(std::holds_alternative<server::Ok>(
        h.group_op(phone, client::RegisterPushToken{0, "apns", "tok-phone"})));
  }
  // Alice heartbeats; ticks once a second for `seconds`.
  void wait(int seconds) {
    for (int i = 0; i < seconds; ++i) {
      h.advance(1'000'000);
      h.request(a, client::Heartbeat{});
      h.tick();
    }
  }
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  bool friends = (h.befriend(alice, bob), true);  // no message request (rule 22)
  DeviceId bob_phone = h.device(bob, "phone");
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId phone = 0;
};

TEST_F(DeferredPush, CleanCloseThenAMessageIsPushedWhenTheUserIsShownOffline) {
  h.disconnect(phone);  // bob closes the app: still shown online for 30 s
  h.advance(2'000'000);
  ack_of(h.send_to(a, bob, "first"));
  const auto sent = ack_of(h.send_to(a, bob, "second"));
  EXPECT_TRUE(h.engine().presence().online(bob));
  EXPECT_TRUE(h.pushes().empty());
  wait(35);
  ASSERT_FALSE(h.engine().presence().online(bob));
  // One intent per token and channel, for the newest message, counting both.
  ASSERT_EQ(h.pushes().size(), 1u);
  EXPECT_EQ(h.pushes()[0].token, "tok-phone");
  EXPECT_EQ(h.pushes()[0].channel, sent.channel);
  EXPECT_EQ(h.pushes()[0].seq, sent.seq);
  EXPECT_EQ(h.pushes()[0].preview, "second");
  EXPECT_EQ(h.pushes()[0].unread_in_channel, 2u);
  // Owed once: nothing more later, and the record is gone.
  wait(40);
  EXPECT_EQ(h.pushes().size(), 1u);
  EXPECT_EQ(h.read([&](Records&) { return AwayRecords(h.store()).pending(bob).size(); }), 0u);
}

TEST_F(DeferredPush, ADeviceThatReadsItFirstCancelsThePush) {
  h.disconnect(phone);
  ack_of(h.send_to(a, bob, "read me"));
  h.advance(5'000'000);
  const ConnectionId again = h.connect(bob_phone);
  h.drain(again);  // the phone stores it and acks
  h.disconnect(again);
  wait(40);
  EXPECT_FALSE(h.engine().presence().online(bob));
  EXPECT_TRUE(h.pushes().empty());
}

TEST_F(DeferredPush, AnUnreadMessageIsStillPushedAfterAReconnectWithoutAck) {
  h.disconnect(phone);
  ack_of(h.send_to(a, bob, "unread"));
  const ConnectionId again = h.connect(bob_phone);  // delivered, never acked
  ASSERT_EQ(h.delivered(again).size(), 1u);
  h.disconnect(again);  // and gone for good
  wait(40);
  EXPECT_EQ(h.pushes().size(), 1u);
}

TEST_F(DeferredPush, AConnectedUserOwesNothing) {
  ack_of(h.send_to(a, bob, "live"));
  h.drain(phone);
  h.disconnect(phone);
  wait(40);
  EXPECT_TRUE(h.pushes().empty());
}

// Issue 14, section 7: after a restart, users who were online stay online for a full timeout.
TEST(RestartPresence, OnlineUsersAreHeldOnlineAndNotPushedAfterARestart) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId alice_phone = h.device(alice);
  const DeviceId bob_phone = h.device(bob);
  h.connect(alice_phone);
  const ConnectionId phone = h.connect(bob_phone);
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(phone, client::RegisterPushToken{0, "apns", "tok"})));
  // The node crashes: a new engine over the same store, 1 s later.
  Engine restarted(h.store());
  TimeUs now = h.now() + 1'000'000;
  const auto step = [&](const Input& input) {
    now += 100'000;
    h.store().begin();
    Effects effects = restarted.handle(input, now);
    h.store().commit();
    return effects;
  };
  h.store().begin();
  restarted.open(now);
  h.store().commit();
  EXPECT_TRUE(restarted.presence().online(bob));
  // Alice is back at once and writes; bob is not back yet: no push, no presence change.
  const ConnectionId a = 100;
  Effects effects = step(Connected{a, alice_phone, 0});
  effects = step(Received{a, client::Send{1, 0, bob, "m1", "while you reconnect"}});
  for (const Effect& effect : effects) {
    EXPECT_FALSE(std::holds_alternative<PushNotification>(effect));
    EXPECT_FALSE(std::holds_alternative<PresenceChange>(effect));
  }
  // Bob's phone reconnects within the timeout: still no change, nothing pushed.
  effects = step(Connected{101, bob_phone, 0});
  for (const Effect& effect : effects) {
    EXPECT_FALSE(std::holds_alternative<PresenceChange>(effect));
  }
  EXPECT_TRUE(restarted.presence().online(bob));
}

TEST(RestartPresence, AUserWhoDoesNotComeBackExpiresAfterAFullTimeoutAndIsPushed) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const DeviceId alice_phone = h.device(alice);
  const ConnectionId phone = h.connect(h.device(bob));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(phone, client::RegisterPushToken{0, "apns", "tok"})));
  Engine restarted(h.store());
  TimeUs now = h.now() + 1'000'000;
  const TimeUs restarted_at = now;
  std::vector<PushIntent> pushes;
  std::vector<PresenceChange> changes;
  const auto step = [&](const Input& input) {
    h.store().begin();
    for (Effect& effect : restarted.handle(input, now)) {
      if (auto* push = std::get_if<PushNotification>(&effect)) pushes.push_back(push->intent);
      auto* change = std::get_if<PresenceChange>(&effect);
      if (change != nullptr && change->user == bob) changes.push_back(*change);
    }
    h.store().commit();
  };
  h.store().begin();
  restarted.open(now);
  h.store().commit();
  now += 100'000;
  step(Connected{100, alice_phone, 0});
  now += 100'000;
  step(Received{100, client::Send{1, 0, bob, "m1", "are you there?"}});
  EXPECT_TRUE(pushes.empty());
  for (now = restarted_at + 1'000'000; now < restarted_at + 30'000'000; now += 1'000'000) {
    step(Received{100, client::Heartbeat{}});
    step(Tick{});
  }
  EXPECT_TRUE(changes.empty()) << "bob shown offline before a full timeout from the restart";
  now = restarted_at + 30'000'000;
  step(Tick{});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].user, bob);
  EXPECT_FALSE(changes[0].online);
  ASSERT_EQ(pushes.size(), 1u);  // owed since it arrived with none of his devices connected
  EXPECT_EQ(pushes[0].preview, "are you there?");
}

}  // namespace
}  // namespace parley::testing
