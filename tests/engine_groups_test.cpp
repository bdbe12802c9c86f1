// Rules 3, 6 and 8: groups, inbox fanout, and history for members and removed members.
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

std::vector<std::string> kinds_in(const std::vector<InboxEntry>& entries) {
  std::vector<std::string> kinds;
  for (const auto& entry : entries)
    kinds.emplace_back(to_string(entry.message.kind));
  return kinds;
}

class Groups : public ::testing::Test {
 protected:
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  UserId carol = h.user("carol");
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId b = h.connect(h.device(bob));
  ConnectionId c = h.connect(h.device(carol));
};

TEST_F(Groups, CreatorIsAdminAndFoundersSeeTheCreation) {
  const ChannelId group = h.create_group(a, "weekend", {bob, bob, alice});
  const auto channel = h.read([&](Records& r) { return r.channel(group); });
  ASSERT_TRUE(channel.has_value());
  EXPECT_EQ(channel->admin, alice);
  EXPECT_EQ(channel->member_count, 2u);
  EXPECT_EQ(channel->name, "weekend");
  for (ConnectionId conn : {a, b}) {
    const auto entries = h.delivered(conn);
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].message.kind, MessageKind::group_created);
    EXPECT_EQ(entries[0].message.seq, 1u);
    EXPECT_EQ(entries[0].message.users, (std::vector<UserId>{alice, bob}));
  }
  EXPECT_TRUE(h.delivered(c).empty());
}

TEST_F(Groups, MembershipChangesAreEventsInTheChannelSequence) {
  const ChannelId group = h.create_group(a, "team", {bob});
  ack_of(h.post(b, group, "before carol"));
  EXPECT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, group, carol})));
  ack_of(h.post(c, group, "carol here"));
  EXPECT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, group, bob})));
  ack_of(h.post(a, group, "after bob"));
  EXPECT_TRUE(std::holds_alternative<server::Ok>(h.group_op(c, client::LeaveGroup{0, group})));

  EXPECT_EQ(kinds_in(h.delivered(a)),
            (std::vector<std::string>{"group_created", "text", "member_added", "text",
                                      "member_removed", "text", "member_left"}));
  // Bob saw everything up to and including his removal, and nothing after.
  EXPECT_EQ(kinds_in(h.delivered(b)),
            (std::vector<std::string>{"group_created", "text", "member_added", "text",
                                      "member_removed"}));
  // Carol saw from her addition to her leaving.
  EXPECT_EQ(
      kinds_in(h.delivered(c)),
      (std::vector<std::string>{"member_added", "text", "member_removed", "text", "member_left"}));
  Seq expected = 1;
  for (const auto& entry : h.delivered(a))
    EXPECT_EQ(entry.message.seq, expected++);
}

TEST_F(Groups, AHundredMembersFitAndTheHundredAndFirstIsRefused) {
  std::vector<UserId> others;
  for (int i = 0; i < 99; ++i)
    others.push_back(h.user("user" + std::to_string(i)));
  const ChannelId group = h.create_group(a, "hundred", others);
  EXPECT_EQ(h.read([&](Records& r) { return r.channel(group)->member_count; }), 100u);

  const std::string before = h.fingerprint();
  const auto refused = h.group_op(a, client::AddMember{0, group, carol});
  EXPECT_EQ(error_code(refused), ErrorCode::group_full);
  EXPECT_NE(std::get<server::Failure>(refused).message.find("100"), std::string::npos);
  EXPECT_EQ(h.fingerprint(), before);

  // Creating with 101 members is refused the same way.
  others.push_back(carol);
  h.request(a, client::CreateGroup{777, "too big", others});
  EXPECT_EQ(error_code(h.reply(a, 777)), ErrorCode::group_full);
  EXPECT_EQ(h.fingerprint(), before);

  // Once someone leaves there is room again.
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, group, others[0]})));
  EXPECT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, group, carol})));
}

