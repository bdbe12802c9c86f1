// The records the engine keeps, as plain values: no tables, no Store. engine/records.hpp
// reads and writes them (Records); engine/record_codec.hpp encodes them (docs/storage.md).
// Hosts see some of them through Engine's operations (a TokenRecord, a PushIntent).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "engine/message.hpp"
#include "engine/types.hpp"

namespace parley::engine {

inline constexpr std::uint32_t kFormatVersion = 1;

struct UserRecord {
  UserId id = 0;
  std::string name;
  TimeUs created_at = 0;
  friend bool operator==(const UserRecord&, const UserRecord&) = default;
};

struct DeviceRecord {
  DeviceId id = 0;
  UserId user = 0;
  std::string label;
  TimeUs created_at = 0;
  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

struct ChannelRecord {
  ChannelId id = 0;
  ChannelKind kind = ChannelKind::direct;
  std::string name;  // empty for a direct channel
  UserId admin = 0;  // 0 for a direct channel
  Seq last_seq = 0;
  std::uint32_t member_count = 0;
  TimeUs created_at = 0;
  friend bool operator==(const ChannelRecord&, const ChannelRecord&) = default;
};

enum class MemberState : std::uint8_t { active = 1, removed = 2 };
inline constexpr MemberState kLastMemberState = MemberState::removed;

constexpr std::string_view to_string(MemberState state) {
  switch (state) {
    case MemberState::active:
      return "active";
    case MemberState::removed:
      return "removed";
  }
  return "unknown";
}
static_assert(covers_exactly(MemberState::active, kLastMemberState,
                             [](MemberState s) { return to_string(s) != "unknown"; }),
              "member states run from active to kLastMemberState: move kLastMemberState");

struct MemberRecord {
  MemberState state = MemberState::active;
  Seq joined_seq = 0;  // the event that (last) made the user a member
  Seq left_seq = 0;    // the event that removed the user; history stops here
  // Earlier membership windows (joined seq, left seq), oldest first, of a user who was
  // removed or left and was added again: the only other seqs they may read. At most
  // kMaxEarlierWindows (the oldest are forgotten past it, and become unreadable).
  std::vector<std::pair<Seq, Seq>> earlier;
  // The member's mute of the channel (rule 21): engine time at which it ends (0: not muted,
  // kMutedForever: until they unmute). While it lasts, only mentions of them push.
  TimeUs muted_until = 0;
  // The channel is a message request for the member (rule 22): set when a non-contact made
  // the 1:1 chat or added them to the group, or they removed or blocked the 1:1 peer;
  // cleared when they accept it or send in it. Its messages do not count unread for them
  // nor push them, and their reads are not shared.
  bool request = false;
  friend bool operator==(const MemberRecord&, const MemberRecord&) = default;
};
inline constexpr TimeUs kMutedForever = INT64_MAX;
inline constexpr std::size_t kMaxEarlierWindows = 100;

// One inbox entry: a reference to a channel message, and whether it counts as unread for
// the inbox's owner (a text message from someone else).
struct InboxRef {
  InboxSeq inbox_seq = 0;
  MessageId message;
  bool counts_unread = false;
  friend bool operator==(const InboxRef&, const InboxRef&) = default;
};

struct ContactRecord {
  ContactState state = ContactState::contact;
  TimeUs since = 0;
  friend bool operator==(const ContactRecord&, const ContactRecord&) = default;
};

struct PushTokenRecord {
  DeviceId device = 0;
  std::string platform;  // "apns", "fcm" or "web"
  std::string token;
  friend bool operator==(const PushTokenRecord&, const PushTokenRecord&) = default;
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
  std::string preview;  // at most limits::kPushPreviewCodePoints code points of the text
  std::uint64_t unread_in_channel = 0;
  std::uint64_t unread_total = 0;
  TimeUs created_at = 0;
  // The message mentions the recipient (rule 21): a phone may say "mentioned you", and it is
  // why a muted chat pushed at all.
  bool mentions_you = false;
  friend bool operator==(const PushIntent&, const PushIntent&) = default;
};

// A device's login: the node keeps only a hash of the bearer token it handed out.
struct TokenRecord {
  UserId user = 0;
  DeviceId device = 0;
  TimeUs expires_at = 0;  // engine time (microseconds); the token is dead from then on
  friend bool operator==(const TokenRecord&, const TokenRecord&) = default;
};

// Engine memory made durable (EngineConfig::durable_sessions, engine/sessions.cpp): a live
// connection's binding and delivery window. Its in-flight entries are acked + 1 to
// sent_upto, rebuilt from the inbox.
struct SessionRecord {
  DeviceId device = 0;
  UserId user = 0;
  InboxSeq acked = 0;
  InboxSeq sent_upto = 0;
  friend bool operator==(const SessionRecord&, const SessionRecord&) = default;
};

// Engine memory made durable: a device PresenceTracker holds alive, with its last sign of
// life and the deadline queued for it (both engine time, microseconds).
struct LiveDeviceRecord {
  UserId user = 0;
  TimeUs last_seen = 0;
  TimeUs deadline = 0;
  friend bool operator==(const LiveDeviceRecord&, const LiveDeviceRecord&) = default;
};

// A push the engine owes a user once they are shown offline (engine/push.hpp): the newest
// message of one channel that reached them while shown online with no device connected.
struct PendingPush {
  ChannelId channel = 0;
  Seq seq = 0;             // the newest message of the channel owed a push
  InboxSeq inbox_seq = 0;  // its place in the user's inbox: an ack at or past it reads it
  friend bool operator==(const PendingPush&, const PendingPush&) = default;
};

// A member's receipt positions in a channel (rule 19): delivered_seq, the highest seq one
// of their devices acked (or they read); read_seq, the highest they marked read
// (read_seq <= delivered_seq); last_sent_seq, their newest text message there, which says
// whom a move of another member's positions concerns (receipts.cpp).
struct ReceiptRecord {
  Seq delivered_seq = 0;
  Seq read_seq = 0;
  Seq last_sent_seq = 0;
  friend bool operator==(const ReceiptRecord&, const ReceiptRecord&) = default;
};

struct UserSettings {
  bool read_receipts = true;  // share read positions (and see others')
  friend bool operator==(const UserSettings&, const UserSettings&) = default;
};

}  // namespace parley::engine
