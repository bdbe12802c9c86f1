// Rule 21, replies, mentions and mute: what a quote shows each reader, which names a text
// mentions, every refusal of the class (each storing nothing), and who a muted chat pushes.
// The effects step by step are pinned by tests/transcripts/replies_mentions_mute.txt.
#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kMinute = 60'000'000;

server::Event reply_to(Harness& h, ConnectionId c, ChannelId channel, UserId peer, Seq seq,
                       const std::string& text) {
  static int next = 0;
  return h.group_op(c, client::Send{0, channel, peer, "r" + std::to_string(++next), text, seq});
}
server::Event mute(Harness& h, ConnectionId c, ChannelId channel, TimeUs for_us,
                   bool forever = false) {
  return h.group_op(c, client::MuteChannel{0, channel, for_us, forever});
}
MessageRecord stored(Harness& h, ChannelId channel, Seq seq) {
  return h.read([&](Records& r) { return r.message({channel, seq}).value(); });
}
// Message `seq` of `channel` as `c`'s user gets it in a history page (quote filled in).
Message served(Harness& h, ConnectionId c, ChannelId channel, Seq seq) {
  const auto page =
      std::get<server::HistoryPage>(h.group_op(c, client::History{0, channel, seq + 1, 1}));
  EXPECT_EQ(page.messages.size(), 1u);
  return page.messages.at(0);
}

struct Group {
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  UserId carol = h.user("carol");
  UserId dave = h.user("dave");
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId b = h.connect(h.device(bob));
  ConnectionId c = h.connect(h.device(carol));
  ConnectionId d = h.connect(h.device(dave));
  ChannelId group = h.create_group(a, "trip", {bob, carol});
};

TEST(Replies, AQuoteShowsTheOriginalAsItIsNowToEachReader) {
  Group g;
  Harness& h = g.h;
  const auto original = ack_of(h.post(g.a, g.group, "meet at 10"));
  const auto reply = ack_of(reply_to(h, g.b, g.group, 0, original.seq, "ok"));
  EXPECT_EQ(stored(h, g.group, reply.seq).reply_to, original.seq);
  EXPECT_EQ(stored(h, g.group, reply.seq).quote, Quote{}) << "a quote is never stored";
  const Message fresh = served(h, g.c, g.group, reply.seq);
  EXPECT_EQ(fresh.quote, (Quote{g.alice, "meet at 10", false, false, false}));
  // The live delivery carried the same quote.
  const auto live = h.delivered(g.c);
  ASSERT_FALSE(live.empty());
  EXPECT_EQ(live.back().message.quote, fresh.quote);

  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::EditMessage{0, g.group, original.seq, "meet at 11"})));
  EXPECT_EQ(served(h, g.c, g.group, reply.seq).quote,
            (Quote{g.alice, "meet at 11", true, false, false}));

  // Dave joins later: the original is outside his window, so his copy says unavailable.
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(g.a, client::AddMember{0, g.group, g.dave})));
  const auto late = ack_of(reply_to(h, g.c, g.group, 0, original.seq, "dave, see above"));
  EXPECT_EQ(served(h, g.d, g.group, late.seq).quote, (Quote{0, "", false, false, true}));
  EXPECT_EQ(served(h, g.b, g.group, late.seq).quote.text, "meet at 11");

  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::DeleteMessage{0, g.group, original.seq})));
  EXPECT_EQ(served(h, g.b, g.group, reply.seq).quote, (Quote{g.alice, "", true, true, false}));
}

// The class of the unavailable quote: whatever refers to a message outside the reader's
// windows reveals none of its text. An edit of it reaches a later member (it is a channel
// entry in their window) without the new text or mentions, live and in history.
TEST(Replies, AnEditOfAMessageBeforeTheReadersWindowComesWithoutItsText) {
  Group g;
  Harness& h = g.h;
  const auto before = ack_of(h.post(g.a, g.group, "before dave"));
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(g.a, client::AddMember{0, g.group, g.dave})));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::EditMessage{0, g.group, before.seq, "secret @carol"})));
  const auto live = h.delivered(g.d);
  ASSERT_FALSE(live.empty());
  const Message& edit = live.back().message;
  ASSERT_EQ(edit.kind, MessageKind::edited);
  EXPECT_EQ(edit.text, "");
  EXPECT_TRUE(edit.mentions.empty());
  EXPECT_EQ(served(h, g.d, g.group, edit.seq).text, "");
  EXPECT_EQ(served(h, g.c, g.group, edit.seq).text, "secret @carol") << "carol may read it";
}

// A reply deleted for everyone is a tombstone like any other: no reply_to, no quote.
TEST(Replies, ADeletedReplyQuotesNothing) {
  Group g;
  const auto original = ack_of(g.h.post(g.a, g.group, "meet at 10"));
  const auto reply = ack_of(reply_to(g.h, g.b, g.group, 0, original.seq, "ok"));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      g.h.group_op(g.b, client::DeleteMessage{0, g.group, reply.seq})));
  const Message tombstone = served(g.h, g.c, g.group, reply.seq);
  EXPECT_TRUE(tombstone.deleted);
  EXPECT_EQ(tombstone.reply_to, 0u);
  EXPECT_EQ(tombstone.quote, Quote{});
}

