#include "engine/records.hpp"

#include <algorithm>
#include <map>
#include <string>

#include "engine/engine.hpp"  // valid_user_name

namespace parley::engine {
namespace {

constexpr std::uint8_t kRecordVersion = 1;

class Writer {
 public:
  explicit Writer(std::uint8_t version) { bytes_.push_back(static_cast<char>(version)); }
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
  Reader(std::string_view bytes, Table table) : bytes_(bytes), table_(table) {
    if (bytes_.empty() || static_cast<std::uint8_t>(bytes_[0]) != kRecordVersion) {
      fail("unknown record version");
    }
    position_ = 1;
  }
  std::uint64_t u64() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (position_ >= bytes_.size()) fail("truncated varint");
      const auto byte = static_cast<std::uint8_t>(bytes_[position_++]);
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    fail("varint too long");
  }
  std::int64_t i64() {
    const std::uint64_t raw = u64();
    return static_cast<std::int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
  }
  std::string bytes() {
    const std::uint64_t size = u64();
    if (size > bytes_.size() - position_) fail("truncated bytes");
    std::string value(bytes_.substr(position_, size));
    position_ += size;
    return value;
  }
  template <typename Enum>
  Enum enumeration(std::uint64_t lowest, std::uint64_t highest) {
    const std::uint64_t raw = u64();
    if (raw < lowest || raw > highest) fail("enum out of range");
    return static_cast<Enum>(raw);
  }
  void finish() const {
    if (position_ != bytes_.size()) fail("trailing bytes");
  }
  bool done() const { return position_ == bytes_.size(); }
  [[noreturn]] void fail(const char* what) const {
    throw StoreError("corrupt record in table '" + std::string(table_name(table_)) + "': " + what);
  }

 private:
  std::string_view bytes_;
  Table table_;
  std::size_t position_ = 0;
};

std::string encode_message_id(MessageId id) {
  return Writer(kRecordVersion).u64(id.channel).u64(id.seq).take();
}

MessageId decode_message_id(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  MessageId id{reader.u64(), 0};
  id.seq = reader.u64();
  reader.finish();
  return id;
}

std::string encode_counter(std::uint64_t value) {
  return Writer(kRecordVersion).u64(value).take();
}

std::uint64_t decode_counter(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  const std::uint64_t value = reader.u64();
  reader.finish();
  return value;
}

std::string encode_user(const UserRecord& user) {
  return Writer(kRecordVersion).u64(user.id).bytes(user.name).i64(user.created_at).take();
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
  return Writer(kRecordVersion)
      .u64(device.id)
      .u64(device.user)
      .bytes(device.label)
      .i64(device.created_at)
      .take();
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
  return Writer(kRecordVersion)
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
  channel.kind = reader.enumeration<ChannelKind>(1, 2);
  channel.name = reader.bytes();
  channel.admin = reader.u64();
  channel.last_seq = reader.u64();
  channel.member_count = static_cast<std::uint32_t>(reader.u64());
  channel.created_at = reader.i64();
  reader.finish();
  return channel;
}

std::string encode_member(const MemberRecord& member) {
  Writer writer(kRecordVersion);
  writer.u64(static_cast<std::uint64_t>(member.state)).u64(member.joined_seq).u64(member.left_seq);
  if (!member.earlier.empty()) {  // absent for a first membership: older records read alike
    writer.u64(member.earlier.size());
    for (const auto& [joined, left] : member.earlier)
      writer.u64(joined).u64(left);
  }
  return writer.take();
}

MemberRecord decode_member(std::string_view bytes) {
  Reader reader(bytes, Table::members);
  MemberRecord member;
  member.state = reader.enumeration<MemberState>(1, 2);
  member.joined_seq = reader.u64();
  member.left_seq = reader.u64();
  if (!reader.done()) {
    const std::uint64_t count = reader.u64();
    if (count == 0 || count > kMaxEarlierWindows) reader.fail("bad membership window count");
    for (std::uint64_t i = 0; i < count; ++i) {
      const Seq joined = reader.u64();
      member.earlier.emplace_back(joined, reader.u64());
    }
  }
  reader.finish();
  return member;
}

std::string encode_message(const MessageRecord& message) {
  Writer writer(kRecordVersion);
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
  return writer.take();
}

MessageRecord decode_message(std::string_view bytes) {
  Reader reader(bytes, Table::messages);
  MessageRecord message;
  message.channel = reader.u64();
  message.seq = reader.u64();
  message.kind = reader.enumeration<MessageKind>(1, 6);
  message.sender = reader.u64();
  message.sender_device = reader.u64();
  message.server_time = reader.i64();
  message.client_msg_id = reader.bytes();
  message.text = reader.bytes();
  const std::uint64_t user_count = reader.u64();
  if (user_count > limits::kMaxGroupMembers) {
    throw StoreError("corrupt record in table 'messages': too many users");
  }
  message.users.reserve(user_count);
  for (std::uint64_t i = 0; i < user_count; ++i)
    message.users.push_back(reader.u64());
  reader.finish();
  return message;
}

ContactRecord decode_contact(std::string_view bytes) {
  Reader reader(bytes, Table::contacts);
  ContactRecord contact;
  contact.state = reader.enumeration<ContactState>(1, 2);
  contact.since = reader.i64();
  reader.finish();
  return contact;
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
  reader.finish();
  return intent;
}

// One record by key: nothing when absent, otherwise `decode(bytes)`.
template <typename Decode>
auto read_record(const Store& store, Table table, std::string_view key, Decode decode)
    -> std::optional<decltype(decode(std::string_view{}))> {
  const auto bytes = store.get(table, key);
  if (!bytes) return std::nullopt;
  return decode(*bytes);
}

// A counter record; 0 when absent.
std::uint64_t read_counter(const Store& store, Table table, std::string_view key) {
  const auto bytes = store.get(table, key);
  return bytes ? decode_counter(*bytes, table) : 0;
}

TimeUs decode_time(std::string_view bytes, Table table) {
  Reader reader(bytes, table);
  const TimeUs at = reader.i64();
  reader.finish();
  return at;
}

std::string encode_time(TimeUs at) {
  return Writer(kRecordVersion).i64(at).take();
}

// The key of a pre-folding name kept for an account whose name collided when folded: a 0x01
// byte (never in a name) and the exact spelling.
std::string legacy_name_key(std::string_view name) {
  return "\x01" + std::string(name);
}

std::string idempotency_key(UserId user, std::string_view client_msg_id) {
  std::string key = encode_u64_key(user);
  key.append(client_msg_id);
  return key;
}

}  // namespace