TEST_F(Groups, FanoutToAHundredMembersReachesEveryInboxIncludingTheSender) {
  std::vector<UserId> others;
  for (int i = 0; i < 99; ++i)
    others.push_back(h.user("member" + std::to_string(i)));
  const ChannelId group = h.create_group(a, "all hands", others);
  const auto sent = ack_of(h.post(a, group, "hello everyone"));
  const MessageId id{group, sent.seq};
  std::vector<UserId> everyone = others;
  everyone.push_back(alice);
  for (UserId user : everyone) {
    const auto inbox = h.read([&](Records& r) { return r.inbox_after(user, 0, 10); });
    ASSERT_EQ(inbox.size(), 2u) << "user " << user;
    EXPECT_EQ(inbox[0].inbox_seq, 1u);
    EXPECT_EQ(inbox[1].inbox_seq, 2u);
    EXPECT_EQ(inbox[1].message, id);
  }
  // Alice's live device receives her own message through her inbox.
  EXPECT_EQ(h.delivered(a).back().message.text, "hello everyone");
  // A user outside the group's inbox is untouched.
  EXPECT_EQ(h.read([&](Records& r) { return r.inbox_head(carol); }), 0u);
}

TEST_F(Groups, OnlyTheAdminChangesMembership) {
  const ChannelId group = h.create_group(a, "club", {bob});
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.group_op(b, client::AddMember{0, group, carol})), ErrorCode::not_admin);
  EXPECT_EQ(error_code(h.group_op(b, client::RemoveMember{0, group, alice})), ErrorCode::not_admin);
  EXPECT_EQ(error_code(h.group_op(c, client::AddMember{0, group, carol})), ErrorCode::not_a_member);
  EXPECT_EQ(error_code(h.group_op(a, client::AddMember{0, group, bob})), ErrorCode::already_member);
  EXPECT_EQ(error_code(h.group_op(a, client::AddMember{0, group, 999})), ErrorCode::unknown_user);
  EXPECT_EQ(error_code(h.group_op(a, client::RemoveMember{0, group, carol})),
            ErrorCode::not_a_member);
  EXPECT_EQ(error_code(h.group_op(a, client::RemoveMember{0, group, alice})),
            ErrorCode::bad_request);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST_F(Groups, DirectChannelsHaveNoMembershipOperations) {
  const ChannelId pair = ack_of(h.send_to(a, bob, "hi")).channel;
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.group_op(a, client::AddMember{0, pair, carol})), ErrorCode::not_a_group);
  EXPECT_EQ(error_code(h.group_op(a, client::LeaveGroup{0, pair})), ErrorCode::not_a_group);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST_F(Groups, InvalidGroupNamesAndUnknownFoundersAreRefused) {
  const std::string before = h.fingerprint();
  h.request(a, client::CreateGroup{1001, "", {bob}});
  h.request(a, client::CreateGroup{1002, std::string(101, 'n'), {bob}});
  h.request(a, client::CreateGroup{1003, "bad \xff", {bob}});
  h.request(a, client::CreateGroup{1004, "ok", {bob, 999}});
  EXPECT_EQ(error_code(h.reply(a, 1001)), ErrorCode::invalid_name);
  EXPECT_EQ(error_code(h.reply(a, 1002)), ErrorCode::invalid_name);
  EXPECT_EQ(error_code(h.reply(a, 1003)), ErrorCode::invalid_name);
  EXPECT_EQ(error_code(h.reply(a, 1004)), ErrorCode::unknown_user);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST_F(Groups, AdminWhoLeavesHandsOverToTheLongestStandingMember) {
  const ChannelId group = h.create_group(a, "relay", {bob});
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, group, carol})));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(h.group_op(a, client::LeaveGroup{0, group})));
  EXPECT_EQ(h.read([&](Records& r) { return r.channel(group)->admin; }), bob);
  const auto last = h.delivered(c).back().message;
  EXPECT_EQ(last.kind, MessageKind::admin_changed);
  EXPECT_EQ(last.users, std::vector<UserId>{bob});
  // The new admin can now change membership; the old one cannot.
  EXPECT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(b, client::RemoveMember{0, group, carol})));
  EXPECT_EQ(error_code(h.group_op(a, client::AddMember{0, group, carol})), ErrorCode::not_a_member);
}

TEST_F(Groups, RemovedMemberCannotPostNorReadPastTheirRemoval) {
  const ChannelId group = h.create_group(a, "secret", {bob});
  ack_of(h.post(b, group, "while a member"));
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, group, bob})));
  ack_of(h.post(a, group, "after bob left 1"));
  ack_of(h.post(a, group, "after bob left 2"));

  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.post(b, group, "let me back")), ErrorCode::not_a_member);
  EXPECT_EQ(h.fingerprint(), before);

  const auto page = std::get<server::HistoryPage>(h.group_op(b, client::History{0, group, 0, 100}));
  ASSERT_EQ(page.messages.size(), 3u);  // created, his message, his removal
  EXPECT_EQ(page.messages.back().kind, MessageKind::member_removed);
  EXPECT_FALSE(page.has_more);
  // Asking for later seqs explicitly still stops at the removal.
  const auto later =
      std::get<server::HistoryPage>(h.group_op(b, client::History{0, group, 6, 100}));
  EXPECT_EQ(later.messages.size(), 3u);
  for (const auto& message : later.messages)
    EXPECT_LE(message.seq, 3u);
}

