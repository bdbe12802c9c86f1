// The invariant checker must be able to fail: each test plants one defect in an otherwise
// clean history and asserts that exactly that invariant is reported. (Each invariant is a
// unit in sim/invariants/, numbered as in docs/invariants.md.)
#include "sim/checker.hpp"

#include <gtest/gtest.h>

namespace parley::sim {
namespace {

using engine::MessageKind;
using engine::MessageRecord;

constexpr TimeUs kSecond = 1'000'000;

MessageRecord message(ChannelId channel, Seq seq, MessageKind kind, UserId sender,
                      std::string client_msg_id, std::vector<UserId> users = {}) {
  MessageRecord m;
  m.channel = channel;
  m.seq = seq;
  m.kind = kind;
  m.sender = sender;
  m.client_msg_id = std::move(client_msg_id);
  m.users = std::move(users);
  return m;
}

Record rec(RecordKind kind, TimeUs node_time, UserId user, DeviceId device = 0) {
  Record r;
  r.kind = kind;
  r.at = node_time;
  r.node_time = node_time;
  r.user = user;
  r.device = device;
  return r;
}

Record delivered(UserId user, DeviceId device, InboxSeq inbox, ChannelId channel, Seq seq) {
  Record r = rec(RecordKind::delivered, 0, user, device);
  r.inbox_seq = inbox;
  r.channel = channel;
  r.seq = seq;
  return r;
}

// Users 1 and 2 (devices 1 and 2) share 1:1 channel 1 (two texts) and group channel 2, in
// which user 2 was removed at seq 2 before user 1 posted seq 3.
class CheckerTest : public ::testing::Test {
 protected:
  CheckerTest() {
    ChannelLog direct;
    direct.kind = engine::ChannelKind::direct;
    direct.direct_members = {1, 2};
    direct.messages = {message(1, 1, MessageKind::text, 1, "a1"),
                       message(1, 2, MessageKind::text, 2, "b1")};
    ChannelLog group;
    group.kind = engine::ChannelKind::group;
    group.messages = {message(2, 1, MessageKind::group_created, 1, "", {1, 2}),
                      message(2, 2, MessageKind::member_removed, 1, "", {2}),
                      message(2, 3, MessageKind::text, 1, "a2")};
    contents.channels = {{1, direct}, {2, group}};
    config.presence_timeout = 30 * kSecond;
    config.presence_slack = kSecond;
    config.push_collapse = 10 * kSecond;
    config.contacts = {{}, {2}, {1}};  // alice and bob are contacts: no message requests
  }

  // Everything right: both users online throughout, every send acked, every device synced.
  History clean() const {
    History h;
    h.push_back(rec(RecordKind::life, 0, 1, 1));
    h.push_back([] {
      auto r = rec(RecordKind::presence, 0, 1);
      r.flag = true;
      return r;
    }());
    h.push_back(rec(RecordKind::life, 0, 2, 2));
    h.push_back([] {
      auto r = rec(RecordKind::presence, 0, 2);
      r.flag = true;
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::sent, 0, 1, 1);
      r.text = "a1";
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::append, kSecond, 1);
      r.channel = 1;
      r.seq = 1;
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::acked, kSecond, 1, 1);
      r.text = "a1";
      r.channel = 1;
      r.seq = 1;
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::sent, 0, 2, 2);
      r.text = "b1";
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::acked, kSecond, 2, 2);
      r.text = "b1";
      r.channel = 1;
      r.seq = 2;
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::sent, 0, 1, 1);
      r.text = "a2";
      return r;
    }());
    h.push_back([] {
      auto r = rec(RecordKind::acked, kSecond, 1, 1);
      r.text = "a2";
      r.channel = 2;
      r.seq = 3;
      return r;
    }());
    // Device 1: inbox 1 = 1/1, 2 = 1/2, 3 = 2/1, 4 = 2/2, 5 = 2/3.
    h.push_back(delivered(1, 1, 1, 1, 1));
    h.push_back(delivered(1, 1, 2, 1, 2));
    h.push_back(delivered(1, 1, 3, 2, 1));
    h.push_back(delivered(1, 1, 4, 2, 2));
    h.push_back(delivered(1, 1, 5, 2, 3));
    // Device 2: 1/1, 1/2, 2/1, and its own removal 2/2; never 2/3.
    h.push_back(delivered(2, 2, 1, 1, 1));
    h.push_back(delivered(2, 2, 2, 1, 2));
    h.push_back(delivered(2, 2, 3, 2, 1));
    h.push_back(delivered(2, 2, 4, 2, 2));
    // Both keep heartbeating until 20 s.
    for (TimeUs t = 5 * kSecond; t <= 20 * kSecond; t += 5 * kSecond) {
      h.push_back(rec(RecordKind::life, t, 1, 1));
      h.push_back(rec(RecordKind::life, t, 2, 2));
    }
    return h;
  }

  CheckResult check(const History& history) const {
    Checker checker(config, {contents}, {{1, 1}, {2, 2}}, {{1, 0}, {2, 0}});
    return checker.check(history);
  }

  static bool reports(const CheckResult& result, int invariant) {
    for (const auto& v : result.violations) {
      if (v.invariant == invariant) return true;
    }
    return false;
  }

  static std::string all(const CheckResult& result) {
    std::string text;
    for (const auto& v : result.violations)
      text += std::to_string(v.invariant) + ": " + v.message + "\n";
    return text;
  }

  NodeContents contents;
  CheckConfig config;
};

