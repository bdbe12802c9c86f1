// Groups at their limits and over many messages: a hundred members, fanout to every inbox,
// paging through 251 messages, and the chat list's fields. The rules that are sequences of
// requests and effects (rules 3, 6 and 8: creation, membership events, admin rights, history
// windows, blocks in groups) are pinned by tests/transcripts/groups_*.txt.
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

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
  h.befriend(bob, carol);  // "old" is no request for carol: listed after she leaves
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

}  // namespace
}  // namespace parley::testing