std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last != 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return {};
}

std::string fold_user_name(std::string_view name) {
  std::string folded(name);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return folded;
}

std::string encode_u64_key(std::uint64_t value) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return key;
}

std::string encode_pair_key(std::uint64_t first, std::uint64_t second) {
  return encode_u64_key(first) + encode_u64_key(second);
}

std::uint64_t decode_u64_key(std::string_view bytes) {
  PARLEY_ASSERT(bytes.size() >= 8);
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < 8; ++i)
    value = (value << 8) | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

std::string_view table_name(Table table) {
  switch (table) {
    case Table::meta:
      return "meta";
    case Table::users:
      return "users";
    case Table::user_names:
      return "user_names";
    case Table::devices:
      return "devices";
    case Table::user_devices:
      return "user_devices";
    case Table::channels:
      return "channels";
    case Table::direct_channels:
      return "direct_channels";
    case Table::members:
      return "members";
    case Table::user_channels:
      return "user_channels";
    case Table::messages:
      return "messages";
    case Table::inboxes:
      return "inboxes";
    case Table::inbox_heads:
      return "inbox_heads";
    case Table::device_cursors:
      return "device_cursors";
    case Table::idempotency:
      return "idempotency";
    case Table::contacts:
      return "contacts";
    case Table::presence:
      return "presence";
    case Table::push_tokens:
      return "push_tokens";
    case Table::push_outbox:
      return "push_outbox";
    case Table::push_collapse:
      return "push_collapse";
    case Table::unread:
      return "unread";
    case Table::read_positions:
      return "read_positions";
    case Table::credentials:
      return "credentials";
    case Table::tokens:
      return "tokens";
    case Table::device_tokens:
      return "device_tokens";
    case Table::online_users:
      return "online_users";
    case Table::pending_pushes:
      return "pending_pushes";
    case Table::user_groups:
      return "user_groups";
  }
  return "unknown";
}

