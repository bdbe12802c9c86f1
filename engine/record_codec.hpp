// The byte encoding of every value the tables hold, each encoder next to its decoder
// (docs/storage.md describes them field by field). Used by Records and AwayRecords;
// public for the storage tests and for tools that dump a store.
//
// Values: a version byte, then fields as LEB128 varints (zigzag for signed) and
// length-prefixed bytes, except the two away tables (pending_pushes, online_users), whose
// fields are 8-byte big-endian. A decoder throws StoreError naming the table for anything it
// cannot read exactly (unknown version, truncation, trailing bytes, an enum out of range):
// a corrupt record stops the node instead of being misread.
//
// Pairing: decode(encode(x)) == x for every record x. tests/record_codec_test.cpp checks it
// for every table, and with EngineConfig::check_invariants every write reads its bytes back.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/record_types.hpp"
#include "engine/store.hpp"

namespace parley::engine::codec {

inline constexpr std::uint8_t kRecordVersion = 1;

class Writer {
 public:
  explicit Writer(std::uint8_t version = kRecordVersion) {
    bytes_.push_back(static_cast<char>(version));
  }
  Writer& u64(std::uint64_t value) {
    while (value >= 0x80) {
      bytes_.push_back(static_cast<char>((value & 0x7f) | 0x80));
      value >>= 7;
    }
    bytes_.push_back(static_cast<char>(value));
    return *this;
  }
  Writer& i64(std::int64_t value) {
    // Zigzag, so small negative times stay short.
    return u64((static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63));
  }
  Writer& bytes(std::string_view value) {
    u64(value.size());
    bytes_.append(value);
    return *this;
  }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Reader {
 public:
  Reader(std::string_view bytes, Table table);
  std::uint64_t u64();
  std::int64_t i64();
  std::string bytes();
  // An enumerator from `first` to `last` (a kLast... constant), else the record is corrupt.
  template <typename Enum>
  Enum enumeration(Enum first, Enum last) {
    const std::uint64_t raw = u64();
    if (raw < static_cast<std::uint64_t>(first) || raw > static_cast<std::uint64_t>(last)) {
      fail("enum out of range");
    }
    return static_cast<Enum>(raw);
  }
  void finish() const;
  bool done() const { return position_ == bytes_.size(); }
  [[noreturn]] void fail(const char* what) const;

 private:
  std::string_view bytes_;
  Table table_;
  std::size_t position_ = 0;
};

// Counters and ids: meta's counters, user_names, direct_channels, inbox_heads,
// device_cursors, unread, read_positions.
std::string encode_counter(std::uint64_t value);
std::uint64_t decode_counter(std::string_view bytes, Table table);

// Times: presence, push_collapse, live_users.
std::string encode_time(TimeUs at);
TimeUs decode_time(std::string_view bytes, Table table);

// idempotency: the message a client_msg_id made.
std::string encode_message_id(MessageId id);
MessageId decode_message_id(std::string_view bytes, Table table);

std::string encode_user(const UserRecord& user);
UserRecord decode_user(std::string_view bytes);

std::string encode_device(const DeviceRecord& device);
DeviceRecord decode_device(std::string_view bytes);

std::string encode_channel(const ChannelRecord& channel);
ChannelRecord decode_channel(std::string_view bytes);

// `earlier` is absent for a first membership, so records from before it existed read alike.
std::string encode_member(const MemberRecord& member);
MemberRecord decode_member(std::string_view bytes);

std::string encode_message(const MessageRecord& message);
MessageRecord decode_message(std::string_view bytes);

// The inbox seq is the key's, not the value's: decode takes it back.
std::string encode_inbox_ref(const InboxRef& entry);
InboxRef decode_inbox_ref(std::string_view bytes, InboxSeq inbox_seq);

std::string encode_contact(const ContactRecord& contact);
ContactRecord decode_contact(std::string_view bytes);

// The device is the key's, not the value's: decode takes it back.
std::string encode_push_token(const PushTokenRecord& token);
PushTokenRecord decode_push_token(std::string_view bytes, DeviceId device);

std::string encode_push_intent(const PushIntent& intent);
PushIntent decode_push_intent(std::string_view bytes);

// credentials: the password hash, opaque bytes.
std::string encode_credential(std::string_view password_hash);
std::string decode_credential(std::string_view bytes);

std::string encode_token(const TokenRecord& token);
TokenRecord decode_token(std::string_view bytes);

// sessions, live_devices (EngineConfig::durable_sessions); live_users holds a time
// (encode_time).
std::string encode_session(const SessionRecord& session);
SessionRecord decode_session(std::string_view bytes);
std::string encode_live_device(const LiveDeviceRecord& device);
LiveDeviceRecord decode_live_device(std::string_view bytes);

// pending_pushes (8-byte fields). The channel is the key's: decode takes it back.
std::string encode_pending_push(const PendingPush& pending);
PendingPush decode_pending_push(std::string_view bytes, ChannelId channel);

// online_users (8-byte fields): the user's last_active_at.
std::string encode_online(TimeUs last_active);
TimeUs decode_online(std::string_view bytes);

// receipts (8-byte fields) and settings (a flags field; absent flags read as defaults).
std::string encode_receipt(const ReceiptRecord& receipt);
ReceiptRecord decode_receipt(std::string_view bytes);
std::string encode_settings(const UserSettings& settings);
UserSettings decode_settings(std::string_view bytes);

// One record by key: nothing when absent, otherwise `decode(bytes)`.
template <typename Decode>
auto read_record(const Store& store, Table table, std::string_view key, Decode decode)
    -> std::optional<decltype(decode(std::string_view{}))> {
  const auto bytes = store.get(table, key);
  if (!bytes) return std::nullopt;
  return decode(*bytes);
}

// A counter record; 0 when absent.
inline std::uint64_t read_counter(const Store& store, Table table, std::string_view key) {
  const auto bytes = store.get(table, key);
  return bytes ? decode_counter(*bytes, table) : 0;
}

}  // namespace parley::engine::codec
