// The operations hosts use instead of the tables (engine/engine.hpp): accounts, the push
// outbox, provisioning and the channel view, and the engine's self-checks.
#include <list>

#include "engine/context.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kSecond = 1'000'000;

// `f(engine)` inside a transaction that is then aborted, as a host's read would be.
template <typename F>
auto on_engine(Harness& h, F f) {
  h.store().begin();
  auto result = f(h.engine());
  h.store().abort();
  return result;
}

TEST(EngineOperations, UsersAndDevices) {
  Harness h;
  const UserId bob = h.user("Bob");
  const DeviceId phone = h.device(bob, "phone");
  const DeviceId laptop = h.device(bob, "laptop");
  EXPECT_EQ(on_engine(h, [&](Engine& e) { return e.user(bob)->name; }), "Bob");
  EXPECT_EQ(on_engine(h, [&](Engine& e) { return e.user(bob + 1); }), std::nullopt);
  EXPECT_EQ(on_engine(h, [](Engine& e) { return e.user_by_name("bOB"); }), bob);
  EXPECT_EQ(on_engine(h, [](Engine& e) { return e.user_by_name("carol"); }), std::nullopt);
  EXPECT_EQ(on_engine(h, [](Engine& e) { return e.user_by_name(""); }), std::nullopt);
  EXPECT_EQ(on_engine(h, [](Engine& e) { return e.user_by_name(std::string(600, 'x')); }),
            std::nullopt);
  EXPECT_EQ(on_engine(h, [&](Engine& e) { return e.devices_of(bob); }),
            (std::vector<DeviceId>{phone, laptop}));
  EXPECT_TRUE(on_engine(h, [&](Engine& e) { return e.devices_of(bob + 1); }).empty());
  const auto device = on_engine(h, [&](Engine& e) { return e.device(laptop); });
  ASSERT_TRUE(device.has_value());
  EXPECT_EQ(device->user, bob);
  EXPECT_EQ(device->label, "laptop");
}

TEST(EngineOperations, ThePushOutboxPagesByIntentId) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId bobs = h.connect(h.device(bob));
  h.group_op(bobs, client::RegisterPushToken{0, "apns", "tok"});
  h.disconnect(bobs);
  const ConnectionId a = h.connect(h.device(alice));
  for (int i = 0; i < 35; ++i) {  // bob times out; alice stays
    h.advance(kSecond);
    h.request(a, client::Heartbeat{});
    h.tick();
  }
  ack_of(h.send_to(a, bob, "one"));
  h.advance(11 * kSecond);  // past the collapse window
  ack_of(h.send_to(a, bob, "two"));
  ASSERT_EQ(h.pushes().size(), 2u);
  const auto all = on_engine(h, [](Engine& e) { return e.push_intents_after(0, 10); });
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], h.pushes()[0]);
  EXPECT_EQ(all[1], h.pushes()[1]);
  const auto first = on_engine(h, [](Engine& e) { return e.push_intents_after(0, 1); });
  ASSERT_EQ(first.size(), 1u);
  const auto rest = on_engine(h, [&](Engine& e) { return e.push_intents_after(first[0].id, 10); });
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].preview, "two");
}

TEST(EngineOperations, ProvisionedContactsAreFriendsWithoutAnyEffect) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.store().begin();
  h.engine().provision_contact(alice, bob, 0);
  h.engine().provision_contact(bob, alice, 0);
  h.store().commit();
  const ConnectionId a = h.connect(h.device(alice));
  const auto list = std::get<server::ContactList>(h.group_op(a, client::ListContacts{}));
  ASSERT_EQ(list.contacts.size(), 1u);
  EXPECT_EQ(list.contacts[0].user, bob);
  EXPECT_TRUE(list.contacts[0].mutual);
  EXPECT_EQ(list.contacts[0].state, ContactState::contact);
}

TEST(EngineOperations, TheChannelViewShowsWhatIsCommitted) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const UserId carol = h.user("carol");
  const ConnectionId a = h.connect(h.device(alice));
  const ChannelId group = h.create_group(a, "team", {bob, carol});
  ack_of(h.post(a, group, "hello"));
  h.group_op(a, client::RemoveMember{0, group, carol});
  const auto channel = on_engine(h, [&](Engine& e) { return e.channel(group); });
  ASSERT_TRUE(channel.has_value());
  EXPECT_EQ(channel->kind, ChannelKind::group);
  EXPECT_EQ(channel->last_seq, 3u);
  EXPECT_EQ(on_engine(h, [&](Engine& e) { return e.channel(group + 1); }), std::nullopt);
  const auto members = on_engine(h, [&](Engine& e) { return e.members(group); });
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[2].first, carol);
  EXPECT_EQ(members[2].second.state, MemberState::removed);
  const auto messages = on_engine(h, [&](Engine& e) { return e.messages(group, 1, 3); });
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[0].kind, MessageKind::group_created);
  EXPECT_EQ(messages[1].text, "hello");
  EXPECT_EQ(messages[2].kind, MessageKind::member_removed);
  EXPECT_EQ(on_engine(h, [&](Engine& e) { return e.messages(group, 2, 2); }).size(), 1u);
}

// The self-checks catch the bugs they are for: an in-flight list out of step with its byte
// count, and unread counts out of step with their total.
TEST(EngineOperations, SelfChecksCatchBrokenSums) {
  auto holder = make_test_store();
  Store& store = *holder;
  EngineConfig config;
  config.check_invariants = true;
  detail::State state(store, config);
  detail::Connection connection{1, 1, 0, 2, {{1, 5}, {2, 7}}, 12};
  EXPECT_NO_THROW(detail::check_in_flight(state, connection));
  connection.in_flight_bytes = 11;
  EXPECT_THROW(detail::check_in_flight(state, connection), InvariantViolation);
  connection.in_flight_bytes = 12;
  connection.sent_upto = 3;  // an entry sent and not in the list
  EXPECT_THROW(detail::check_in_flight(state, connection), InvariantViolation);

  store.begin();
  state.records.add_unread(1, 7, 2);
  state.records.add_unread(1, 0, 2);
  EXPECT_NO_THROW(detail::check_unread(state, 1));
  state.records.add_unread(1, 8, 1);  // the total not raised with it
  EXPECT_THROW(detail::check_unread(state, 1), InvariantViolation);
  store.abort();

  state.config.check_invariants = false;  // off: nothing is checked
  EXPECT_NO_THROW(detail::check_in_flight(state, connection));
}

}  // namespace
}  // namespace parley::testing