TEST_F(Groups, HistoryPagesBackThroughTheChannel) {
  const ChannelId group = h.create_group(a, "long", {bob});
  for (int i = 1; i <= 250; ++i)
    ack_of(h.post(i % 2 ? a : b, group, "m" + std::to_string(i)));
  // 251 messages: the creation event plus 250 texts.
  std::vector<Seq> seen;
  Seq before = 0;
  int pages = 0;
  while (true) {
    const auto page =
        std::get<server::HistoryPage>(h.group_op(b, client::History{0, group, before, 100}));
    ++pages;
    ASSERT_FALSE(page.messages.empty());
    for (std::size_t i = 1; i < page.messages.size(); ++i) {
      EXPECT_EQ(page.messages[i].seq, page.messages[i - 1].seq + 1);
    }
    for (auto it = page.messages.rbegin(); it != page.messages.rend(); ++it)
      seen.push_back(it->seq);
    before = page.messages.front().seq;
    if (!page.has_more) break;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 251u);
  for (std::size_t i = 0; i < seen.size(); ++i)
    EXPECT_EQ(seen[i], 251 - i);

  const std::string fingerprint = h.fingerprint();
  EXPECT_EQ(error_code(h.group_op(b, client::History{0, group, 0, 0})), ErrorCode::invalid_limit);
  EXPECT_EQ(error_code(h.group_op(b, client::History{0, group, 0, 101})), ErrorCode::invalid_limit);
  EXPECT_EQ(error_code(h.group_op(c, client::History{0, group, 0, 10})), ErrorCode::not_a_member);
  EXPECT_EQ(error_code(h.group_op(c, client::History{0, 999, 0, 10})), ErrorCode::unknown_channel);
  EXPECT_EQ(h.fingerprint(), fingerprint);
}

// A new device learns its chat list from listChannels: a 1:1 channel's peer and a group's
// name and members, which deliveries alone do not tell it.
TEST_F(Groups, ListChannelsNamesPeersGroupsAndFormerGroups) {
  const auto direct = std::get<server::SendAck>(h.send_to(a, bob, "hi bob")).channel;
  const ChannelId team = h.create_group(a, "team", {bob, carol});
  const ChannelId old = h.create_group(b, "old", {carol});
  ack_of(h.post(b, old, "one"));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(h.group_op(c, client::LeaveGroup{0, old})));
  ack_of(h.post(b, old, "after carol left"));

  const auto carols = std::get<server::ChannelList>(h.group_op(c, client::ListChannels{}));
  ASSERT_EQ(carols.channels.size(), 2u);
  const auto& in_team = carols.channels[0];
  EXPECT_EQ(in_team.channel, team);
  EXPECT_EQ(in_team.kind, ChannelKind::group);
  EXPECT_EQ(in_team.name, "team");
  EXPECT_EQ(in_team.admin, alice);
  EXPECT_TRUE(in_team.active);
  EXPECT_EQ(in_team.last_seq, 1u);
  ASSERT_EQ(in_team.members.size(), 3u);
  EXPECT_EQ(in_team.members[0].name, "alice");
  EXPECT_EQ(in_team.members[2].user, carol);
  // Carol left "old" at seq 3: she is told where her history stops, not who remains.
  const auto& left = carols.channels[1];
  EXPECT_EQ(left.channel, old);
  EXPECT_FALSE(left.active);
  EXPECT_EQ(left.last_seq, 3u);
  EXPECT_TRUE(left.members.empty());

  const auto bobs = std::get<server::ChannelList>(h.group_op(b, client::ListChannels{}));
  ASSERT_EQ(bobs.channels.size(), 3u);
  EXPECT_EQ(bobs.channels[0].channel, direct);
  EXPECT_EQ(bobs.channels[0].kind, ChannelKind::direct);
  EXPECT_EQ(bobs.channels[0].name, "");
  ASSERT_EQ(bobs.channels[0].members.size(), 2u);
  EXPECT_EQ(bobs.channels[0].members[0].user, alice);
  EXPECT_EQ(bobs.channels[0].members[1].name, "bob");
  EXPECT_EQ(bobs.channels[2].last_seq, 4u);
}

