// Typed records over the Store's byte tables: the engine's only way to its state.
//
// Internal to the engine: hosts go through Engine's operations (engine/engine.hpp). Keys are
// engine/keys.hpp's, values engine/record_codec.hpp's; the encoding is shared by every store,
// so the simulator and production read and write exactly the same bytes (docs/storage.md).
// The record types themselves are in engine/record_types.hpp.
//
// The methods are split by domain: records.cpp (format, ids, migrations) and records_*.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/keys.hpp"
#include "engine/record_types.hpp"
#include "engine/store.hpp"
#include "engine/types.hpp"

namespace parley::engine {

// Typed access to the tables. Holds no state of its own: every call goes to the Store, so
// an aborted transaction leaves nothing behind.
class Records {
 public:
  // With `check_encoding` (EngineConfig::check_invariants), every write decodes the bytes it
  // is about to store and throws InvariantViolation unless they give back the record.
  explicit Records(Store& store, bool check_encoding = false)
      : store_(store), check_encoding_(check_encoding) {}

  // ---- records.cpp: the format and id counters -------------------------------------------
  // Writes the format version into an empty store, or checks it and brings an older layout
  // of the same version up to date (indexes added since); throws StoreError on an unknown
  // version.
  void ensure_format();
  // The next id from meta's counter "next_<counter>": 1, 2, 3, ...
  std::uint64_t allocate_id(std::string_view counter);

  // ---- records_accounts.cpp: users, devices, credentials, tokens -------------------------
  std::optional<UserRecord> user(UserId id) const;
  // Case-insensitive (fold_user_name); nothing for a name outside the name rule.
  std::optional<UserId> user_by_name(std::string_view name) const;
  void put_user(const UserRecord& user);

  std::optional<DeviceRecord> device(DeviceId id) const;
  void put_device(const DeviceRecord& device);
  std::vector<DeviceId> devices_of(UserId user) const;

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

  // ---- records_channels.cpp: channels, members, messages ---------------------------------
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
  // Up to `limit` messages after `after` in (channel, seq) order, across channels.
  std::vector<MessageRecord> messages_after(MessageId after, std::size_t limit) const;
  // Messages with seq in [first, last], read from `last` down and ending once their texts
  // reach `max_bytes` (at least one message); returned ascending.
  std::vector<MessageRecord> messages_back(ChannelId channel, Seq first, Seq last,
                                           std::size_t max_bytes) const;

  // ---- records_inbox.cpp: inboxes, cursors, idempotency, unread counts -------------------
  InboxSeq inbox_head(UserId user) const;
  InboxSeq append_inbox(UserId user, MessageId message, bool counts_unread);
  // Up to `limit` entries with inbox seq > after, ascending.
  std::vector<InboxRef> inbox_after(UserId user, InboxSeq after, std::size_t limit) const;

  InboxSeq device_cursor(DeviceId device) const;
  void put_device_cursor(DeviceId device, InboxSeq cursor);

  std::optional<MessageId> idempotent_send(UserId user, std::string_view client_msg_id) const;
  void put_idempotent_send(UserId user, std::string_view client_msg_id, MessageId message);

  // Channel 0 is the user's total.
  std::uint64_t unread(UserId user, ChannelId channel) const;
  void add_unread(UserId user, ChannelId channel, std::int64_t delta);
  // Non-zero per-channel counts, ascending channel id (the total excluded).
  // Up to `limit` of them with channel id > after.
  std::vector<std::pair<ChannelId, std::uint64_t>> unread_channels(UserId user, ChannelId after,
                                                                   std::size_t limit) const;
  // The highest inbox entry any of the user's devices acked (delivered, not read: rule 19).
  InboxSeq read_position(UserId user) const;
  void put_read_position(UserId user, InboxSeq position);

  // ---- records_receipts.cpp: unread entries, receipt positions, settings -----------------
  // The user's messages counted unread in `channel`, one key each (rule 19: unread counts
  // move when the user reads, not when a device acks).
  void put_unread_entry(UserId user, ChannelId channel, Seq seq);
  // Erases the user's unread entries in `channel` with seq <= upto; returns how many.
  std::uint64_t take_unread_entries(UserId user, ChannelId channel, Seq upto);
  // Zeroes when absent.
  ReceiptRecord receipt(ChannelId channel, UserId user) const;
  void put_receipt(ChannelId channel, UserId user, const ReceiptRecord& receipt);
  // Every receipt row of the channel (its members, past and present), ascending user id.
  std::vector<std::pair<UserId, ReceiptRecord>> receipts_of(ChannelId channel) const;
  UserSettings settings(UserId user) const;  // the defaults when absent
  void put_settings(UserId user, const UserSettings& settings);

  // ---- records_contacts.cpp: contacts and last-seen times --------------------------------
  std::optional<ContactRecord> contact(UserId user, UserId other) const;
  void put_contact(UserId user, UserId other, const ContactRecord& contact);
  void erase_contact(UserId user, UserId other);
  std::vector<std::pair<UserId, ContactRecord>> contacts_of(UserId user) const;
  // Both users have each other as contacts (neither blocked): presence flows between them.
  bool friends(UserId a, UserId b) const;

  std::optional<TimeUs> last_active(UserId user) const;
  void put_last_active(UserId user, TimeUs at);

  // ---- records_push.cpp: push tokens, the outbox, collapse times -------------------------
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

  // ---- records_sessions.cpp: engine memory (EngineConfig::durable_sessions) --------------
  void put_session(ConnectionId connection, const SessionRecord& session);
  void erase_session(ConnectionId connection);
  // Every live connection, ascending connection id.
  std::vector<std::pair<ConnectionId, SessionRecord>> sessions() const;
  void put_live_device(DeviceId device, const LiveDeviceRecord& life);
  void erase_live_device(DeviceId device);
  // Every device presence holds alive, ascending device id.
  std::vector<std::pair<DeviceId, LiveDeviceRecord>> live_devices() const;
  void put_live_user(UserId user, TimeUs last_active);
  void erase_live_user(UserId user);
  // Every user presence holds online with their last_active_at, ascending user id.
  std::vector<std::pair<UserId, TimeUs>> live_users() const;

 private:
  void build_group_index();
  void build_device_token_index();
  void fold_name_keys();        // user_names by folded name, for stores written before
  void build_unread_entries();  // unread_entries, for stores whose acks moved unread counts

  // `bytes`, once they decode back to `value` (only checked with check_encoding_): an
  // encoder that drifts from its decoder fails at the write, not when a restart reads it.
  template <typename T, typename Decode>
  std::string checked(std::string bytes, const T& value, Decode decode) const {
    if (!check_encoding_) return bytes;
    bool record_decodes_back_to_itself = false;
    try {
      record_decodes_back_to_itself = decode(std::string_view(bytes)) == value;
    } catch (const StoreError&) {
    }
    PARLEY_ASSERT(record_decodes_back_to_itself);
    return bytes;
  }

  Store& store_;
  bool check_encoding_ = false;
};

}  // namespace parley::engine