TEST(Replies, AQuoteCarriesAtMostTwoHundredCodePoints) {
  Group g;
  std::string long_text;
  for (int i = 0; i < 300; ++i)
    long_text += "\xC3\xA9";  // é: two bytes, one code point
  const auto original = ack_of(g.h.post(g.a, g.group, long_text));
  const auto reply = ack_of(reply_to(g.h, g.b, g.group, 0, original.seq, "wow"));
  EXPECT_EQ(served(g.h, g.c, g.group, reply.seq).quote.text, long_text.substr(0, 400));
}

TEST(Replies, EveryRefusalOfTheClassStoresNothing) {
  Group g;
  Harness& h = g.h;
  const auto text = ack_of(h.post(g.a, g.group, "hello"));
  const auto gone = ack_of(h.post(g.a, g.group, "oops"));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::DeleteMessage{0, g.group, gone.seq})));
  const auto direct = ack_of(h.send_to(g.a, g.bob, "1:1"));
  const std::string before = h.fingerprint();
  // Past the end, the group_created event, the `deleted` entry, another channel's seq.
  for (const Seq seq : {Seq{99}, Seq{1}, gone.seq + 1}) {
    EXPECT_EQ(error_code(reply_to(h, g.b, g.group, 0, seq, "x")), ErrorCode::unknown_message)
        << "seq " << seq;
  }
  EXPECT_EQ(error_code(reply_to(h, g.c, direct.channel, 0, 1, "x")), ErrorCode::not_a_member);
  EXPECT_EQ(error_code(reply_to(h, g.b, g.group, 0, gone.seq, "x")), ErrorCode::message_deleted);
  // By peer: a 1:1 chat that does not exist yet has nothing to reply to, and is not made.
  EXPECT_EQ(error_code(reply_to(h, g.c, 0, g.dave, text.seq, "x")), ErrorCode::unknown_message);
  EXPECT_EQ(h.fingerprint(), before);
  // By peer to an existing chat: fine.
  const auto by_peer = ack_of(reply_to(h, g.b, 0, g.alice, direct.seq, "yes"));
  EXPECT_EQ(by_peer.channel, direct.channel);
}

TEST(Mentions, MembersNamedAsAtNameAnyCaseNotTheSenderNorAddresses) {
  Group g;
  Harness& h = g.h;
  const auto sent = ack_of(
      h.post(g.a, g.group, "@Bob, @carol. ann@carol.org @dave @alice @nobody @ @carol again"));
  EXPECT_EQ(stored(h, g.group, sent.seq).mentions, (std::vector<UserId>{g.bob, g.carol}));
  // In a 1:1 chat nobody is mentioned.
  const auto direct = ack_of(h.send_to(g.a, g.bob, "@bob hi"));
  EXPECT_TRUE(stored(h, direct.channel, direct.seq).mentions.empty());
  // An edit's mentions replace the original's; a delete erases them with the text.
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::EditMessage{0, g.group, sent.seq, "just @carol"})));
  EXPECT_EQ(stored(h, g.group, sent.seq).mentions, (std::vector<UserId>{g.carol}));
  ASSERT_TRUE(std::holds_alternative<server::Ok>(
      h.group_op(g.a, client::DeleteMessage{0, g.group, sent.seq})));
  EXPECT_TRUE(stored(h, g.group, sent.seq).mentions.empty());
}