// Rule 9 and groups: a block stands between two users in groups too. Nobody adds a user who
// blocked them, nor one they blocked, whether creating the group or later; a third user may
// still have both in a group (group messages are not affected by blocks).
TEST_F(Groups, NobodyAddsToAGroupAUserWhoBlockedThemOrWhomTheyBlocked) {
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(b, client::ChangeContact{0, client::ContactAction::block, alice})));
  const ChannelId team = h.create_group(a, "team", {carol});
  const std::string before = h.fingerprint();
  h.request(a, client::CreateGroup{2001, "with bob", {carol, bob}});
  EXPECT_EQ(error_code(h.reply(a, 2001)), ErrorCode::blocked);
  EXPECT_EQ(error_code(h.group_op(a, client::AddMember{0, team, bob})), ErrorCode::blocked);
  // The blocker cannot pull the blocked user in either.
  h.request(b, client::CreateGroup{2002, "with alice", {alice}});
  EXPECT_EQ(error_code(h.reply(b, 2002)), ErrorCode::blocked);
  EXPECT_EQ(h.fingerprint(), before);
  // Someone else may add both: the group is theirs, and it is not a 1:1 message.
  const ChannelId both = h.create_group(c, "both", {alice, bob});
  EXPECT_NE(both, 0u);
  // Once unblocked, the add goes through.
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(b, client::ChangeContact{0, client::ContactAction::unblock, alice})));
  EXPECT_TRUE(std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, team, bob})));
}

// Rule 8: a member reads what was posted while they were a member, in each of their
// membership windows: nothing before they first joined, nothing while they were out. History
// and delivery agree.
TEST_F(Groups, HistoryShowsOnlyTheMembershipWindows) {
  const ChannelId group = h.create_group(a, "windows", {bob});  // seq 1
  ack_of(h.post(a, group, "before carol"));                     // 2
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, group, carol})));  // 3
  ack_of(h.post(a, group, "carol in"));                                                        // 4
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, group, carol})));
  ack_of(h.post(a, group, "carol out 1"));  // 6
  ack_of(h.post(a, group, "carol out 2"));  // 7
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::AddMember{0, group, carol})));  // 8
  ack_of(h.post(b, group, "carol back"));                                                      // 9

  const auto seqs = [](const std::vector<Message>& messages) {
    std::vector<Seq> out;
    for (const auto& message : messages)
      out.push_back(message.seq);
    return out;
  };
  const auto page = [&](Seq before, std::uint32_t limit) {
    return std::get<server::HistoryPage>(h.group_op(c, client::History{0, group, before, limit}));
  };
  const auto all = page(0, 100);
  EXPECT_EQ(seqs(all.messages), (std::vector<Seq>{3, 4, 5, 8, 9}));
  EXPECT_FALSE(all.has_more);
  // Delivery gave her exactly the same messages.
  std::vector<Seq> delivered;
  for (const auto& entry : h.delivered(c)) {
    if (entry.message.channel == group) delivered.push_back(entry.message.seq);
  }
  EXPECT_EQ(delivered, seqs(all.messages));
  // Paging walks the windows without a gap or a leak.
  const auto newest = page(0, 3);
  EXPECT_EQ(seqs(newest.messages), (std::vector<Seq>{5, 8, 9}));
  EXPECT_TRUE(newest.has_more);
  const auto older = page(5, 3);
  EXPECT_EQ(seqs(older.messages), (std::vector<Seq>{3, 4}));
  EXPECT_FALSE(older.has_more);
  const auto gap = page(8, 2);
  EXPECT_EQ(seqs(gap.messages), (std::vector<Seq>{4, 5}));
  EXPECT_TRUE(gap.has_more);
  EXPECT_TRUE(page(3, 10).messages.empty());
  // After she is removed again, both windows stay readable and nothing later.
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(a, client::RemoveMember{0, group, carol})));
  ack_of(h.post(a, group, "gone again"));
  EXPECT_EQ(seqs(page(0, 100).messages), (std::vector<Seq>{3, 4, 5, 8, 9, 10}));
  // A founder reads everything.
  const auto founder =
      std::get<server::HistoryPage>(h.group_op(b, client::History{0, group, 0, 100}));
  EXPECT_EQ(founder.messages.size(), 11u);
}

}  // namespace
}  // namespace parley::testing
