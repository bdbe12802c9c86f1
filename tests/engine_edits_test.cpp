// Rule 20, edits and deletes: what they store and erase, who may, and every refusal of the
// class (each storing nothing). The effects step by step are pinned by
// tests/transcripts/edits_and_deletes.txt.
#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

constexpr TimeUs kMinute = 60'000'000;

server::Event edit(Harness& h, ConnectionId c, ChannelId channel, Seq seq, std::string text) {
  return h.group_op(c, client::EditMessage{0, channel, seq, std::move(text)});
}
server::Event remove(Harness& h, ConnectionId c, ChannelId channel, Seq seq) {
  return h.group_op(c, client::DeleteMessage{0, channel, seq});
}
bool ok(const server::Event& event) {
  EXPECT_TRUE(std::holds_alternative<server::Ok>(event)) << describe(event);
  return std::holds_alternative<server::Ok>(event);
}
MessageRecord message(Harness& h, ChannelId channel, Seq seq) {
  return h.read([&](Records& r) { return r.message({channel, seq}).value(); });
}
Seq last_seq(Harness& h, ChannelId channel) {
  return h.read([&](Records& r) { return r.channel(channel)->last_seq; });
}
// Whether any stored message, in any table row of `messages`, still holds `text`.
bool stored_anywhere(Harness& h, const std::string& text) {
  Store& store = h.store();
  store.begin();
  bool found = false;
  store.scan(Table::messages, "", "", false, [&](std::string_view, std::string_view value) {
    found = found || value.find(text) != std::string_view::npos;
    return true;
  });
  store.abort();
  return found;
}

struct Chat {
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  ConnectionId a = h.connect(h.device(alice));
  ConnectionId b = h.connect(h.device(bob));
};

TEST(Edits, AnEditReplacesTheTextForEveryoneAndOnlyTheNewestVersionIsKept) {
  Chat chat;
  Harness& h = chat.h;
  const auto sent = ack_of(h.send_to(chat.a, chat.bob, "see you at 10"));
  const std::uint64_t unread = h.read([&](Records& r) { return r.unread(chat.bob, 0); });
  ASSERT_TRUE(ok(edit(h, chat.a, sent.channel, sent.seq, "see you at 10:30")));
  ASSERT_TRUE(ok(edit(h, chat.a, sent.channel, sent.seq, "see you at 11")));

  // Two entries in the channel's own sequence, in every member's inbox, in order.
  const auto entries = h.delivered(chat.b);
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].message.kind, MessageKind::edited);
  EXPECT_EQ(entries[1].message.target, sent.seq);
  EXPECT_EQ(entries[2].message.text, "see you at 11");
  EXPECT_EQ(h.delivered(chat.a).size(), 3u);
  // The original holds the newest text; the superseded edit kept none and points ahead.
  const MessageRecord original = message(h, sent.channel, sent.seq);
  EXPECT_EQ(original.text, "see you at 11");
  EXPECT_EQ(original.edited_seq, sent.seq + 2);
  const MessageRecord first = message(h, sent.channel, sent.seq + 1);
  EXPECT_EQ(first.text, "");
  EXPECT_EQ(first.edited_seq, sent.seq + 2);
  EXPECT_FALSE(stored_anywhere(h, "10:30"));
  // Edits are not unread, and a retry (the same text) stores nothing.
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(chat.bob, 0); }), unread);
  ASSERT_TRUE(ok(edit(h, chat.a, sent.channel, sent.seq, "see you at 11")));
  EXPECT_EQ(last_seq(h, sent.channel), sent.seq + 2);
}

TEST(Edits, ADeleteErasesTheTextOfTheMessageAndOfItsEditsFromTheStore) {
  Chat chat;
  Harness& h = chat.h;
  const auto sent = ack_of(h.send_to(chat.a, chat.bob, "my password is hunter2"));
  ASSERT_TRUE(ok(edit(h, chat.a, sent.channel, sent.seq, "oops: hunter2 was it")));
  ASSERT_TRUE(ok(remove(h, chat.a, sent.channel, sent.seq)));
  EXPECT_FALSE(stored_anywhere(h, "hunter2"));
  const MessageRecord tombstone = message(h, sent.channel, sent.seq);
  EXPECT_TRUE(tombstone.deleted);
  EXPECT_EQ(tombstone.text, "");
  EXPECT_TRUE(message(h, sent.channel, sent.seq + 1).deleted);
  const MessageRecord entry = message(h, sent.channel, sent.seq + 2);
  EXPECT_EQ(entry.kind, MessageKind::deleted);
  EXPECT_EQ(entry.target, sent.seq);

  // History: the tombstone and the entries, no text anywhere.
  h.request(chat.b, client::History{77, sent.channel, 0, 50});
  const auto page = std::get<server::HistoryPage>(h.reply(chat.b, 77));
  ASSERT_EQ(page.messages.size(), 3u);
  for (const auto& m : page.messages)
    EXPECT_EQ(m.text, "") << describe(m);
  // A retried delete stores nothing; an edit of a deleted message is refused.
  ASSERT_TRUE(ok(remove(h, chat.a, sent.channel, sent.seq)));
  EXPECT_EQ(last_seq(h, sent.channel), sent.seq + 2);
  EXPECT_EQ(error_code(edit(h, chat.a, sent.channel, sent.seq, "back")),
            ErrorCode::message_deleted);
}

