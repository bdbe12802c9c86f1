// Typed records over the Store's byte tables, and their encoding.
//
// Keys: big-endian fixed-width integers (and raw bytes for names), so byte order is numeric
// order. Values: a version byte, then fields as LEB128 varints and length-prefixed bytes.
// The encoding is shared by every store, so the simulator and production read and write
// exactly the same bytes. docs/storage.md describes it field by field.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/store.hpp"
#include "engine/types.hpp"

namespace parley::engine {

inline constexpr std::uint32_t kFormatVersion = 1;

// A user name's key in user_names: ASCII letters folded to lower case, so names are unique
// regardless of case ("Bob" and "bob" are one name) while UserRecord keeps the spelling.
std::string fold_user_name(std::string_view name);

struct UserRecord {
  UserId id = 0;
  std::string name;
  TimeUs created_at = 0;
};

struct DeviceRecord {
  DeviceId id = 0;
  UserId user = 0;
  std::string label;
  TimeUs created_at = 0;
};

enum class ChannelKind : std::uint8_t { direct = 1, group = 2 };

struct ChannelRecord {
  ChannelId id = 0;
  ChannelKind kind = ChannelKind::direct;
  std::string name;  // empty for a direct channel
  UserId admin = 0;  // 0 for a direct channel
  Seq last_seq = 0;
  std::uint32_t member_count = 0;
  TimeUs created_at = 0;
};

enum class MemberState : std::uint8_t { active = 1, removed = 2 };

struct MemberRecord {
  MemberState state = MemberState::active;
  Seq joined_seq = 0;  // the event that (last) made the user a member
  Seq left_seq = 0;    // the event that removed the user; history stops here
  // Earlier membership windows (joined seq, left seq), oldest first, of a user who was
  // removed or left and was added again: the only other seqs they may read. At most
  // kMaxEarlierWindows (the oldest are forgotten past it, and become unreadable).
  std::vector<std::pair<Seq, Seq>> earlier;
};
inline constexpr std::size_t kMaxEarlierWindows = 100;

enum class MessageKind : std::uint8_t {
  text = 1,
  group_created = 2,   // text: group name; users: the founding members, creator first
  member_added = 3,    // users: {added}
  member_removed = 4,  // users: {removed}
  member_left = 5,     // users: {leaver}
  admin_changed = 6,   // users: {new admin}
};
std::string_view to_string(MessageKind kind);

struct MessageRecord {
  ChannelId channel = 0;
  Seq seq = 0;
  MessageKind kind = MessageKind::text;
  UserId sender = 0;
  DeviceId sender_device = 0;
  TimeUs server_time = 0;  // informational only: order is `seq`
  std::string client_msg_id;
  std::string text;
  std::vector<UserId> users;
};

// One inbox entry: a reference to a channel message, and whether it counts as unread for
// the inbox's owner (a text message from someone else).
struct InboxRef {
  InboxSeq inbox_seq = 0;
  MessageId message;
  bool counts_unread = false;
};

enum class ContactState : std::uint8_t { contact = 1, blocked = 2 };

struct ContactRecord {
  ContactState state = ContactState::contact;
  TimeUs since = 0;
};

struct PushTokenRecord {
  DeviceId device = 0;
  std::string platform;  // "apns", "fcm" or "web"
  std::string token;
};

// A notification the node owes a device whose user had no online device when a message
// arrived. Kept in the outbox until a delivery worker has handed it to the push gateway.
struct PushIntent {
  std::uint64_t id = 0;  // unique per store: the gateway dedupes on it
  UserId user = 0;
  DeviceId device = 0;
  std::string platform;
  std::string token;
  ChannelId channel = 0;
  Seq seq = 0;
  UserId sender = 0;
  std::string preview;  // at most 120 code points of the text
  std::uint64_t unread_in_channel = 0;
  std::uint64_t unread_total = 0;
  TimeUs created_at = 0;
};

// A device's login: the node keeps only a hash of the bearer token it handed out.
struct TokenRecord {
  UserId user = 0;
  DeviceId device = 0;
  TimeUs expires_at = 0;
};

// Typed access to the tables. Holds no state of its own: every call goes to the Store, so
// an aborted transaction leaves nothing behind.
class Records {
 public:
  explicit Records(Store& store) : store_(store) {}

  // Writes the format version into an empty store, or checks it; throws StoreError on an
  // unknown version.
  void ensure_format();
  std::uint64_t allocate_id(std::string_view counter);

  std::optional<UserRecord> user(UserId id) const;
  // Case-insensitive (fold_user_name); nothing for a name outside the name rule.
  std::optional<UserId> user_by_name(std::string_view name) const;
  void put_user(const UserRecord& user);

  std::optional<DeviceRecord> device(DeviceId id) const;
  void put_device(const DeviceRecord& device);
  std::vector<DeviceId> devices_of(UserId user) const;

  std::optional<ChannelRecord> channel(ChannelId id) const;
  void put_channel(const ChannelRecord& channel);
  std::optional<ChannelId> direct_channel(UserId a, UserId b) const;
  void put_direct_channel(UserId a, UserId b, ChannelId channel);