TEST(Mentions, AHostileTextCostsAtMostTheLookupLimit) {
  Group g;
  std::string text;
  for (int i = 0; i < 10'000; ++i)
    text += "@u" + std::to_string(i) + " ";
  text += "@bob";  // past the limit: not looked at
  const auto sent = ack_of(g.h.post(g.a, g.group, text));
  EXPECT_TRUE(g.h.read([&](Records& r) {
                   return r.message({g.group, sent.seq})->mentions;
                 })
                  .empty());
}

struct Away {
  EngineConfig config = [] {
    EngineConfig c;
    c.push_when = EngineConfig::PushWhen::offline;
    return c;
  }();
  Harness h{config};
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  bool friends = (h.befriend(alice, bob), true);  // no message request (rule 22)
  ConnectionId a = h.connect(h.device(alice));
  DeviceId phone = h.device(bob);
  DeviceId laptop = h.device(bob, "laptop");
  ConnectionId b = h.connect(phone);
  ChannelId group = h.create_group(a, "g", {bob});

  // Bob's phone registers a push token and drops its connection: he stays shown online
  // until the presence timeout, owed a push for what reaches him meanwhile.
  void drop_phone() {
    h.request(b, client::RegisterPushToken{0, "fcm", "tok"});
    h.disconnect(b);
  }
  // Bob is shown offline: the pushes that went out then.
  std::vector<PushIntent> shown_offline() {
    const std::size_t before = h.pushes().size();
    h.advance(config.presence_timeout_us + 2'000'000);
    h.tick();
    return {h.pushes().begin() + static_cast<long>(before), h.pushes().end()};
  }
  void go_away() {
    drop_phone();
    shown_offline();
  }
};

TEST(Mute, AMutedChatPushesOnlyMentionsAndStillCountsUnread) {
  Away w;
  Harness& h = w.h;
  const auto answer = std::get<server::ChannelMute>(mute(h, w.b, w.group, 0, true));
  EXPECT_TRUE(answer.forever);
  w.go_away();
  const std::size_t before = h.pushes().size();
  ack_of(h.post(w.a, w.group, "plain"));
  EXPECT_EQ(h.pushes().size(), before);
  h.advance(w.config.push_collapse_window_us + 1);
  ack_of(h.post(w.a, w.group, "@bob look"));
  ASSERT_EQ(h.pushes().size(), before + 1);
  EXPECT_EQ(h.pushes().back().preview, "@bob look");
  EXPECT_TRUE(h.pushes().back().mentions_you) << "the push says why a muted chat rang";
  const auto unread = h.read([&](Records& r) { return r.unread(w.bob, w.group); });
  EXPECT_EQ(unread, 2u);
}

TEST(Mute, AMentionOwedWhileShownOnlineIsNotReplacedByAPlainMessage) {
  Away w;
  Harness& h = w.h;
  mute(h, w.b, w.group, 0, true);
  w.drop_phone();
  ack_of(h.post(w.a, w.group, "@bob urgent"));
  ack_of(h.post(w.a, w.group, "plain after it"));
  const auto pushed = w.shown_offline();
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].preview, "@bob urgent");
}

TEST(Mute, ATimedMuteEndsByItselfAndSyncsToTheUsersOtherDevices) {
  Away w;
  Harness& h = w.h;
  const ConnectionId laptop = h.connect(w.laptop);
  h.clear(laptop);
  const auto answer = std::get<server::ChannelMute>(mute(h, w.b, w.group, 60'000'000));
  EXPECT_EQ(answer.muted_until, h.now() + 60'000'000);
  const auto& told = h.events(laptop);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(std::get<server::ChannelMute>(told[0]).request, 0u);
  EXPECT_EQ(std::get<server::ChannelMute>(told[0]).muted_until, answer.muted_until);
  const auto list = std::get<server::ChannelList>(h.group_op(laptop, client::ListChannels{0}));
  EXPECT_EQ(list.channels.at(0).muted_until, answer.muted_until);
  h.disconnect(laptop);
  w.go_away();
  h.advance(kMinute);  // the mute has ended
  const std::size_t before = h.pushes().size();
  ack_of(h.post(w.a, w.group, "after"));
  EXPECT_EQ(h.pushes().size(), before + 1);
}

// The engine's time at the offline, not at the append, decides: a timed mute that ended
// while a push was owed does not hold it back.
TEST(Mute, APushOwedAfterATimedMuteEndedIsSent) {
  Away w;
  Harness& h = w.h;
  const ChannelId direct = ack_of(h.send_to(w.a, w.bob, "hi")).channel;
  mute(h, w.b, direct, 10'000'000);
  h.advance(20'000'000);
  w.drop_phone();
  ack_of(h.send_to(w.a, w.bob, "owed"));
  const auto pushed = w.shown_offline();
  ASSERT_EQ(pushed.size(), 1u);
  EXPECT_EQ(pushed[0].preview, "owed");
}

// A mute ends with the membership: a removed member's list shows none, and one added back
// starts unmuted.
TEST(Mute, AMuteEndsWhenTheMemberLeaves) {
  Away w;
  Harness& h = w.h;
  mute(h, w.b, w.group, 0, true);
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(w.a, client::RemoveMember{0, w.group, w.bob})));
  auto list = std::get<server::ChannelList>(h.group_op(w.b, client::ListChannels{0}));
  EXPECT_FALSE(list.channels.at(0).muted_forever);
  ASSERT_TRUE(
      std::holds_alternative<server::Ok>(h.group_op(w.a, client::AddMember{0, w.group, w.bob})));
  list = std::get<server::ChannelList>(h.group_op(w.b, client::ListChannels{0}));
  EXPECT_FALSE(list.channels.at(0).muted_forever);
}

TEST(Mute, RefusalsStoreNothing) {
  Away w;
  Harness& h = w.h;
  const UserId carol = h.user("carol");
  const ConnectionId c = h.connect(h.device(carol));
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(mute(h, w.b, w.group, -1)), ErrorCode::bad_request);
  EXPECT_EQ(error_code(mute(h, w.b, w.group, limits::kMaxMuteUs + 1)), ErrorCode::bad_request);
  EXPECT_EQ(error_code(mute(h, w.b, w.group, 1, true)), ErrorCode::bad_request);
  EXPECT_EQ(error_code(mute(h, c, w.group, 0, true)), ErrorCode::not_a_member);
  EXPECT_EQ(error_code(mute(h, w.b, 999, 0, true)), ErrorCode::unknown_channel);
  EXPECT_EQ(h.fingerprint(), before);
}

}  // namespace
}  // namespace parley::testing
