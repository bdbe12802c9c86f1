// Every value the tables hold decodes back to what was encoded (engine/record_codec.hpp), and
// the kLast... ranges the decoders check cover every enumerator.
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "engine/record_codec.hpp"
#include "engine/records.hpp"
#include "tests/harness.hpp"

namespace parley::engine {
namespace {

using namespace codec;

// Values with every field set to something other than its default, and extremes where an
// encoding could break (negative times, 64-bit ids, empty and binary strings).
constexpr std::uint64_t kBig = 1ull << 63;
const std::string kBinary("caf\xc3\xa9\0x", 7);

MessageRecord sample_message(MessageKind kind) {
  MessageRecord message;
  message.channel = 7;
  message.seq = 300;
  message.kind = kind;
  message.sender = kBig;
  message.sender_device = 9;
  message.server_time = -5;
  message.client_msg_id = "c-1";
  message.text = kBinary;
  message.users = {1, 2, kBig};
  return message;
}

// One round trip per table: true when the table's value type decodes back to itself.
// A table without a case fails the test, so a new table needs its codec checked here.
bool round_trips(Table table) {
  switch (table) {
    case Table::meta:
    case Table::user_names:
    case Table::direct_channels:
    case Table::inbox_heads:
    case Table::device_cursors:
    case Table::unread:
    case Table::read_positions:
      return decode_counter(encode_counter(kBig + 5), table) == kBig + 5 &&
             decode_counter(encode_counter(0), table) == 0;
    case Table::users: {
      const UserRecord user{kBig, "Bob", -1};
      return decode_user(encode_user(user)) == user;
    }
    case Table::devices: {
      const DeviceRecord device{3, kBig, kBinary, INT64_MIN};
      return decode_device(encode_device(device)) == device;
    }
    case Table::channels: {
      const ChannelRecord group{5, ChannelKind::group, "team", 2, kBig, 100, INT64_MAX};
      const ChannelRecord direct{6, ChannelKind::direct, "", 0, 0, 2, 0};
      return decode_channel(encode_channel(group)) == group &&
             decode_channel(encode_channel(direct)) == direct;
    }
    case Table::members: {
      const MemberRecord first{MemberState::active, 4, 0, {}};
      const MemberRecord again{MemberState::removed, 9, 12, {{1, 3}, {5, kBig}}};
      MemberRecord muted = first;  // a mute with no earlier windows, and one with them
      muted.muted_until = kMutedForever;
      MemberRecord muted_again = again;
      muted_again.muted_until = 1;
      MemberRecord request = first;  // a message request, unmuted and muted (rule 22)
      request.request = true;
      MemberRecord muted_request = muted_again;
      muted_request.request = true;
      return decode_member(encode_member(first)) == first &&
             decode_member(encode_member(again)) == again &&
             decode_member(encode_member(muted)) == muted &&
             decode_member(encode_member(muted_again)) == muted_again &&
             decode_member(encode_member(request)) == request &&
             decode_member(encode_member(muted_request)) == muted_request;
    }
    case Table::messages: {
      for (auto raw = static_cast<int>(MessageKind::text);
           raw <= static_cast<int>(kLastMessageKind); ++raw) {
        const MessageRecord message = sample_message(static_cast<MessageKind>(raw));
        if (!(decode_message(encode_message(message)) == message)) return false;
      }
      // A reply with mentions, alone and after the edit fields (rule 21).
      MessageRecord reply = sample_message(MessageKind::text);
      reply.reply_to = kBig;
      reply.mentions = {3, kBig};
      MessageRecord edited_reply = reply;
      edited_reply.edited_seq = 301;
      MessageRecord mention_only = sample_message(MessageKind::text);
      mention_only.mentions = {4};
      return decode_message(encode_message(reply)) == reply &&
             decode_message(encode_message(edited_reply)) == edited_reply &&
             decode_message(encode_message(mention_only)) == mention_only;
    }
    case Table::inboxes: {
      const InboxRef entry{kBig, {3, 4}, true};
      return decode_inbox_ref(encode_inbox_ref(entry), kBig) == entry;
    }
    case Table::idempotency:
      return decode_message_id(encode_message_id({kBig, 2}), table) == MessageId{kBig, 2};
    case Table::contacts: {
      const ContactRecord blocked{ContactState::blocked, -7};
      const ContactRecord contact{ContactState::contact, kBig >> 1};
      return decode_contact(encode_contact(blocked)) == blocked &&
             decode_contact(encode_contact(contact)) == contact;
    }
    case Table::presence:
    case Table::push_collapse:
    case Table::live_users:
      return decode_time(encode_time(-123'456), table) == -123'456 &&
             decode_time(encode_time(INT64_MAX), table) == INT64_MAX;
    case Table::unread_entries:
      return true;  // keys only: the value is always empty
    case Table::receipts: {
      const ReceiptRecord receipt{kBig, kBig - 1, 3};
      return decode_receipt(encode_receipt(receipt)) == receipt &&
             decode_receipt(encode_receipt({})) == ReceiptRecord{};
    }
    case Table::settings:
      return decode_settings(encode_settings({false})) == UserSettings{false} &&
             decode_settings(encode_settings({true})) == UserSettings{true};
    case Table::push_tokens: {
      const PushTokenRecord token{kBig, "apns", std::string(4096, 'a')};
      return decode_push_token(encode_push_token(token), kBig) == token;
    }
    case Table::push_outbox: {
      const PushIntent intent{kBig, 2, 3, "fcm", "tok", 4, 5, 6, kBinary, 7, 8, -9};
      PushIntent mention = intent;
      mention.mentions_you = true;
      return decode_push_intent(encode_push_intent(intent)) == intent &&
             decode_push_intent(encode_push_intent(mention)) == mention;
    }
    case Table::credentials:
      return decode_credential(encode_credential("$argon2id$v=19$...")) == "$argon2id$v=19$..." &&
             decode_credential(encode_credential(kBinary)) == kBinary;
    case Table::tokens: {
      const TokenRecord token{kBig, 3, INT64_MIN};
      return decode_token(encode_token(token)) == token;
    }
    case Table::online_users:
      return decode_online(encode_online(-42)) == -42 &&
             decode_online(encode_online(INT64_MAX)) == INT64_MAX;
    case Table::pending_pushes: {
      const PendingPush pending{kBig, 3, 4};
      return decode_pending_push(encode_pending_push(pending), kBig) == pending;
    }
    case Table::sessions: {
      const SessionRecord session{kBig, 3, 4, kBig + 9};
      const SessionRecord fresh{1, 2, 0, 0};
      return decode_session(encode_session(session)) == session &&
             decode_session(encode_session(fresh)) == fresh;
    }
    case Table::live_devices: {
      const LiveDeviceRecord device{kBig, -3, INT64_MAX};
      return decode_live_device(encode_live_device(device)) == device;
    }
    case Table::user_devices:
    case Table::user_channels:
    case Table::user_groups:
    case Table::device_tokens:
      return true;  // index tables: the key is everything, the value is empty
  }
  ADD_FAILURE() << "table " << static_cast<int>(table) << " has no round trip here";
  return false;
}

TEST(RecordCodec, EveryTablesValuesDecodeToWhatWasEncoded) {
  for (std::size_t t = 0; t < kTableCount; ++t) {
    const auto table = static_cast<Table>(t);
    EXPECT_TRUE(round_trips(table)) << table_name(table);
  }
}

TEST(RecordCodec, TableNamesAreDistinctAndCoverKTableCount) {
  std::set<std::string_view> names;
  for (std::size_t t = 0; t < kTableCount; ++t)
    names.insert(table_name(static_cast<Table>(t)));
  EXPECT_EQ(names.size(), kTableCount);
  EXPECT_FALSE(names.contains("unknown"));
  EXPECT_EQ(table_name(static_cast<Table>(kTableCount)), "unknown");
}

// A window whose acked passed what was sent cannot come from the engine: corruption.
TEST(RecordCodec, ASessionAckedPastWhatWasSentReadsAsCorrupt) {
  EXPECT_THROW((void)decode_session(encode_session(SessionRecord{1, 2, 5, 4})), StoreError);
}

// A stored enum one past its kLast... constant is corruption, not a new kind.
TEST(RecordCodec, EnumsPastTheirLastValueReadAsCorrupt) {
  MessageRecord message = sample_message(kLastMessageKind);
  message.kind = static_cast<MessageKind>(static_cast<int>(kLastMessageKind) + 1);
  EXPECT_THROW((void)decode_message(encode_message(message)), StoreError);
  ChannelRecord channel{1, ChannelKind::group, "g", 1, 1, 1, 0};
  channel.kind = static_cast<ChannelKind>(static_cast<int>(kLastChannelKind) + 1);
  EXPECT_THROW((void)decode_channel(encode_channel(channel)), StoreError);
  MemberRecord member;
  member.state = static_cast<MemberState>(static_cast<int>(kLastMemberState) + 1);
  EXPECT_THROW((void)decode_member(encode_member(member)), StoreError);
  ContactRecord contact;
  contact.state = static_cast<ContactState>(static_cast<int>(kLastContactState) + 1);
  EXPECT_THROW((void)decode_contact(encode_contact(contact)), StoreError);
}

// An earlier-window count of 0 is how a mute of a first membership is written: without the
// mute after it, it is corruption; so is a mute end that is not a time.
TEST(RecordCodec, AMuteFieldOutOfShapeReadsAsCorrupt) {
  MemberRecord member{MemberState::active, 1, 0, {}};
  member.muted_until = 5;
  const std::string bytes = encode_member(member);
  EXPECT_EQ(decode_member(bytes), member);
  EXPECT_THROW((void)decode_member(bytes.substr(0, bytes.size() - 1)),
               StoreError);  // 5: one varint byte
  member.muted_until = -3;
  EXPECT_THROW((void)decode_member(encode_member(member)), StoreError);
}

// A request flag is written as 1 after the mute end (0 when unmuted); any other value, or a
// zero mute end with no flag after it, is corruption.
TEST(RecordCodec, ARequestFlagOutOfShapeReadsAsCorrupt) {
  MemberRecord member{MemberState::active, 1, 0, {}};
  member.request = true;
  const std::string bytes = encode_member(member);
  EXPECT_EQ(decode_member(bytes), member);
  EXPECT_THROW((void)decode_member(bytes.substr(0, bytes.size() - 1)), StoreError);
  std::string two = bytes;
  two.back() = 2;
  EXPECT_THROW((void)decode_member(two), StoreError);
}

TEST(RecordCodec, TruncatedOrPaddedValuesReadAsCorrupt) {
  const std::string user = encode_user({1, "bob", 2});
  EXPECT_THROW((void)decode_user(user.substr(0, user.size() - 1)), StoreError);
  EXPECT_THROW((void)decode_user(user + "x"), StoreError);
  const std::string online = encode_online(5);
  EXPECT_THROW((void)decode_online(online.substr(1)), StoreError);
}

// With check_invariants, a write whose bytes do not decode back to the record stops the
// engine. An unencodable record is hard to make on purpose: more than kMaxEarlierWindows
// earlier windows encode, but read back as corrupt.
TEST(RecordCodec, CheckedWritesCatchAnEncoderThatDriftsFromItsDecoder) {
  auto holder = parley::testing::make_test_store();
  Store& store = *holder;
  store.begin();
  MemberRecord member{MemberState::active, 1, 0, {}};
  member.earlier.assign(kMaxEarlierWindows + 1, {1, 2});
  Records unchecked(store, false);
  EXPECT_NO_THROW(unchecked.put_member(1, 2, member));
  Records checked(store, true);
  EXPECT_THROW(checked.put_member(1, 2, member), InvariantViolation);
  store.abort();
}

}  // namespace
}  // namespace parley::engine