std::string_view to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::text:
      return "text";
    case MessageKind::group_created:
      return "group_created";
    case MessageKind::member_added:
      return "member_added";
    case MessageKind::member_removed:
      return "member_removed";
    case MessageKind::member_left:
      return "member_left";
    case MessageKind::admin_changed:
      return "admin_changed";
  }
  return "unknown";
}

void Records::ensure_format() {
  const auto stored = store_.get(Table::meta, "format_version");
  if (!stored) {
    store_.put(Table::meta, "format_version", encode_counter(kFormatVersion));
    store_.put(Table::meta, "user_groups_index", encode_counter(1));
    store_.put(Table::meta, "user_names_folded", encode_counter(1));
    store_.put(Table::meta, "device_tokens_index", encode_counter(1));
    return;
  }
  const std::uint64_t version = decode_counter(*stored, Table::meta);
  if (version != kFormatVersion) {
    throw StoreError("store format version " + std::to_string(version) +
                     " is not supported by this build (it reads version " +
                     std::to_string(kFormatVersion) + ")");
  }
  if (!store_.get(Table::meta, "user_groups_index")) {
    build_group_index();
    store_.put(Table::meta, "user_groups_index", encode_counter(1));
  }
  if (!store_.get(Table::meta, "user_names_folded")) {
    fold_name_keys();
    store_.put(Table::meta, "user_names_folded", encode_counter(1));
  }
  if (!store_.get(Table::meta, "device_tokens_index")) {
    build_device_token_index();
    store_.put(Table::meta, "device_tokens_index", encode_counter(1));
  }
}

// Stores written before a device's tokens were indexed: index every live token once, so
// re-login, logout and a password change revoke tokens issued before the upgrade too.
void Records::build_device_token_index() {
  std::vector<std::string> hashes;
  store_.scan(Table::tokens, "", "", false, [&](std::string_view key, std::string_view) {
    hashes.emplace_back(key);
    return true;
  });
  for (const std::string& hash : hashes) {
    const auto record = token(hash);
    if (record) put_token(hash, *record);
  }
}

// Stores written before names were folded keyed user_names by the exact spelling. Re-key
// every name by its folded form; when two names fold alike ("Bob", "bob"), the older account
// (lower id) gets the folded key and the younger keeps a legacy key with its exact spelling,
// so both still log in, and nobody can take either name again.
void Records::fold_name_keys() {
  std::vector<std::pair<std::string, std::string>> names;
  store_.scan(Table::user_names, "", "", false, [&](std::string_view key, std::string_view value) {
    names.emplace_back(key, value);
    return true;
  });
  std::map<std::string, std::pair<UserId, std::string>> winners;  // folded -> (id, spelling)
  for (const auto& [name, value] : names) {
    store_.erase(Table::user_names, name);
    const UserId id = decode_counter(value, Table::user_names);
    auto [it, fresh] = winners.try_emplace(fold_user_name(name), id, name);
    if (fresh) continue;
    auto& [winner, spelling] = it->second;
    const std::string& younger = id > winner ? name : spelling;
    store_.put(Table::user_names, legacy_name_key(younger), encode_counter(std::max(id, winner)));
    if (id < winner) it->second = {id, name};
  }
  for (const auto& [folded, winner] : winners)
    store_.put(Table::user_names, folded, encode_counter(winner.first));
}

std::uint64_t Records::allocate_id(std::string_view counter) {
  const std::string key = "next_" + std::string(counter);
  const auto stored = store_.get(Table::meta, key);
  const std::uint64_t id = stored ? decode_counter(*stored, Table::meta) : 1;
  store_.put(Table::meta, key, encode_counter(id + 1));
  return id;
}

std::optional<UserRecord> Records::user(UserId id) const {
  return read_record(store_, Table::users, encode_u64_key(id), decode_user);
}

