// Rule 22, message requests: what makes a chat a request (a non-contact's first send or
// group, a removed or blocked peer) and what does not (a contact, the sender's own side),
// that no message of a request pushes (mentions included, owed pushes included) or counts,
// and what accepting, replying, blocking and deleting do. The effects step by step are
// pinned by tests/transcripts/message_requests.txt.
#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

bool is_request(Harness& h, ChannelId channel, UserId user) {
  return h.read([&](Records& r) { return r.member(channel, user).value().request; });
}
bool is_contact(Harness& h, UserId user, UserId other) {
  return h.read([&](Records& r) {
    const auto contact = r.contact(user, other);
    return contact && contact->state == ContactState::contact;
  });
}
server::Event answer(Harness& h, ConnectionId c, ChannelId channel, client::RequestAnswer how) {
  return h.group_op(c, client::AnswerRequest{0, channel, how});
}

// Bob, whose phone holds a push token and is gone (push_when = disconnected: a message to
// him pushes at once), and three people who may write to him.
struct Away {
  EngineConfig config = [] {
    EngineConfig disconnected;
    disconnected.push_when = EngineConfig::PushWhen::disconnected;
    return disconnected;
  }();
  Harness h{config};
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  UserId carol = h.user("carol");
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId c = h.connect(h.device(carol));
  DeviceId phone = h.device(bob);
  DeviceId laptop = h.device(bob, "laptop");
  bool away = [this] {
    const ConnectionId b = h.connect(phone);
    h.request(b, client::RegisterPushToken{0, "fcm", "tok"});
    h.disconnect(b);
    return true;
  }();
};

TEST(Requests, OnlyANonContactsChatIsARequestAndOnlyForTheOneWrittenTo) {
  Away w;
  Harness& h = w.h;
  const ChannelId stranger = ack_of(h.send_to(w.a, w.bob, "hi")).channel;
  EXPECT_TRUE(is_request(h, stranger, w.bob));
  EXPECT_FALSE(is_request(h, stranger, w.alice)) << "the sender's own side is never one";
  // Bob holds carol as a contact (one way is enough: it is bob's list that decides).
  const ConnectionId b = h.connect(w.laptop);
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(b, client::ChangeContact{0, client::ContactAction::add, w.carol})));
  const ChannelId known = ack_of(h.send_to(w.c, w.bob, "hi")).channel;
  EXPECT_FALSE(is_request(h, known, w.bob));
  EXPECT_FALSE(is_request(h, known, w.carol)) << "carol wrote first";
  const ChannelId group = h.create_group(w.c, "g", {w.bob, w.alice});
  EXPECT_FALSE(is_request(h, group, w.bob));
  EXPECT_TRUE(is_request(h, group, w.alice));
  EXPECT_FALSE(is_request(h, group, w.carol));
}

TEST(Requests, NothingInARequestPushesOrCountsNotEvenAMention) {
  Away w;
  Harness& h = w.h;
  const ChannelId group = h.create_group(w.a, "deals", {w.bob, w.carol});
  ack_of(h.post(w.a, group, "@bob special offer"));
  const ChannelId direct = ack_of(h.send_to(w.a, w.bob, "psst")).channel;
  EXPECT_TRUE(h.pushes().empty());
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(w.bob, 0); }), 0u);
  // Accepted, each chat pushes and counts like any other from then on.
  const ConnectionId b = h.connect(w.laptop);
  ASSERT_TRUE(std::holds_alternative<server::RequestAnswered>(
      answer(h, b, group, client::RequestAnswer::accept)));
  h.disconnect(b);
  ack_of(h.post(w.a, group, "@bob still there?"));
  ASSERT_EQ(h.pushes().size(), 1u);
  EXPECT_EQ(h.pushes()[0].channel, group);
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(w.bob, group); }), 1u);
  EXPECT_TRUE(is_request(h, direct, w.bob)) << "accepting the group accepts nothing else";
  EXPECT_FALSE(is_contact(h, w.bob, w.alice)) << "a group's accept adds no contact";
}

TEST(Requests, AcceptingAddsTheContactAndTellsTheOtherDevicesOnce) {
  Away w;
  Harness& h = w.h;
  const ChannelId direct = ack_of(h.send_to(w.a, w.bob, "hi")).channel;
  const ConnectionId b = h.connect(w.laptop);
  const ConnectionId phone = h.connect(w.phone);
  const auto answered =
      std::get<server::RequestAnswered>(answer(h, b, direct, client::RequestAnswer::accept));
  EXPECT_EQ(answered.channel, direct);
  EXPECT_TRUE(is_contact(h, w.bob, w.alice));
  EXPECT_FALSE(is_request(h, direct, w.bob));
  int told = 0;
  for (const auto& event : h.events(phone)) {
    if (const auto* copy = std::get_if<server::RequestAnswered>(&event)) {
      EXPECT_EQ(copy->request, 0u);
      ++told;
    }
  }
  EXPECT_EQ(told, 1);
  answer(h, b, direct, client::RequestAnswer::accept);  // again: answered, nobody told
  told = 0;
  for (const auto& event : h.events(phone))
    told += std::holds_alternative<server::RequestAnswered>(event) ? 1 : 0;
  EXPECT_EQ(told, 1);
}

