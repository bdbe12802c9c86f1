// Rule 7, multi-device sync by inbox cursor, as properties: a thousand-message catch-up,
// randomized devices against a reference model, and the byte bounds on batches and on what
// is in flight. The rule's step-by-step cases (welcome and cursor, the window, acks,
// reconnects, replaced connections, logout) are pinned by tests/transcripts/sync_*.txt.
#include <algorithm>

#include "tests/harness.hpp"

namespace parley::testing {
namespace {

// Checks that `entries` are exactly inbox seqs first..last, each once, in order.
void expect_exact_run(const std::vector<InboxEntry>& entries, InboxSeq first, InboxSeq last) {
  ASSERT_EQ(entries.size(), last - first + 1);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].inbox_seq, first + i) << "at position " << i;
  }
}

TEST(Sync, DeviceThatMissedAThousandMessagesCatchesUpExactly) {
  EngineConfig config;
  config.delivery_batch = 64;
  config.delivery_window = 256;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId bobs_phone = h.device(bob);
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId first = h.connect(bobs_phone);
  ack_of(h.send_to(a, bob, "seen before going offline"));
  h.ack_latest(first);
  h.disconnect(first);

  for (int i = 0; i < 1000; ++i)
    ack_of(h.send_to(a, bob, "missed " + std::to_string(i)));

  const ConnectionId again = h.connect(bobs_phone, 1);
  // Before any ack, the node sends at most one window, in bounded batches.
  const auto initial = h.delivered(again);
  EXPECT_EQ(initial.size(), config.delivery_window);
  for (const auto& event : h.events(again)) {
    if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      EXPECT_LE(deliver->entries.size(), config.delivery_batch);
    }
  }
  h.drain(again);
  const auto all = h.delivered(again);
  expect_exact_run(all, 2, 1001);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].message.text, "missed " + std::to_string(i));
  }
  EXPECT_EQ(h.read([&](Records& r) { return r.device_cursor(bobs_phone); }), 1001u);
}