TEST_F(CheckerTest, CleanHistoryPasses) {
  const auto result = check(clean());
  EXPECT_TRUE(result.violations.empty()) << all(result);
}

// The report's order is the one `parley sim` prints the first five of: pass by pass
// (sim/invariants/list.cpp), each pass in history order, whatever the invariant numbers.
TEST_F(CheckerTest, ViolationsAreReportedPassByPassInHistoryOrder) {
  History h = clean();
  std::swap(h[11], h[12]);  // device 1: inbox 2 before inbox 1 (a gap, then a step back)
  Record ack = rec(RecordKind::acked, kSecond, 1, 1);
  ack.text = "a9";
  ack.channel = 1;
  ack.seq = 7;  // acked, never stored: a later record, but the first pass's
  h.push_back(ack);
  h.push_back(delivered(2, 2, 5, 2, 3));  // after user 2's removal
  const auto result = check(h);
  std::vector<int> order;
  for (const auto& v : result.violations)
    order.push_back(v.invariant);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 2, 2, 3})) << all(result);
}

TEST_F(CheckerTest, LostAckIsReported) {
  History h = clean();
  Record ack = rec(RecordKind::acked, kSecond, 1, 1);
  ack.text = "a9";
  ack.channel = 1;
  ack.seq = 7;  // acked, but never stored
  h.push_back(ack);
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 1)) << all(result);
}

TEST_F(CheckerTest, DuplicateDeliveryIsReported) {
  History h = clean();
  h.push_back(delivered(1, 1, 5, 2, 3));
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 2)) << all(result);
}

TEST_F(CheckerTest, OutOfOrderDeliveryIsReported) {
  History h = clean();
  std::swap(h[11], h[12]);  // device 1 gets inbox 2 before inbox 1
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 2)) << all(result);
}

TEST_F(CheckerTest, MissedMessageAfterSettlingIsReported) {
  History h = clean();
  h.erase(h.begin() + 15);  // device 1 never gets 2/3
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 2)) << all(result);
}

TEST_F(CheckerTest, DeliveryToARemovedMemberIsReported) {
  History h = clean();
  h.push_back(delivered(2, 2, 5, 2, 3));
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 3)) << all(result);
}

// A history page (`read` records) is held to the same membership windows as the inbox, and
// may show only stored messages.
TEST_F(CheckerTest, HistoryReadOutsideTheMembershipWindowIsReported) {
  History h = clean();
  Record read = rec(RecordKind::read, 0, 2, 2);
  read.channel = 2;
  read.seq = 2;  // user 2's own removal: readable
  h.push_back(read);
  EXPECT_TRUE(check(h).violations.empty()) << all(check(h));
  read.seq = 3;  // posted after the removal
  h.push_back(read);
  auto result = check(h);
  EXPECT_TRUE(reports(result, 3)) << all(result);
  h.back().seq = 9;  // never stored
  result = check(h);
  EXPECT_TRUE(reports(result, 1)) << all(result);
}

TEST_F(CheckerTest, NeverAckedSendIsReported) {
  History h = clean();
  Record sent = rec(RecordKind::sent, 0, 2, 2);
  sent.text = "b2";
  h.push_back(sent);
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 1)) << all(result);
}

TEST_F(CheckerTest, MessageStoredTwiceIsReported) {
  contents.channels[1].messages.push_back(message(1, 3, MessageKind::text, 1, "a1"));
  const auto result = check(clean());
  EXPECT_TRUE(reports(result, 2)) << all(result);
}

TEST_F(CheckerTest, PresenceFlapIsReported) {
  History h = clean();
  Record offline = rec(RecordKind::presence, 21 * kSecond, 2);  // seen at 20 s
  offline.flag = false;
  h.push_back(offline);
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 4)) << all(result);
  EXPECT_EQ(result.presence_flaps, 1u);
}