TEST(Requests, ABlockedOrRemovedPeersChatIsARequestAgain) {
  Away w;
  Harness& h = w.h;
  const ConnectionId b = h.connect(w.laptop);
  const ChannelId direct = ack_of(h.send_to(b, w.alice, "hi alice")).channel;
  EXPECT_FALSE(is_request(h, direct, w.bob)) << "bob wrote first";
  h.group_op(b, client::ChangeContact{0, client::ContactAction::block, w.alice});
  EXPECT_TRUE(is_request(h, direct, w.bob));
  EXPECT_EQ(error_code(h.send_to(w.a, w.bob, "let me explain")), ErrorCode::blocked);
  h.group_op(b, client::ChangeContact{0, client::ContactAction::unblock, w.alice});
  EXPECT_TRUE(is_request(h, direct, w.bob)) << "unblocking accepts nothing";
  h.group_op(b, client::ChangeContact{0, client::ContactAction::add, w.alice});
  EXPECT_FALSE(is_request(h, direct, w.bob));
  h.group_op(b, client::ChangeContact{0, client::ContactAction::remove, w.alice});
  EXPECT_TRUE(is_request(h, direct, w.bob));
}

TEST(Requests, ADeletedRequestsMessagesAreOutOfReachEvenThroughAQuote) {
  Away w;
  Harness& h = w.h;
  const auto first = ack_of(h.send_to(w.a, w.bob, "remember this?"));
  const ConnectionId b = h.connect(w.laptop);
  const auto deleted = std::get<server::RequestAnswered>(
      answer(h, b, first.channel, client::RequestAnswer::delete_));
  EXPECT_EQ(deleted.cleared_seq, first.seq);
  const auto reply =
      h.group_op(w.a, client::Send{0, first.channel, 0, "quote", "this one", first.seq});
  ASSERT_TRUE(std::holds_alternative<server::SendAck>(reply)) << describe(reply);
  const auto page =
      std::get<server::HistoryPage>(h.group_op(b, client::History{0, first.channel, 0, 10}));
  ASSERT_EQ(page.messages.size(), 1u) << "only the reply: the original was cleared";
  EXPECT_TRUE(page.messages[0].quote.unavailable);
  EXPECT_EQ(page.messages[0].quote.text, "");
  EXPECT_TRUE(is_request(h, first.channel, w.bob)) << "still a request after a delete";
  // Alice's own copy is untouched.
  const auto hers =
      std::get<server::HistoryPage>(h.group_op(w.a, client::History{0, first.channel, 0, 10}));
  EXPECT_EQ(hers.messages.size(), 2u);
}

// Deleted requests are left out of channelList without ending a page early: three strangers'
// deleted chats before a contact's, asked one at a time, still give the contact's chat, and
// a page says more only when a listed chat follows.
TEST(Requests, DeletedRequestsNeverLeaveAChannelPageEmpty) {
  Away w;
  Harness& h = w.h;
  const ConnectionId b = h.connect(w.laptop);
  for (const char* name : {"dan", "erin", "fay"}) {
    const ConnectionId stranger = h.connect(h.device(h.user(name)));
    const auto sent = ack_of(h.send_to(stranger, w.bob, "buy now"));
    answer(h, b, sent.channel, client::RequestAnswer::delete_);
  }
  h.befriend(w.alice, w.bob);
  const ChannelId friends = ack_of(h.send_to(w.a, w.bob, "lunch?")).channel;
  const auto page = [&](ChannelId after) {
    return std::get<server::ChannelList>(h.group_op(b, client::ListChannels{0, after, 1}));
  };
  const auto first = page(0);
  ASSERT_EQ(first.channels.size(), 1u) << "the contact's chat, past the three deleted ones";
  EXPECT_EQ(first.channels[0].channel, friends);
  EXPECT_FALSE(first.more) << "nothing listed follows";
  // A fourth deleted request after it, then another contact's chat.
  const ConnectionId gus = h.connect(h.device(h.user("gus")));
  answer(h, b, ack_of(h.send_to(gus, w.bob, "win big")).channel, client::RequestAnswer::delete_);
  h.befriend(w.carol, w.bob);
  const ChannelId carols = ack_of(h.send_to(w.c, w.bob, "hi bob")).channel;
  EXPECT_TRUE(page(0).more) << "carol's chat follows, past gus's deleted one";
  const auto second = page(friends);
  ASSERT_EQ(second.channels.size(), 1u);
  EXPECT_EQ(second.channels[0].channel, carols);
  EXPECT_FALSE(second.more);
}

TEST(Requests, ReplyingAcceptsAndIsTheOnlyWayASendChangesIt) {
  Away w;
  Harness& h = w.h;
  const ChannelId direct = ack_of(h.send_to(w.a, w.bob, "hi")).channel;
  ack_of(h.send_to(w.a, w.bob, "hello?"));
  EXPECT_TRUE(is_request(h, direct, w.bob)) << "the stranger writing again accepts nothing";
  const ConnectionId b = h.connect(w.laptop);
  ack_of(h.post(b, direct, "hi alice"));
  EXPECT_FALSE(is_request(h, direct, w.bob));
  EXPECT_FALSE(is_contact(h, w.bob, w.alice)) << "a reply adds no contact";
}

}  // namespace
}  // namespace parley::testing