std::optional<UserId> Records::user_by_name(std::string_view name) const {
  // A name outside the rule names nobody, and never reaches the store as a key (LMDB refuses
  // an empty one, and that must not look like a disk failure).
  if (!valid_user_name(name)) return std::nullopt;
  const auto decode = [](std::string_view bytes) {
    return decode_counter(bytes, Table::user_names);
  };
  // A migrated store may hold an exact-spelling key for an account whose name collided with
  // an older one's when folded (see ensure_format): that spelling still reaches it.
  if (auto legacy = read_record(store_, Table::user_names, legacy_name_key(name), decode)) {
    return legacy;
  }
  return read_record(store_, Table::user_names, fold_user_name(name), decode);
}

void Records::put_user(const UserRecord& user) {
  store_.put(Table::users, encode_u64_key(user.id), encode_user(user));
  store_.put(Table::user_names, fold_user_name(user.name), encode_counter(user.id));
}

std::optional<DeviceRecord> Records::device(DeviceId id) const {
  return read_record(store_, Table::devices, encode_u64_key(id), decode_device);
}

void Records::put_device(const DeviceRecord& device) {
  store_.put(Table::devices, encode_u64_key(device.id), encode_device(device));
  store_.put(Table::user_devices, encode_pair_key(device.user, device.id), "");
}

std::vector<DeviceId> Records::devices_of(UserId user) const {
  std::vector<DeviceId> devices;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_devices, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                devices.push_back(decode_u64_key(key.substr(8)));
                return true;
              });
  return devices;
}

std::optional<ChannelRecord> Records::channel(ChannelId id) const {
  return read_record(store_, Table::channels, encode_u64_key(id), decode_channel);
}

void Records::put_channel(const ChannelRecord& channel) {
  store_.put(Table::channels, encode_u64_key(channel.id), encode_channel(channel));
}

std::optional<ChannelId> Records::direct_channel(UserId a, UserId b) const {
  const auto bytes =
      store_.get(Table::direct_channels, encode_pair_key(std::min(a, b), std::max(a, b)));
  if (!bytes) return std::nullopt;
  return decode_counter(*bytes, Table::direct_channels);
}

void Records::put_direct_channel(UserId a, UserId b, ChannelId channel) {
  store_.put(Table::direct_channels, encode_pair_key(std::min(a, b), std::max(a, b)),
             encode_counter(channel));
}

std::optional<MemberRecord> Records::member(ChannelId channel, UserId user) const {
  return read_record(store_, Table::members, encode_pair_key(channel, user), decode_member);
}

void Records::put_member(ChannelId channel, UserId user, const MemberRecord& member) {
  store_.put(Table::members, encode_pair_key(channel, user), encode_member(member));
  store_.put(Table::user_channels, encode_pair_key(user, channel), "");
}

std::vector<std::pair<UserId, MemberRecord>> Records::all_members(ChannelId channel) const {
  std::vector<std::pair<UserId, MemberRecord>> members;
  const std::string prefix = encode_u64_key(channel);
  store_.scan(Table::members, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                members.emplace_back(decode_u64_key(key.substr(8)), decode_member(value));
                return true;
              });
  return members;
}

std::vector<UserId> Records::active_members(ChannelId channel) const {
  std::vector<UserId> active;
  for (const auto& [user, member] : all_members(channel)) {
    if (member.state == MemberState::active) active.push_back(user);
  }
  return active;
}

std::vector<ChannelId> Records::channels_of(UserId user) const {
  std::vector<ChannelId> channels;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_channels, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                channels.push_back(decode_u64_key(key.substr(8)));
                return true;
              });
  return channels;
}

std::vector<ChannelId> Records::channels_of(UserId user, ChannelId after, std::size_t limit) const {
  std::vector<ChannelId> channels;
  if (limit == 0 || after == UINT64_MAX) return channels;
  store_.scan(Table::user_channels, encode_pair_key(user, after + 1),
              prefix_end(encode_u64_key(user)), false, [&](std::string_view key, std::string_view) {
                channels.push_back(decode_u64_key(key.substr(8)));
                return channels.size() < limit;
              });
  return channels;
}

void Records::set_group_member(UserId user, ChannelId channel, bool active) {
  if (active) {
    store_.put(Table::user_groups, encode_pair_key(user, channel), "");
  } else {
    store_.erase(Table::user_groups, encode_pair_key(user, channel));
  }
}

std::vector<ChannelId> Records::active_groups(UserId user, std::size_t limit) const {
  std::vector<ChannelId> groups;
  if (limit == 0) return groups;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_groups, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                groups.push_back(decode_u64_key(key.substr(8)));
                return groups.size() < limit;
              });
  return groups;
}