TEST(Edits, EveryRefusalOfTheClassStoresNothing) {
  Chat chat;
  Harness& h = chat.h;
  const UserId carol = h.user("carol");
  const ConnectionId c = h.connect(h.device(carol));
  const auto mine = ack_of(h.send_to(chat.a, chat.bob, "hello"));
  const ChannelId direct = mine.channel;
  const ChannelId group = h.create_group(chat.a, "g", {chat.bob});  // seq 1: group_created
  const auto bobs = ack_of(h.post(chat.b, group, "bob's"));         // seq 2
  const Seq direct_last = last_seq(h, direct);
  const Seq group_last = last_seq(h, group);

  const auto refused = [&](ConnectionId who, const client::Request& request, ErrorCode code) {
    EXPECT_EQ(error_code(h.group_op(who, request)), code);
  };
  for (const bool del : {false, true}) {
    const auto op = [&](ChannelId channel, Seq seq) -> client::Request {
      if (del) return client::DeleteMessage{0, channel, seq};
      return client::EditMessage{0, channel, seq, "new"};
    };
    refused(chat.a, op(direct, 0), ErrorCode::unknown_message);
    refused(chat.a, op(direct, direct_last + 1), ErrorCode::unknown_message);
    refused(chat.a, op(group, 1), ErrorCode::unknown_message);  // a membership event
    refused(chat.a, op(999, 1), ErrorCode::unknown_channel);
    refused(c, op(direct, mine.seq), ErrorCode::not_a_member);
    refused(chat.b, op(direct, mine.seq), ErrorCode::not_your_message);
  }
  // An edit of another's message even by the group's admin; text rules as for a send.
  refused(chat.a, client::EditMessage{0, group, bobs.seq, "x"}, ErrorCode::not_your_message);
  refused(chat.a, client::EditMessage{0, direct, mine.seq, ""}, ErrorCode::message_empty);
  refused(chat.a, client::EditMessage{0, direct, mine.seq, "\xC0\xAF"}, ErrorCode::invalid_utf8);
  // A message posted while carol was out of the group is not hers to see, let alone change.
  ASSERT_TRUE(ok(h.group_op(chat.a, client::AddMember{0, group, carol})));
  refused(c, client::DeleteMessage{0, group, bobs.seq}, ErrorCode::unknown_message);
  // A block refuses an edit (it is a post) but not a delete.
  ASSERT_TRUE(
      ok(h.group_op(chat.b, client::ChangeContact{0, client::ContactAction::block, chat.alice})));
  refused(chat.a, client::EditMessage{0, direct, mine.seq, "x"}, ErrorCode::blocked);
  EXPECT_EQ(last_seq(h, direct), direct_last);
  EXPECT_EQ(last_seq(h, group), group_last + 1);  // only carol's member_added
  ASSERT_TRUE(ok(remove(h, chat.a, direct, mine.seq)));
}

TEST(Edits, WindowsCloseForTheSenderButNotForTheGroupAdmin) {
  Chat chat;
  Harness& h = chat.h;
  const auto mine = ack_of(h.send_to(chat.a, chat.bob, "hello"));
  const ChannelId group = h.create_group(chat.a, "g", {chat.bob});
  const auto bobs = ack_of(h.post(chat.b, group, "bob's"));
  const auto bobs_too = ack_of(h.post(chat.b, group, "bob's too"));
  h.advance(15 * kMinute - 10'000);  // the next request lands 1 ms later: still inside
  ASSERT_TRUE(ok(edit(h, chat.a, mine.channel, mine.seq, "hello!")));
  h.advance(kMinute);
  EXPECT_EQ(error_code(edit(h, chat.a, mine.channel, mine.seq, "hello?")), ErrorCode::too_late);
  h.advance(48 * 60 * kMinute);
  EXPECT_EQ(error_code(remove(h, chat.a, mine.channel, mine.seq)), ErrorCode::too_late);
  EXPECT_EQ(error_code(remove(h, chat.b, group, bobs.seq)), ErrorCode::too_late);
  // The admin deletes any member's message, at any time.
  ASSERT_TRUE(ok(remove(h, chat.a, group, bobs_too.seq)));
  EXPECT_TRUE(message(h, group, bobs_too.seq).deleted);
  EXPECT_EQ(message(h, group, bobs.seq).text, "bob's");
}

// The too_late message names the configured window in words, whatever its size.
TEST(Edits, RefusalsNameTheWindowInTheLargestWholeUnit) {
  EXPECT_EQ(engine::describe_duration(48 * 60 * kMinute), "48 hours");
  EXPECT_EQ(engine::describe_duration(15 * kMinute), "15 minutes");
  EXPECT_EQ(engine::describe_duration(kMinute), "1 minute");
  EXPECT_EQ(engine::describe_duration(90'000'000), "90 seconds");
  EXPECT_EQ(engine::describe_duration(250'000), "250 ms");
  EXPECT_EQ(engine::describe_duration(7), "7 µs");
}

TEST(Edits, ThePushAUserWasOwedForADeletedMessageIsNotSent) {
  EngineConfig config;
  config.push_when = EngineConfig::PushWhen::offline;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId a = h.connect(h.device(alice));
  const DeviceId phone = h.device(bob);
  const ConnectionId b = h.connect(phone);
  h.request(b, client::RegisterPushToken{5, "fcm", "token"});
  const ChannelId group = h.create_group(a, "g", {bob});
  h.disconnect(b);  // shown online until the timeout, with no device connected
  const auto sent = ack_of(h.send_to(a, bob, "secret"));
  const auto control = ack_of(h.post(a, group, "still here"));
  ASSERT_TRUE(ok(remove(h, a, sent.channel, sent.seq)));
  const std::size_t before = h.pushes().size();
  h.advance(config.presence_timeout_us + 2'000'000);
  h.tick();  // bob goes offline: the pushes he was owed go out now
  ASSERT_EQ(h.pushes().size(), before + 1);
  EXPECT_EQ(h.pushes().back().channel, control.channel);
  EXPECT_EQ(h.pushes().back().preview, "still here");
}

}  // namespace
}  // namespace parley::testing