// A reference-model check: random sends, group changes, disconnects and reconnects; in the
// end every device holds exactly its user's inbox, in order, each entry once, and each
// channel's messages appear in channel order.
TEST(Sync, RandomizedDevicesConvergeToTheirInboxes) {
  EngineConfig config;
  config.delivery_batch = 3;
  config.delivery_window = 7;
  Harness h(config);
  constexpr int kUsers = 5;
  std::vector<UserId> users;
  std::vector<DeviceId> devices;                // two per user
  std::vector<InboxSeq> stored(kUsers * 2, 0);  // what each device has durably
  std::vector<ConnectionId> live(kUsers * 2, 0);
  for (int u = 0; u < kUsers; ++u)
    users.push_back(h.user("u" + std::to_string(u)));
  for (int d = 0; d < kUsers * 2; ++d)
    devices.push_back(h.device(users[d / 2]));
  std::vector<std::vector<InboxEntry>> received(kUsers * 2);

  std::uint64_t state = 0x9e3779b97f4a7c15ull;  // splitmix64: a fixed, portable sequence
  const auto next = [&](std::uint64_t bound) {
    state += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (z ^ (z >> 31)) % bound;
  };
  const auto collect = [&](int d) {
    if (live[d] == 0) return;
    for (const auto& entry : h.delivered(live[d])) {
      if (entry.inbox_seq > stored[d]) {
        EXPECT_EQ(entry.inbox_seq, stored[d] + 1) << "gap for device " << d;
        received[d].push_back(entry);
        stored[d] = entry.inbox_seq;
      }
    }
  };
  ChannelId group = 0;
  for (int step = 0; step < 3000; ++step) {
    const int d = static_cast<int>(next(kUsers * 2));
    switch (next(6)) {
      case 0:
        if (live[d] != 0) {
          collect(d);
          h.disconnect(live[d]);
          live[d] = 0;
        } else {
          live[d] = h.connect(devices[d], stored[d]);
        }
        break;
      case 1:
        if (live[d] != 0) {
          collect(d);
          if (stored[d] > 0) h.request(live[d], client::Ack{stored[d]});
        }
        break;
      case 2:
        if (live[d] != 0 && group == 0) group = h.create_group(live[d], "g", {users[next(kUsers)]});
        break;
      case 3:
        if (live[d] != 0 && group != 0) {
          (void)h.group_op(live[d], client::AddMember{0, group, users[next(kUsers)]});
          (void)h.group_op(live[d], client::RemoveMember{0, group, users[next(kUsers)]});
        }
        break;
      default:
        if (live[d] != 0) {
          if (group != 0 && next(2) == 0) {
            (void)h.post(live[d], group, "g" + std::to_string(step));
          } else {
            (void)h.send_to(live[d], users[next(kUsers)], "d" + std::to_string(step));
          }
        }
    }
  }
  for (int d = 0; d < kUsers * 2; ++d) {
    if (live[d] == 0) live[d] = h.connect(devices[d], stored[d]);
    while (true) {
      collect(d);
      const InboxSeq before = stored[d];
      h.request(live[d], client::Ack{stored[d]});
      collect(d);
      if (stored[d] == before) break;
    }
    const UserId user = users[d / 2];
    const auto inbox = h.read([&](Records& r) { return r.inbox_after(user, 0, 1'000'000); });
    ASSERT_EQ(received[d].size(), inbox.size()) << "device " << d;
    for (std::size_t i = 0; i < inbox.size(); ++i) {
      EXPECT_EQ(received[d][i].inbox_seq, inbox[i].inbox_seq);
      EXPECT_EQ((MessageId{received[d][i].message.channel, received[d][i].message.seq}),
                inbox[i].message);
    }
    // Per channel, the user's inbox is in channel order with no duplicate.
    std::map<ChannelId, Seq> last_seq;
    for (const auto& entry : received[d]) {
      auto& last = last_seq[entry.message.channel];
      EXPECT_GT(entry.message.seq, last) << "channel " << entry.message.channel;
      last = entry.message.seq;
    }
  }
  EXPECT_GT(h.read([&](Records& r) { return r.inbox_head(users[0]); }), 100u);
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

TEST(Sync, DeliverBatchesStopGrowingPastTheirByteBudget) {
  EngineConfig config;
  config.delivery_batch_bytes = 250'000;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const DeviceId bobs = h.device(bob);
  const ConnectionId a = h.connect(h.device(alice));
  for (int i = 0; i < 10; ++i)
    ack_of(h.send_to(a, bob, std::string(99'999, 'x')));
  const ConnectionId b = h.connect(bobs);
  h.drain(b);
  std::size_t batches = 0;
  for (const auto& event : h.events(b)) {
    if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      ++batches;
      EXPECT_LE(deliver->entries.size(), 3u);  // 3 x 100 kB passes 250 kB
    }
  }
  EXPECT_GE(batches, 4u);
  expect_exact_run(h.delivered(b), 1, 10);
}

}  // namespace
}  // namespace parley::testing

namespace parley::testing {
namespace {

TEST(Sync, BytesInFlightAreBoundedUntilAcked) {
  EngineConfig config;
  config.delivery_window_bytes = 250'000;
  Harness h(config);
  const UserId alice = h.user("alice");
  const UserId bob = h.user("bob");
  const ConnectionId a = h.connect(h.device(alice));
  const ConnectionId b = h.connect(h.device(bob));
  for (int i = 0; i < 10; ++i)
    ack_of(h.send_to(a, bob, std::string(99'999, 'y')));
  // A silent device holds at most the budget plus the one entry that crosses it.
  EXPECT_EQ(h.delivered(b).size(), 3u);
  h.drain(b);
  expect_exact_run(h.delivered(b), 1, 10);
}

}  // namespace
}  // namespace parley::testing