void Records::build_group_index() {
  // Stores written before Table::user_groups existed: derive it once from the members table.
  std::optional<std::pair<ChannelId, bool>> last;  // (channel, is a group), members scan in order
  std::vector<std::pair<UserId, ChannelId>> found;
  store_.scan(Table::members, "", "", false, [&](std::string_view key, std::string_view value) {
    const ChannelId channel = decode_u64_key(key.substr(0, 8));
    if (!last || last->first != channel) {
      const auto record = this->channel(channel);
      last = {channel, record && record->kind == ChannelKind::group};
    }
    if (last->second && decode_member(value).state == MemberState::active) {
      found.emplace_back(decode_u64_key(key.substr(8)), channel);
    }
    return true;
  });
  for (const auto& [user, channel] : found)
    set_group_member(user, channel, true);
}

std::optional<MessageRecord> Records::message(MessageId id) const {
  return read_record(store_, Table::messages, encode_pair_key(id.channel, id.seq), decode_message);
}

void Records::put_message(const MessageRecord& message) {
  store_.put(Table::messages, encode_pair_key(message.channel, message.seq),
             encode_message(message));
}

std::vector<MessageRecord> Records::messages(ChannelId channel, Seq first, Seq last) const {
  std::vector<MessageRecord> found;
  if (first > last) return found;
  store_.scan(
      Table::messages, encode_pair_key(channel, first),
      last == UINT64_MAX ? prefix_end(encode_u64_key(channel)) : encode_pair_key(channel, last + 1),
      false, [&](std::string_view, std::string_view value) {
        found.push_back(decode_message(value));
        return true;
      });
  return found;
}

std::vector<MessageRecord> Records::messages_back(ChannelId channel, Seq first, Seq last,
                                                  std::size_t max_bytes) const {
  std::vector<MessageRecord> found;
  if (first > last) return found;
  std::size_t bytes = 0;
  store_.scan(
      Table::messages, encode_pair_key(channel, first),
      last == UINT64_MAX ? prefix_end(encode_u64_key(channel)) : encode_pair_key(channel, last + 1),
      true, [&](std::string_view, std::string_view value) {
        found.push_back(decode_message(value));
        bytes += found.back().text.size();
        return bytes < max_bytes;
      });
  std::reverse(found.begin(), found.end());
  return found;
}

InboxSeq Records::inbox_head(UserId user) const {
  return read_counter(store_, Table::inbox_heads, encode_u64_key(user));
}

InboxSeq Records::append_inbox(UserId user, MessageId message, bool counts_unread) {
  const InboxSeq seq = inbox_head(user) + 1;
  store_.put(Table::inboxes, encode_pair_key(user, seq),
             Writer(kRecordVersion)
                 .u64(message.channel)
                 .u64(message.seq)
                 .u64(counts_unread ? 1 : 0)
                 .take());
  store_.put(Table::inbox_heads, encode_u64_key(user), encode_counter(seq));
  return seq;
}

std::vector<InboxRef> Records::inbox_after(UserId user, InboxSeq after, std::size_t limit) const {
  std::vector<InboxRef> entries;
  if (limit == 0 || after == UINT64_MAX) return entries;
  store_.scan(Table::inboxes, encode_pair_key(user, after + 1), prefix_end(encode_u64_key(user)),
              false, [&](std::string_view key, std::string_view value) {
                Reader reader(value, Table::inboxes);
                InboxRef entry;
                entry.inbox_seq = decode_u64_key(key.substr(8));
                entry.message.channel = reader.u64();
                entry.message.seq = reader.u64();
                entry.counts_unread = reader.u64() != 0;
                reader.finish();
                entries.push_back(entry);
                return entries.size() < limit;
              });
  return entries;
}

InboxSeq Records::device_cursor(DeviceId device) const {
  return read_counter(store_, Table::device_cursors, encode_u64_key(device));
}

void Records::put_device_cursor(DeviceId device, InboxSeq cursor) {
  store_.put(Table::device_cursors, encode_u64_key(device), encode_counter(cursor));
}

