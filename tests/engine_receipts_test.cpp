// Rule 19, receipts, as properties: unread counts follow read positions against a reference
// model over random sends, acks and reads; a store written when acks moved the counts gets
// its unread entries built at open. The step-by-step cases (who is told what, privacy,
// refusals) are pinned by tests/transcripts/receipts_read_positions.txt.
#include <map>
#include <random>

#include "engine/record_codec.hpp"
#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

server::Event read_reply(Harness& h, ConnectionId connection, RequestId id, ChannelId channel,
                         Seq seq) {
  h.request(connection, client::MarkRead{id, channel, seq});
  return h.reply(connection, id);
}

// Three users in a group and their 1:1 chats send, ack and read at random; after every step
// each user's unread total is the number of text messages from others past their read
// position in each channel, and every position told in a Receipt has read <= delivered.
TEST(Receipts, UnreadCountsFollowReadPositionsNotAcks) {
  Harness h;
  std::vector<UserId> users{h.user("alice"), h.user("bob"), h.user("carol")};
  // Everyone knows everyone: no chat here is a message request (rule 22).
  h.befriend(users[0], users[1]);
  h.befriend(users[0], users[2]);
  h.befriend(users[1], users[2]);
  std::vector<ConnectionId> connections;
  for (UserId user : users)
    connections.push_back(h.connect(h.device(user)));
  const ChannelId group = h.create_group(connections[0], "trip", {users[1], users[2]});
  std::map<std::pair<UserId, ChannelId>, Seq> read;                // the model's read positions
  std::map<ChannelId, std::vector<std::pair<Seq, UserId>>> texts;  // (seq, sender)
  std::map<ChannelId, Seq> newest;
  std::mt19937 random(7);
  RequestId request = 1000;
  for (int step = 0; step < 400; ++step) {
    const std::size_t who = random() % users.size();
    const int action = static_cast<int>(random() % 3);
    const std::size_t other = (who + 1 + random() % 2) % users.size();
    if (action == 0) {
      const auto event = random() % 2 == 0 ? h.post(connections[who], group, "to all")
                                           : h.send_to(connections[who], users[other], "to one");
      const auto ack = ack_of(event);
      texts[ack.channel].emplace_back(ack.seq, users[who]);
      newest[ack.channel] = ack.seq;
    } else if (action == 1) {
      h.ack_latest(connections[who]);
    } else if (!newest.empty()) {
      auto channel = newest.begin();
      std::advance(channel, random() % newest.size());
      const Seq seq = 1 + random() % channel->second;
      const auto reply = read_reply(h, connections[who], ++request, channel->first, seq);
      if (std::holds_alternative<server::Ok>(reply)) {
        Seq& position = read[{users[who], channel->first}];
        position = std::max(position, seq);
      }
    }
    for (UserId user : users) {
      std::uint64_t expected = 0;
      for (const auto& [channel, sent] : texts) {
        for (const auto& [seq, sender] : sent) {
          const bool member =
              h.read([&](Records& r) { return r.member(channel, user).has_value(); });
          if (member && sender != user && seq > read[{user, channel}]) ++expected;
        }
      }
      ASSERT_EQ(h.read([&](Records& r) { return r.unread(user, 0); }), expected)
          << "user " << user << " at step " << step;
    }
  }
  for (ConnectionId connection : connections) {
    for (const auto& event : h.events(connection)) {
      if (const auto* receipt = std::get_if<server::Receipt>(&event)) {
        EXPECT_LE(receipt->entry.read_seq, receipt->entry.delivered_seq);
      }
    }
  }
}

// A store from before rule 19 has no unread_entries: its counts were moved by acks, so the
// messages still counted are those past each user's acked position. Opening it builds
// their keys once, and a MarkRead then takes exactly them off.
TEST(Receipts, AStoreFromBeforeReadPositionsGetsItsUnreadEntriesBuilt) {
  Harness h;
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  h.befriend(alice, bob);
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId b = h.connect(h.device(bob));
  ChannelId channel = 0;
  for (const char* text : {"one", "two", "three"})
    channel = ack_of(h.send_to(a, bob, text)).channel;
  h.request(b, client::Ack{1});  // the old layout: this ack took message 1 off the count
  Store& store = h.store();
  store.begin();
  std::vector<std::string> keys;
  store.scan(Table::unread_entries, "", "", false, [&](std::string_view key, std::string_view) {
    keys.emplace_back(key);
    return true;
  });
  ASSERT_EQ(keys.size(), 3u);
  for (const auto& key : keys)
    store.erase(Table::unread_entries, key);
  store.erase(Table::meta, "unread_entries_index");
  Records old(store);
  old.add_unread(bob, channel, -1);
  old.add_unread(bob, 0, -1);
  store.commit();

  store.begin();
  Records reopened(store);
  reopened.ensure_format();
  store.commit();

  ASSERT_TRUE(std::holds_alternative<server::Ok>(read_reply(h, b, 900, channel, 2)));
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(bob, 0); }), 1u);
  ASSERT_TRUE(std::holds_alternative<server::Ok>(read_reply(h, b, 901, channel, 3)));
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(bob, channel); }), 0u);
  EXPECT_EQ(h.read([&](Records& r) { return r.unread(bob, 0); }), 0u);
}

}  // namespace
}  // namespace parley::testing