  std::optional<MemberRecord> member(ChannelId channel, UserId user) const;
  void put_member(ChannelId channel, UserId user, const MemberRecord& member);
  // Active members in ascending user id order.
  std::vector<UserId> active_members(ChannelId channel) const;
  std::vector<std::pair<UserId, MemberRecord>> all_members(ChannelId channel) const;
  std::vector<ChannelId> channels_of(UserId user) const;
  // Up to `limit` of the channels the user is or was in with id > after, ascending.
  std::vector<ChannelId> channels_of(UserId user, ChannelId after, std::size_t limit) const;
  // The index of active group memberships (Table::user_groups), kept by the engine next to
  // put_member so that counting and listing a user's groups never scans former or 1:1 ones.
  void set_group_member(UserId user, ChannelId channel, bool active);
  // Up to `limit` groups the user is an active member of, ascending.
  std::vector<ChannelId> active_groups(UserId user, std::size_t limit) const;

  std::optional<MessageRecord> message(MessageId id) const;
  void put_message(const MessageRecord& message);
  // Messages with seq in [first, last], ascending.
  std::vector<MessageRecord> messages(ChannelId channel, Seq first, Seq last) const;
  // Messages with seq in [first, last], read from `last` down and ending once their texts
  // reach `max_bytes` (at least one message); returned ascending.
  std::vector<MessageRecord> messages_back(ChannelId channel, Seq first, Seq last,
                                           std::size_t max_bytes) const;

  InboxSeq inbox_head(UserId user) const;
  InboxSeq append_inbox(UserId user, MessageId message, bool counts_unread);
  // Up to `limit` entries with inbox seq > after, ascending.
  std::vector<InboxRef> inbox_after(UserId user, InboxSeq after, std::size_t limit) const;

  InboxSeq device_cursor(DeviceId device) const;
  void put_device_cursor(DeviceId device, InboxSeq cursor);

  std::optional<MessageId> idempotent_send(UserId user, std::string_view client_msg_id) const;
  void put_idempotent_send(UserId user, std::string_view client_msg_id, MessageId message);

  std::optional<ContactRecord> contact(UserId user, UserId other) const;
  void put_contact(UserId user, UserId other, const ContactRecord& contact);
  void erase_contact(UserId user, UserId other);
  std::vector<std::pair<UserId, ContactRecord>> contacts_of(UserId user) const;
  // Both users have each other as contacts (neither blocked): presence flows between them.
  bool friends(UserId a, UserId b) const;

  std::optional<TimeUs> last_active(UserId user) const;
  void put_last_active(UserId user, TimeUs at);

  std::vector<PushTokenRecord> push_tokens(UserId user) const;
  void put_push_token(UserId user, const PushTokenRecord& token);
  void erase_push_token(UserId user, DeviceId device);

  void put_push_intent(const PushIntent& intent);
  std::optional<PushIntent> push_intent(std::uint64_t id) const;
  void erase_push_intent(std::uint64_t id);
  // Intents in the outbox (kept as a counter in meta, so it costs one read).
  std::uint64_t push_outbox_size() const;
  // Up to `limit` intents with id > after, ascending.
  std::vector<PushIntent> push_intents_after(std::uint64_t after, std::size_t limit) const;

  std::optional<TimeUs> push_collapse(UserId user, ChannelId channel) const;
  void put_push_collapse(UserId user, ChannelId channel, TimeUs at);

  // Channel 0 is the user's total.
  std::uint64_t unread(UserId user, ChannelId channel) const;
  void add_unread(UserId user, ChannelId channel, std::int64_t delta);
  // Non-zero per-channel counts, ascending channel id (the total excluded).
  // Up to `limit` of them with channel id > after.
  std::vector<std::pair<ChannelId, std::uint64_t>> unread_channels(UserId user, ChannelId after,
                                                                   std::size_t limit) const;
  InboxSeq read_position(UserId user) const;
  void put_read_position(UserId user, InboxSeq position);

  std::optional<std::string> credential(UserId user) const;
  void put_credential(UserId user, std::string_view password_hash);
  std::optional<TokenRecord> token(std::string_view token_hash) const;
  void put_token(std::string_view token_hash, const TokenRecord& token);
  // Also forgets the token in its device's index.
  void erase_token(std::string_view token_hash);
  // The hashes of every live token of one device (a device has one after each login; more
  // only in stores written before re-login revoked the older ones).
  std::vector<std::string> device_token_hashes(UserId user, DeviceId device) const;
  void erase_device_tokens(UserId user, DeviceId device);

 private:
  void build_group_index();
  void build_device_token_index();
  void fold_name_keys();  // user_names by folded name, for stores written before

  Store& store_;
};

// Key helpers, public for the storage tests and tools that dump a store.
std::string encode_u64_key(std::uint64_t value);
std::string encode_pair_key(std::uint64_t first, std::uint64_t second);
std::uint64_t decode_u64_key(std::string_view bytes);
// The key just past every key that starts with `prefix`: the bound for a prefix scan.
std::string prefix_end(std::string prefix);

}  // namespace parley::engine