std::optional<MessageId> Records::idempotent_send(UserId user,
                                                  std::string_view client_msg_id) const {
  return read_record(
      store_, Table::idempotency, idempotency_key(user, client_msg_id),
      [](std::string_view bytes) { return decode_message_id(bytes, Table::idempotency); });
}

void Records::put_idempotent_send(UserId user, std::string_view client_msg_id, MessageId message) {
  store_.put(Table::idempotency, idempotency_key(user, client_msg_id), encode_message_id(message));
}

std::optional<ContactRecord> Records::contact(UserId user, UserId other) const {
  return read_record(store_, Table::contacts, encode_pair_key(user, other), decode_contact);
}

void Records::put_contact(UserId user, UserId other, const ContactRecord& contact) {
  store_.put(Table::contacts, encode_pair_key(user, other),
             Writer(kRecordVersion)
                 .u64(static_cast<std::uint64_t>(contact.state))
                 .i64(contact.since)
                 .take());
}

void Records::erase_contact(UserId user, UserId other) {
  store_.erase(Table::contacts, encode_pair_key(user, other));
}

std::vector<std::pair<UserId, ContactRecord>> Records::contacts_of(UserId user) const {
  std::vector<std::pair<UserId, ContactRecord>> contacts;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::contacts, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                contacts.emplace_back(decode_u64_key(key.substr(8)), decode_contact(value));
                return true;
              });
  return contacts;
}

bool Records::friends(UserId a, UserId b) const {
  const auto forward = contact(a, b);
  if (!forward || forward->state != ContactState::contact) return false;
  const auto backward = contact(b, a);
  return backward && backward->state == ContactState::contact;
}

std::optional<TimeUs> Records::last_active(UserId user) const {
  return read_record(store_, Table::presence, encode_u64_key(user),
                     [](std::string_view bytes) { return decode_time(bytes, Table::presence); });
}

void Records::put_last_active(UserId user, TimeUs at) {
  store_.put(Table::presence, encode_u64_key(user), encode_time(at));
}

std::vector<PushTokenRecord> Records::push_tokens(UserId user) const {
  std::vector<PushTokenRecord> tokens;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::push_tokens, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                Reader reader(value, Table::push_tokens);
                PushTokenRecord token;
                token.device = decode_u64_key(key.substr(8));
                token.platform = reader.bytes();
                token.token = reader.bytes();
                reader.finish();
                tokens.push_back(std::move(token));
                return true;
              });
  return tokens;
}

void Records::put_push_token(UserId user, const PushTokenRecord& token) {
  store_.put(Table::push_tokens, encode_pair_key(user, token.device),
             Writer(kRecordVersion).bytes(token.platform).bytes(token.token).take());
}

void Records::erase_push_token(UserId user, DeviceId device) {
  store_.erase(Table::push_tokens, encode_pair_key(user, device));
}

void Records::put_push_intent(const PushIntent& intent) {
  if (!store_.get(Table::push_outbox, encode_u64_key(intent.id))) {
    store_.put(Table::meta, "push_outbox_size", encode_counter(push_outbox_size() + 1));
  }
  store_.put(Table::push_outbox, encode_u64_key(intent.id),
             Writer(kRecordVersion)
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
                 .take());
}

std::optional<PushIntent> Records::push_intent(std::uint64_t id) const {
  return read_record(store_, Table::push_outbox, encode_u64_key(id), decode_push_intent);
}

void Records::erase_push_intent(std::uint64_t id) {
  if (!store_.get(Table::push_outbox, encode_u64_key(id))) return;
  store_.erase(Table::push_outbox, encode_u64_key(id));
  const std::uint64_t size = push_outbox_size();
  PARLEY_ASSERT(size > 0);
  store_.put(Table::meta, "push_outbox_size", encode_counter(size - 1));
}

std::uint64_t Records::push_outbox_size() const {
  return read_counter(store_, Table::meta, "push_outbox_size");
}

std::vector<PushIntent> Records::push_intents_after(std::uint64_t after, std::size_t limit) const {
  std::vector<PushIntent> intents;
  if (limit == 0 || after == UINT64_MAX) return intents;
  store_.scan(Table::push_outbox, encode_u64_key(after + 1), "", false,
              [&](std::string_view, std::string_view value) {
                intents.push_back(decode_push_intent(value));
                return intents.size() < limit;
              });
  return intents;
}