TEST_F(CheckerTest, SilentUserNotShownOfflineIsReported) {
  History h = clean();
  // User 2 falls silent after 20 s; user 1 keeps heartbeating to 60 s; nobody shows user 2
  // offline at 51 s.
  for (TimeUs t = 25 * kSecond; t <= 60 * kSecond; t += 5 * kSecond) {
    h.push_back(rec(RecordKind::life, t, 1, 1));
  }
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 4)) << all(result);
}

// The violation cites user 2's own last sign of life (the life record at 20 s), not the
// record of user 1's that brought the deadline up.
TEST_F(CheckerTest, SilentUserViolationCitesTheUsersLastSignOfLife) {
  History h = clean();
  for (TimeUs t = 25 * kSecond; t <= 60 * kSecond; t += 5 * kSecond) {
    h.push_back(rec(RecordKind::life, t, 1, 1));
  }
  const auto result = check(h);
  ASSERT_TRUE(reports(result, 4)) << all(result);
  const Violation& v = result.violations.front();
  ASSERT_LT(v.record, h.size());
  EXPECT_EQ(h[v.record].kind, RecordKind::life);
  EXPECT_EQ(h[v.record].user, 2u);
  EXPECT_EQ(h[v.record].node_time, 20 * kSecond);
  EXPECT_NE(v.message.find("user 2's last sign of life"), std::string::npos) << v.message;
}

// A refusal is final: a refused send found in the store is a violation of invariant 1...
// The clean history plus user 1's send "a3", refused with `code`.
History with_refused_send(History h, const std::string& code) {
  Record sent = rec(RecordKind::sent, 0, 1, 1);
  sent.text = "a3";
  h.push_back(sent);
  Record refused = rec(RecordKind::refused, kSecond, 1, 1);
  refused.text = "a3";
  refused.detail = code;
  h.push_back(refused);
  return h;
}

TEST_F(CheckerTest, RefusedSendInTheStoreIsReported) {
  const History h = with_refused_send(clean(), "message_too_long");
  EXPECT_TRUE(check(h).violations.empty()) << all(check(h));
  contents.channels[1].messages.push_back(message(1, 3, MessageKind::text, 1, "a3"));
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 1)) << all(result);
}

// ... except a refusal that means "not now" (a gateway's not_leader during a failover), after
// which the app retries the same send.
TEST_F(CheckerTest, NotLeaderRefusalMayStillLand) {
  const History h = with_refused_send(clean(), "not_leader");
  contents.channels[1].messages.push_back(message(1, 3, MessageKind::text, 1, "a3"));
  const auto result = check(h);
  EXPECT_FALSE(reports(result, 1)) << all(result);
}

TEST_F(CheckerTest, OfflineOnTimeIsFine) {
  History h = clean();
  Record offline = rec(RecordKind::presence, 50 * kSecond, 2);  // seen at 20 s + 30 s
  offline.flag = false;
  h.push_back(offline);
  for (TimeUs t = 25 * kSecond; t <= 60 * kSecond; t += 5 * kSecond) {
    h.push_back(rec(RecordKind::life, t, 1, 1));
  }
  const auto result = check(h);
  EXPECT_TRUE(result.violations.empty()) << all(result);
}

// User 2 registered a token and went offline on time; user 1 then writes to them.
History offline_user_with_token(const History& base) {
  History h = base;
  for (TimeUs t = 25 * kSecond; t <= 50 * kSecond; t += 5 * kSecond) {
    h.push_back(rec(RecordKind::life, t, 1, 1));  // user 1 stays online
  }
  Record token = rec(RecordKind::token, 21 * kSecond, 2, 2);
  token.flag = true;
  h.push_back(token);
  Record offline = rec(RecordKind::presence, 50 * kSecond, 2);
  offline.flag = false;
  h.push_back(offline);
  Record append = rec(RecordKind::append, 55 * kSecond, 1);
  append.channel = 1;
  append.seq = 1;
  h.push_back(append);
  return h;
}

TEST_F(CheckerTest, MissingPushIsReported) {
  const auto result = check(offline_user_with_token(clean()));
  EXPECT_TRUE(reports(result, 5)) << all(result);
}

TEST_F(CheckerTest, PushToOfflineUserIsFineAndToOnlineUserIsReported) {
  History h = offline_user_with_token(clean());
  Record push = rec(RecordKind::push, 55 * kSecond, 2, 2);
  push.channel = 1;
  push.seq = 1;
  h.push_back(push);
  EXPECT_TRUE(check(h).violations.empty()) << all(check(h));

  History online = clean();
  Record append = rec(RecordKind::append, 6 * kSecond, 1);
  append.channel = 1;
  append.seq = 1;
  online.push_back(append);
  online.push_back(push);  // user 2 is online at 6 s
  const auto result = check(online);
  EXPECT_TRUE(reports(result, 5)) << all(result);
}

