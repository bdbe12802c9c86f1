#include "engine/record_codec.hpp"

#include <initializer_list>
#include <vector>

#include "engine/keys.hpp"

namespace parley::engine::codec {

Reader::Reader(std::string_view bytes, Table table) : bytes_(bytes), table_(table) {
  if (bytes_.empty() || static_cast<std::uint8_t>(bytes_[0]) != kRecordVersion) {
    fail("unknown record version");
  }
  position_ = 1;
}

std::uint64_t Reader::u64() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (position_ >= bytes_.size()) fail("truncated varint");
    const auto byte = static_cast<std::uint8_t>(bytes_[position_++]);
    value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  fail("varint too long");
}

std::int64_t Reader::i64() {
  const std::uint64_t raw = u64();
  return static_cast<std::int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
}

std::string Reader::bytes() {
  const std::uint64_t size = u64();
  if (size > bytes_.size() - position_) fail("truncated bytes");
  std::string value(bytes_.substr(position_, size));
  position_ += size;
  return value;
}

void Reader::finish() const {
  if (position_ != bytes_.size()) fail("trailing bytes");
}

void Reader::fail(const char* what) const {
  throw StoreError("corrupt record in table '" + std::string(table_name(table_)) + "': " + what);
}

std::string encode_counter(std::uint64_t value) {
  return Writer().u64(value).take();
}

std::uint64_t decode_counter(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  const std::uint64_t value = reader.u64();
  reader.finish();
  return value;
}

std::string encode_time(TimeUs at) {
  return Writer().i64(at).take();
}

TimeUs decode_time(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  const TimeUs at = reader.i64();
  reader.finish();
  return at;
}

std::string encode_message_id(MessageId id) {
  return Writer().u64(id.channel).u64(id.seq).take();
}

MessageId decode_message_id(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  MessageId id{reader.u64(), 0};
  id.seq = reader.u64();
  reader.finish();
  return id;
}

std::string encode_user(const UserRecord& user) {
  return Writer().u64(user.id).bytes(user.name).i64(user.created_at).take();
}

UserRecord decode_user(std::string_view bytes) {
  Reader reader(bytes, Table::users);
  UserRecord user;
  user.id = reader.u64();
  user.name = reader.bytes();
  user.created_at = reader.i64();
  reader.finish();
  return user;
}

std::string encode_device(const DeviceRecord& device) {
  return Writer().u64(device.id).u64(device.user).bytes(device.label).i64(device.created_at).take();
}

DeviceRecord decode_device(std::string_view bytes) {
  Reader reader(bytes, Table::devices);
  DeviceRecord device;
  device.id = reader.u64();
  device.user = reader.u64();
  device.label = reader.bytes();
  device.created_at = reader.i64();
  reader.finish();
  return device;
}

std::string encode_channel(const ChannelRecord& channel) {
  return Writer()
      .u64(channel.id)
      .u64(static_cast<std::uint64_t>(channel.kind))
      .bytes(channel.name)
      .u64(channel.admin)
      .u64(channel.last_seq)
      .u64(channel.member_count)
      .i64(channel.created_at)
      .take();
}

ChannelRecord decode_channel(std::string_view bytes) {
  Reader reader(bytes, Table::channels);
  ChannelRecord channel;
  channel.id = reader.u64();
  channel.kind = reader.enumeration(ChannelKind::direct, kLastChannelKind);
  channel.name = reader.bytes();
  channel.admin = reader.u64();
  channel.last_seq = reader.u64();
  channel.member_count = static_cast<std::uint32_t>(reader.u64());
  channel.created_at = reader.i64();
  reader.finish();
  return channel;
}

std::string encode_member(const MemberRecord& member) {
  Writer writer;
  writer.u64(static_cast<std::uint64_t>(member.state)).u64(member.joined_seq).u64(member.left_seq);
  // Absent for a first membership that was never muted nor a request: older records read
  // alike.
  if (!member.earlier.empty() || member.muted_until != 0 || member.request) {
    writer.u64(member.earlier.size());
    for (const auto& [joined, left] : member.earlier)
      writer.u64(joined).u64(left);
  }
  if (member.muted_until != 0 || member.request) writer.i64(member.muted_until);
  if (member.request) writer.u64(1);
  return writer.take();
}

MemberRecord decode_member(std::string_view bytes) {
  Reader reader(bytes, Table::members);
  MemberRecord member;
  member.state = reader.enumeration(MemberState::active, kLastMemberState);
  member.joined_seq = reader.u64();
  member.left_seq = reader.u64();
  if (!reader.done()) {
    const std::uint64_t count = reader.u64();
    if (count > kMaxEarlierWindows) reader.fail("bad membership window count");
    for (std::uint64_t i = 0; i < count; ++i) {
      const Seq joined = reader.u64();
      member.earlier.emplace_back(joined, reader.u64());
    }
    if (!reader.done()) {
      member.muted_until = reader.i64();
      if (member.muted_until < 0) reader.fail("mute end out of range");
      if (!reader.done()) {
        if (reader.u64() != 1) reader.fail("bad request flag");
        member.request = true;
      } else if (member.muted_until == 0) {
        reader.fail("mute end out of range");
      }
    } else if (count == 0) {
      reader.fail("bad membership window count");
    }
  }
  reader.finish();
  return member;
}

