// Rules 4, 5 and 9: what a send accepts, idempotency, ordering, and refusals that store nothing.
#include "engine/utf8.hpp"
#include "tests/harness.hpp"

namespace parley::testing {
namespace {

std::string repeat(const std::string& unit, std::size_t count) {
  std::string text;
  text.reserve(unit.size() * count);
  for (std::size_t i = 0; i < count; ++i)
    text += unit;
  return text;
}

class Send : public ::testing::Test {
 protected:
  Harness h;
  UserId alice = h.user("alice");
  UserId bob = h.user("bob");
  ConnectionId a = h.connect(h.device(alice));
};

TEST_F(Send, LengthLimitCountsCodePointsNotBytes) {
  // Mixed 1-, 2-, 3- and 4-byte characters: 99,999 code points, about 250,000 bytes.
  const std::string mixed = repeat("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 24'999) +
                            "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  ASSERT_EQ(utf8_code_points(mixed), 99'999u);
  ASSERT_GT(mixed.size(), 99'999u * 2);
  EXPECT_EQ(ack_of(h.send_to(a, bob, mixed)).seq, 1u);

  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.send_to(a, bob, mixed + "a")), ErrorCode::message_too_long);
  EXPECT_EQ(error_code(h.send_to(a, bob, repeat("\xf0\x9f\x98\x80", 100'000))),
            ErrorCode::message_too_long);
  EXPECT_EQ(h.fingerprint(), before);
  // 99,999 four-byte characters are fine: the limit is not in bytes.
  EXPECT_EQ(ack_of(h.send_to(a, bob, repeat("\xf0\x9f\x98\x80", 99'999))).seq, 2u);
}

TEST_F(Send, InvalidUtf8AndEmptyTextAreRefusedAndStoreNothing) {
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.send_to(a, bob, "bad \xff byte")), ErrorCode::invalid_utf8);
  EXPECT_EQ(error_code(h.send_to(a, bob, "overlong \xc0\xaf")), ErrorCode::invalid_utf8);
  EXPECT_EQ(error_code(h.send_to(a, bob, "surrogate \xed\xa0\x80")), ErrorCode::invalid_utf8);
  EXPECT_EQ(error_code(h.send_to(a, bob, "cut \xe2\x82")), ErrorCode::invalid_utf8);
  EXPECT_EQ(error_code(h.send_to(a, bob, "")), ErrorCode::message_empty);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST_F(Send, FailuresCarryTheRequestIdAndAHumanMessage) {
  h.request(a, client::Send{4242, 0, bob, "", "x"});
  const auto reply = h.reply(a, 4242);
  const auto& failure = std::get<server::Failure>(reply);
  EXPECT_EQ(failure.code, ErrorCode::invalid_client_msg_id);
  EXPECT_FALSE(failure.message.empty());
}

TEST_F(Send, MalformedAddressingIsRefused) {
  const std::string before = h.fingerprint();
  EXPECT_EQ(error_code(h.send(a, 0, 0, "nowhere")), ErrorCode::bad_request);
  EXPECT_EQ(error_code(h.send(a, 1, bob, "both")), ErrorCode::bad_request);
  EXPECT_EQ(error_code(h.post(a, 999, "no such channel")), ErrorCode::unknown_channel);
  EXPECT_EQ(error_code(h.send_to(a, bob, "x", std::string(65, 'k'))),
            ErrorCode::invalid_client_msg_id);
  EXPECT_EQ(h.fingerprint(), before);
}

TEST_F(Send, ResendWithSameClientMsgIdReturnsTheOriginal) {
  const auto original = ack_of(h.send_to(a, bob, "once", "retry-me"));
  EXPECT_FALSE(original.duplicate);
  const std::string before = h.fingerprint();
  const auto again = ack_of(h.send_to(a, bob, "once", "retry-me"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.channel, original.channel);
  EXPECT_EQ(again.seq, original.seq);
  EXPECT_EQ(again.server_time, original.server_time);
  EXPECT_EQ(h.fingerprint(), before) << "a resend must store nothing new";
  // Another user may use the same client_msg_id: ids are scoped to the sender.
  const ConnectionId b = h.connect(h.device(bob));
  const auto bobs = ack_of(h.send_to(b, alice, "mine", "retry-me"));
  EXPECT_FALSE(bobs.duplicate);
  EXPECT_EQ(bobs.seq, original.seq + 1);
}

TEST_F(Send, ResendFromAnotherDeviceOfTheSameUserIsStillTheOriginal) {
  const ConnectionId laptop = h.connect(h.device(alice, "laptop"));
  const auto original = ack_of(h.send_to(a, bob, "hello", "shared-id"));
  const auto again = ack_of(h.send_to(laptop, bob, "hello", "shared-id"));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, original.seq);
}

TEST_F(Send, ChannelSequencesAreGapFreeAndIndependent) {
  const UserId carol = h.user("carol");
  const ConnectionId b = h.connect(h.device(bob));
  std::vector<Seq> with_bob;
  std::vector<Seq> with_carol;
  for (int i = 0; i < 20; ++i) {
    with_bob.push_back(ack_of(h.send_to(i % 2 ? a : b, i % 2 ? bob : alice, "m")).seq);
    if (i % 3 == 0) with_carol.push_back(ack_of(h.send_to(a, carol, "c")).seq);
    // Refused sends in between must not consume a sequence number.
    (void)h.send_to(a, bob, "");
  }
  for (std::size_t i = 0; i < with_bob.size(); ++i)
    EXPECT_EQ(with_bob[i], i + 1);
  for (std::size_t i = 0; i < with_carol.size(); ++i)
    EXPECT_EQ(with_carol[i], i + 1);
}

TEST_F(Send, MessageCarriesSenderDeviceAndServerTime) {
  const ConnectionId b = h.connect(h.device(bob));
  ack_of(h.send_to(a, bob, "stamp"));
  const auto entries = h.delivered(b);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].message.sender, alice);
  EXPECT_EQ(entries[0].message.text, "stamp");
  EXPECT_EQ(entries[0].message.kind, MessageKind::text);
  EXPECT_GT(entries[0].message.server_time, 0);
}

}  // namespace
}  // namespace parley::testing