std::optional<TimeUs> Records::push_collapse(UserId user, ChannelId channel) const {
  return read_record(
      store_, Table::push_collapse, encode_pair_key(user, channel),
      [](std::string_view bytes) { return decode_time(bytes, Table::push_collapse); });
}

void Records::put_push_collapse(UserId user, ChannelId channel, TimeUs at) {
  store_.put(Table::push_collapse, encode_pair_key(user, channel), encode_time(at));
}

std::uint64_t Records::unread(UserId user, ChannelId channel) const {
  return read_counter(store_, Table::unread, encode_pair_key(user, channel));
}

void Records::add_unread(UserId user, ChannelId channel, std::int64_t delta) {
  const std::int64_t updated = static_cast<std::int64_t>(unread(user, channel)) + delta;
  PARLEY_ASSERT(updated >= 0);
  const std::string key = encode_pair_key(user, channel);
  if (updated == 0) {
    store_.erase(Table::unread, key);  // keeps the per-user scan as short as the unread list
  } else {
    store_.put(Table::unread, key, encode_counter(static_cast<std::uint64_t>(updated)));
  }
}

std::vector<std::pair<ChannelId, std::uint64_t>> Records::unread_channels(UserId user,
                                                                          ChannelId after,
                                                                          std::size_t limit) const {
  std::vector<std::pair<ChannelId, std::uint64_t>> counts;
  if (limit == 0 || after == UINT64_MAX) return counts;
  store_.scan(
      Table::unread, encode_pair_key(user, std::max<ChannelId>(after + 1, 1)),
      prefix_end(encode_u64_key(user)), false, [&](std::string_view key, std::string_view value) {
        counts.emplace_back(decode_u64_key(key.substr(8)), decode_counter(value, Table::unread));
        return counts.size() < limit;
      });
  return counts;
}

InboxSeq Records::read_position(UserId user) const {
  return read_counter(store_, Table::read_positions, encode_u64_key(user));
}

void Records::put_read_position(UserId user, InboxSeq position) {
  store_.put(Table::read_positions, encode_u64_key(user), encode_counter(position));
}

std::optional<std::string> Records::credential(UserId user) const {
  const auto bytes = store_.get(Table::credentials, encode_u64_key(user));
  if (!bytes) return std::nullopt;
  Reader reader(*bytes, Table::credentials);
  std::string hash = reader.bytes();
  reader.finish();
  return hash;
}

void Records::put_credential(UserId user, std::string_view password_hash) {
  store_.put(Table::credentials, encode_u64_key(user),
             Writer(kRecordVersion).bytes(password_hash).take());
}

std::optional<TokenRecord> Records::token(std::string_view token_hash) const {
  const auto bytes = store_.get(Table::tokens, token_hash);
  if (!bytes) return std::nullopt;
  Reader reader(*bytes, Table::tokens);
  TokenRecord token;
  token.user = reader.u64();
  token.device = reader.u64();
  token.expires_at = reader.i64();
  reader.finish();
  return token;
}

void Records::put_token(std::string_view token_hash, const TokenRecord& token) {
  store_.put(Table::tokens, token_hash,
             Writer(kRecordVersion).u64(token.user).u64(token.device).i64(token.expires_at).take());
  store_.put(Table::device_tokens,
             encode_pair_key(token.user, token.device) + std::string(token_hash), "");
}

void Records::erase_token(std::string_view token_hash) {
  const auto record = token(token_hash);
  if (!record) return;
  store_.erase(Table::tokens, token_hash);
  store_.erase(Table::device_tokens,
               encode_pair_key(record->user, record->device) + std::string(token_hash));
}

std::vector<std::string> Records::device_token_hashes(UserId user, DeviceId device) const {
  std::vector<std::string> hashes;
  const std::string prefix = encode_pair_key(user, device);
  store_.scan(Table::device_tokens, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                hashes.emplace_back(key.substr(prefix.size()));
                return true;
              });
  return hashes;
}

void Records::erase_device_tokens(UserId user, DeviceId device) {
  for (const std::string& hash : device_token_hashes(user, device))
    erase_token(hash);
}

}  // namespace parley::engine