std::string encode_message(const MessageRecord& message) {
  Writer writer;
  writer.u64(message.channel)
      .u64(message.seq)
      .u64(static_cast<std::uint64_t>(message.kind))
      .u64(message.sender)
      .u64(message.sender_device)
      .i64(message.server_time)
      .bytes(message.client_msg_id)
      .bytes(message.text)
      .u64(message.users.size());
  for (UserId user : message.users)
    writer.u64(user);
  // Edit and delete fields (rule 20) follow only when set, so every message written before
  // them, and every message never edited, keeps its bytes (docs/storage.md).
  const bool replies = message.reply_to != 0 || !message.mentions.empty();
  if (message.target != 0 || message.edited_seq != 0 || message.deleted || replies) {
    writer.u64(message.target).u64(message.edited_seq).u64(message.deleted ? 1 : 0);
  }
  // Reply and mention fields (rule 21), likewise only when set.
  if (replies) {
    writer.u64(message.reply_to).u64(message.mentions.size());
    for (UserId user : message.mentions)
      writer.u64(user);
  }
  return writer.take();
}

MessageRecord decode_message(std::string_view bytes) {
  Reader reader(bytes, Table::messages);
  MessageRecord message;
  message.channel = reader.u64();
  message.seq = reader.u64();
  message.kind = reader.enumeration(MessageKind::text, kLastMessageKind);
  message.sender = reader.u64();
  message.sender_device = reader.u64();
  message.server_time = reader.i64();
  message.client_msg_id = reader.bytes();
  message.text = reader.bytes();
  const std::uint64_t user_count = reader.u64();
  if (user_count > limits::kMaxGroupMembers) reader.fail("too many users");
  message.users.reserve(user_count);
  for (std::uint64_t i = 0; i < user_count; ++i)
    message.users.push_back(reader.u64());
  if (!reader.done()) {
    message.target = reader.u64();
    message.edited_seq = reader.u64();
    const std::uint64_t deleted = reader.u64();
    if (deleted > 1) reader.fail("deleted flag out of range");
    message.deleted = deleted == 1;
  }
  if (!reader.done()) {
    message.reply_to = reader.u64();
    const std::uint64_t mention_count = reader.u64();
    if (mention_count > limits::kMaxGroupMembers) reader.fail("too many mentions");
    for (std::uint64_t i = 0; i < mention_count; ++i)
      message.mentions.push_back(reader.u64());
  }
  reader.finish();
  return message;
}

std::string encode_inbox_ref(const InboxRef& entry) {
  return Writer()
      .u64(entry.message.channel)
      .u64(entry.message.seq)
      .u64(entry.counts_unread ? 1 : 0)
      .take();
}

InboxRef decode_inbox_ref(std::string_view bytes, InboxSeq inbox_seq) {
  Reader reader(bytes, Table::inboxes);
  InboxRef entry;
  entry.inbox_seq = inbox_seq;
  entry.message.channel = reader.u64();
  entry.message.seq = reader.u64();
  entry.counts_unread = reader.u64() != 0;
  reader.finish();
  return entry;
}

std::string encode_contact(const ContactRecord& contact) {
  return Writer().u64(static_cast<std::uint64_t>(contact.state)).i64(contact.since).take();
}

ContactRecord decode_contact(std::string_view bytes) {
  Reader reader(bytes, Table::contacts);
  ContactRecord contact;
  contact.state = reader.enumeration(ContactState::contact, kLastContactState);
  contact.since = reader.i64();
  reader.finish();
  return contact;
}

std::string encode_push_token(const PushTokenRecord& token) {
  return Writer().bytes(token.platform).bytes(token.token).take();
}

PushTokenRecord decode_push_token(std::string_view bytes, DeviceId device) {
  Reader reader(bytes, Table::push_tokens);
  PushTokenRecord token;
  token.device = device;
  token.platform = reader.bytes();
  token.token = reader.bytes();
  reader.finish();
  return token;
}

std::string encode_push_intent(const PushIntent& intent) {
  return Writer()
      .u64(intent.id)
      .u64(intent.user)
      .u64(intent.device)
      .bytes(intent.platform)
      .bytes(intent.token)
      .u64(intent.channel)
      .u64(intent.seq)
      .u64(intent.sender)
      .bytes(intent.preview)
      .u64(intent.unread_in_channel)
      .u64(intent.unread_total)
      .i64(intent.created_at)
      .u64(intent.mentions_you ? 1 : 0)
      .take();
}