// Issue 14, section 5: user 2 closes the app (no connection left) while still shown online,
// and user 1 writes 1/1 to them; user 2 is shown offline on time without reading it.
History closed_app(const History& base, bool deferred_push) {
  History h;
  for (const Record& r : base) {
    if (r.kind == RecordKind::append || r.kind == RecordKind::delivered) continue;
    h.push_back(r);
  }
  Record token = rec(RecordKind::token, 0, 2, 2);
  token.flag = true;
  h.push_back(token);
  Record gone = rec(RecordKind::connection, 20 * kSecond, 2);
  gone.flag = false;
  h.push_back(gone);
  Record append = rec(RecordKind::append, 22 * kSecond, 1);
  append.channel = 1;
  append.seq = 1;
  h.push_back(append);  // user 2 is online (shown so until 50 s): no push now
  for (TimeUs t = 25 * kSecond; t <= 50 * kSecond; t += 5 * kSecond) {
    h.push_back(rec(RecordKind::life, t, 1, 1));
  }
  Record offline = rec(RecordKind::presence, 50 * kSecond, 2);
  offline.flag = false;
  h.push_back(offline);
  if (deferred_push) {
    Record push = rec(RecordKind::push, 50 * kSecond, 2, 2);
    push.channel = 1;
    push.seq = 1;
    h.push_back(push);
  }
  return h;
}

TEST_F(CheckerTest, MessageToADisconnectedUserNeverPushedIsReported) {
  config.liveness = false;  // only the push rule is under test here
  const auto planted = check(closed_app(clean(), false));
  EXPECT_TRUE(reports(planted, 5)) << all(planted);
  const auto fixed = check(closed_app(clean(), true));
  EXPECT_FALSE(reports(fixed, 5)) << all(fixed);
}

TEST_F(CheckerTest, MessageReadBeforeTheUserIsAwayIsOwedNoPush) {
  config.liveness = false;
  History h = closed_app(clean(), false);
  // A device of user 2 came back and received 1/1 before the timeout.
  h.insert(h.begin() + static_cast<long>(h.size()) - 1, delivered(2, 2, 1, 1, 1));
  const auto result = check(h);
  EXPECT_FALSE(reports(result, 5)) << all(result);
  // A push when nothing was owed at all is reported.
  History owed_nothing = clean();
  Record offline = rec(RecordKind::presence, 50 * kSecond, 2);
  offline.flag = false;
  owed_nothing.push_back(offline);
  Record push = rec(RecordKind::push, 50 * kSecond, 2, 2);
  push.channel = 1;
  push.seq = 2;
  owed_nothing.push_back(push);
  EXPECT_TRUE(reports(check(owed_nothing), 5)) << all(check(owed_nothing));
}

// Issue 14, section 7: after a crash and a quick restart, users shown online are held online
// for a full timeout; a push to them, or showing them offline early, is reported.
TEST_F(CheckerTest, RestartKeepsOnlineUsersOnlineForATimeout) {
  History h = clean();
  h.push_back(rec(RecordKind::crash, 21 * kSecond, 0));
  h.push_back(rec(RecordKind::restart, 22 * kSecond, 0));
  Record token = rec(RecordKind::token, 22 * kSecond, 2, 2);
  token.flag = true;
  h.push_back(token);
  h.push_back(rec(RecordKind::life, 23 * kSecond, 1, 1));
  History pushed = h;
  Record append = rec(RecordKind::append, 24 * kSecond, 1);
  append.channel = 1;
  append.seq = 1;
  pushed.push_back(append);
  Record push = rec(RecordKind::push, 24 * kSecond, 2, 2);
  push.channel = 1;
  push.seq = 1;
  pushed.push_back(push);
  EXPECT_TRUE(reports(check(pushed), 5)) << all(check(pushed));
  History early = h;
  Record offline = rec(RecordKind::presence, 40 * kSecond, 2);  // restart + 18 s
  offline.flag = false;
  early.push_back(offline);
  const auto result = check(early);
  EXPECT_TRUE(reports(result, 4)) << all(result);
  EXPECT_EQ(result.presence_flaps, 1u);
}

// Issue 14, section 7: a node clock that jumps 30 s ahead shows users offline early in real
// time, though on its own clock the timeout passed: a flap.
TEST_F(CheckerTest, OfflineAfterANodeClockJumpIsAFlap) {
  History h = clean();
  Record offline = rec(RecordKind::presence, 51 * kSecond, 2);
  offline.at = 21 * kSecond;  // 1 s after user 2's last sign of life, in simulated time
  offline.flag = false;
  h.push_back(offline);
  const auto result = check(h);
  EXPECT_TRUE(reports(result, 4)) << all(result);
  EXPECT_EQ(result.presence_flaps, 1u);
}

}  // namespace
}  // namespace parley::sim