PushIntent decode_push_intent(std::string_view bytes) {
  Reader reader(bytes, Table::push_outbox);
  PushIntent intent;
  intent.id = reader.u64();
  intent.user = reader.u64();
  intent.device = reader.u64();
  intent.platform = reader.bytes();
  intent.token = reader.bytes();
  intent.channel = reader.u64();
  intent.seq = reader.u64();
  intent.sender = reader.u64();
  intent.preview = reader.bytes();
  intent.unread_in_channel = reader.u64();
  intent.unread_total = reader.u64();
  intent.created_at = reader.i64();
  // Absent in intents written before mentions were told (read as false).
  if (!reader.done()) intent.mentions_you = reader.u64() != 0;
  reader.finish();
  return intent;
}

std::string encode_credential(std::string_view password_hash) {
  return Writer().bytes(password_hash).take();
}

std::string decode_credential(std::string_view bytes) {
  Reader reader(bytes, Table::credentials);
  std::string hash = reader.bytes();
  reader.finish();
  return hash;
}

std::string encode_token(const TokenRecord& token) {
  return Writer().u64(token.user).u64(token.device).i64(token.expires_at).take();
}

TokenRecord decode_token(std::string_view bytes) {
  Reader reader(bytes, Table::tokens);
  TokenRecord token;
  token.user = reader.u64();
  token.device = reader.u64();
  token.expires_at = reader.i64();
  reader.finish();
  return token;
}

std::string encode_session(const SessionRecord& session) {
  return Writer()
      .u64(session.device)
      .u64(session.user)
      .u64(session.acked)
      .u64(session.sent_upto)
      .take();
}

SessionRecord decode_session(std::string_view bytes) {
  Reader reader(bytes, Table::sessions);
  SessionRecord session;
  session.device = reader.u64();
  session.user = reader.u64();
  session.acked = reader.u64();
  session.sent_upto = reader.u64();
  reader.finish();
  if (session.acked > session.sent_upto) reader.fail("acked past sent_upto");
  return session;
}

std::string encode_live_device(const LiveDeviceRecord& device) {
  return Writer().u64(device.user).i64(device.last_seen).i64(device.deadline).take();
}

LiveDeviceRecord decode_live_device(std::string_view bytes) {
  Reader reader(bytes, Table::live_devices);
  LiveDeviceRecord device;
  device.user = reader.u64();
  device.last_seen = reader.i64();
  device.deadline = reader.i64();
  reader.finish();
  return device;
}

namespace {

// The away tables' values: a version byte, then 8-byte big-endian fields.
std::string encode_fields(std::initializer_list<std::uint64_t> fields) {
  std::string value(1, static_cast<char>(kRecordVersion));
  for (std::uint64_t field : fields)
    value += encode_u64_key(field);
  return value;
}

std::vector<std::uint64_t> decode_fields(std::string_view value, std::size_t count, Table table) {
  if (value.size() != 1 + 8 * count || value[0] != static_cast<char>(kRecordVersion)) {
    throw StoreError("corrupt record in table '" + std::string(table_name(table)) + "'");
  }
  std::vector<std::uint64_t> fields;
  for (std::size_t i = 0; i < count; ++i)
    fields.push_back(decode_u64_key(value.substr(1 + 8 * i, 8)));
  return fields;
}

}  // namespace

std::string encode_pending_push(const PendingPush& pending) {
  return encode_fields({pending.seq, pending.inbox_seq});
}

PendingPush decode_pending_push(std::string_view bytes, ChannelId channel) {
  const auto fields = decode_fields(bytes, 2, Table::pending_pushes);
  return PendingPush{channel, fields[0], fields[1]};
}

std::string encode_online(TimeUs last_active) {
  return encode_fields({static_cast<std::uint64_t>(last_active)});
}

TimeUs decode_online(std::string_view bytes) {
  return static_cast<TimeUs>(decode_fields(bytes, 1, Table::online_users)[0]);
}

std::string encode_receipt(const ReceiptRecord& receipt) {
  return encode_fields({receipt.delivered_seq, receipt.read_seq, receipt.last_sent_seq});
}

ReceiptRecord decode_receipt(std::string_view bytes) {
  const auto fields = decode_fields(bytes, 3, Table::receipts);
  return ReceiptRecord{fields[0], fields[1], fields[2]};
}

// Bit 0 set: read receipts off (so an all-zero record is the defaults).
std::string encode_settings(const UserSettings& settings) {
  return encode_fields({settings.read_receipts ? 0u : 1u});
}

UserSettings decode_settings(std::string_view bytes) {
  const std::uint64_t flags = decode_fields(bytes, 1, Table::settings)[0];
  return UserSettings{(flags & 1u) == 0};
}

}  // namespace parley::engine::codec
