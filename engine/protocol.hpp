// What clients and the engine say to each other: the requests a client sends (namespace
// client) and the events the engine sends back (namespace server), decoded and in engine
// terms. The wire codec (Cap'n Proto and JSON), the client library and the simulator's
// devices need this header and nothing else of the engine: no tables, no Store, no
// credentials. docs/protocol.md describes each one on the wire.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "engine/message.hpp"
#include "engine/types.hpp"

namespace parley::engine {

// ---- What clients ask (the payload of a frame, once decoded by the host) -----------------
namespace client {
// Exactly one of `channel` (an existing channel) or `peer` (a user: their 1:1 channel, made
// on first use) is non-zero. Answered by SendAck, or a Failure: invalid_client_msg_id,
// invalid_utf8, message_empty, message_too_long, bad_request, unknown_user, unknown_channel,
// not_a_member, blocked; for a reply, unknown_message and message_deleted (rule 21).
struct Send {
  RequestId request = 0;
  ChannelId channel = 0;
  UserId peer = 0;
  std::string client_msg_id;  // 1 to limits::kMaxClientMsgIdBytes bytes of UTF-8
  std::string text;           // 1 to limits::kMaxMessageCodePoints code points of UTF-8
  Seq reply_to = 0;           // a text message of the channel this replies to; 0: none
};
// Moves the device's cursor: every inbox entry up to `inbox_seq` was received and stored.
struct Ack {
  InboxSeq inbox_seq = 0;
};
// A page of up to `limit` (1 to limits::kMaxHistoryPage) messages with seq < `before_seq`
// (0: from the newest).
struct History {
  RequestId request = 0;
  ChannelId channel = 0;
  Seq before_seq = 0;
  std::uint32_t limit = 50;
};
struct CreateGroup {
  RequestId request = 0;
  std::string name;
  std::vector<UserId> members;  // besides the creator, who is always a member and the admin
};
struct AddMember {
  RequestId request = 0;
  ChannelId channel = 0;
  UserId user = 0;
};
struct RemoveMember {
  RequestId request = 0;
  ChannelId channel = 0;
  UserId user = 0;
};
struct LeaveGroup {
  RequestId request = 0;
  ChannelId channel = 0;
};
struct Logout {
  RequestId request = 0;
};
// A sign of life; no answer. Any other request counts as one too.
struct Heartbeat {};
enum class ContactAction : std::uint8_t { add, remove, block, unblock };
struct ChangeContact {
  RequestId request = 0;
  ContactAction action = ContactAction::add;
  UserId user = 0;
};
struct ListContacts {
  RequestId request = 0;
};
// Presence of up to limits::kMaxPresenceQuery users: each a friend (mutual contact) or a member of
// a group the asker is in.
struct QueryPresence {
  RequestId request = 0;
  std::vector<UserId> users;
};
// Registers (or replaces) this device's push token.
struct RegisterPushToken {
  RequestId request = 0;
  std::string platform;  // "apns", "fcm" or "web"
  std::string token;
};
struct UnregisterPushToken {
  RequestId request = 0;
};
// The total and up to limits::kMaxUnreadPage non-zero channel counts with channel > after.
struct QueryUnread {
  RequestId request = 0;
  ChannelId after = 0;
};
// The channels the user is or was in: what a client needs to draw its chat list on a new
// device, where deliveries alone say neither a 1:1 channel's peer nor a group's name. One
// page: up to `limit` (1 to limits::kMaxChannelPage) channels with id > after.
struct ListChannels {
  RequestId request = 0;
  ChannelId after = 0;
  std::uint32_t limit = limits::kDefaultChannelPage;
};
// The user is typing in `channel` (typing = true: sent again every limits::kTypingRefreshUs
// while they type) or stopped (false: the composer was cleared). Ephemeral: nothing is
// stored; the other active members' live connections get a server::Typing, throttled per
// (channel, user) by engine/typing.cpp (extra ones are dropped, not refused). No
// answer on success. Failures: bad_request (channel 0, or over HTTP), unknown_channel,
// not_a_member, blocked (a 1:1 channel where either side blocked the other).
struct Typing {
  RequestId request = 0;
  ChannelId channel = 0;
  bool typing = true;
};
// The user has seen `channel` up to `seq` (receipts, docs/engine.md rule 19): their read
// position there moves up to it (never back), the messages it passes leave the unread
// counts, their other devices get a server::Receipt, and so do the members whose messages
// it passes (unless either side turned read receipts off: then they learn delivery only).
// Answered by Ok. Failures: bad_request (seq 0, or past the last seq the user may read:
// the channel's newest, or for a former member the event that removed them),
// unknown_channel, not_a_member (never a member).
struct MarkRead {
  RequestId request = 0;
  ChannelId channel = 0;
  Seq seq = 0;
};
// Every active member's delivered and read positions in `channel`: answered by Receipts.
// Failures: unknown_channel, not_a_member (active members only).
struct QueryReceipts {
  RequestId request = 0;
  ChannelId channel = 0;
};
// The user's settings: with `read_receipts` set, changes it first. Answered by Settings,
// which the user's other live devices get too (request 0) when it changed.
struct Settings {
  RequestId request = 0;
  std::optional<bool> read_receipts;
};
// Replaces the text of the user's text message `seq` in `channel` for everyone (rule 20):
// the channel gets an `edited` entry (target = seq, the new text) and the original holds
// the new text from then on. Answered by Ok, also when the text is the one it has (then
// nothing is stored). Failures: unknown_channel, not_a_member (active members only),
// unknown_message (no text message `seq` the user may read), not_your_message, too_late
// (EngineConfig::edit_window_us after the original's server_time), message_deleted,
// blocked (a 1:1 chat where either side blocked the other), and Send's text failures.
struct EditMessage {
  RequestId request = 0;
  ChannelId channel = 0;
  Seq seq = 0;
  std::string text;
};
// Deletes text message `seq` of `channel` for everyone (rule 20): the user's own within
// EngineConfig::delete_window_us of its server_time, or any in a group the user is the
// admin of. The channel gets a `deleted` entry (target = seq) and the original's text, and
// that of every `edited` entry of it, is erased from the store. Answered by Ok, also when
// it was deleted already (then nothing is stored). Failures: unknown_channel,
// not_a_member, unknown_message, not_your_message, too_late.
struct DeleteMessage {
  RequestId request = 0;
  ChannelId channel = 0;
  Seq seq = 0;
};
// Mutes `channel` for the user (rule 21): for `for_us` from now (1 to limits::kMaxMuteUs),
// or `forever`; neither unmutes it. While muted, only messages mentioning the user push.
// Answered by ChannelMute, which the user's other live devices get too (request 0).
// Failures: bad_request (for_us out of range, or both set), unknown_channel, not_a_member.
struct MuteChannel {
  RequestId request = 0;
  ChannelId channel = 0;
  TimeUs for_us = 0;
  bool forever = false;
};
// The user's answer to a message request (rule 22): accept it (a 1:1 chat's peer becomes a
// contact) or delete it (a 1:1 chat is cleared up to its newest message and left out of the
// channel list until a newer one; a group is left). Answered by RequestAnswered, which the
// user's other live devices get too (request 0). Failures: unknown_channel, not_a_member,
// bad_request (delete of a chat that is not a request), too_many_contacts (accept).
enum class RequestAnswer : std::uint8_t { accept, delete_ };
struct AnswerRequest {
  RequestId request = 0;
  ChannelId channel = 0;
  RequestAnswer answer = RequestAnswer::accept;
};
// Full-text search over every text message the user may read (docs/search.md): `query` is
// 1 to limits::kMaxSearchQueryBytes bytes of UTF-8 (its words must all occur, the last as a
// prefix); the page skips `offset` hits (at most limits::kMaxSearchOffset) and holds up to
// `limit` (1 to limits::kMaxSearchPage). Answered by SearchResults, or a Failure:
// invalid_utf8, invalid_limit, bad_request (an empty or too long query, offset too deep, or
// a search made outside a WebSocket connection).
struct Search {
  RequestId request = 0;
  std::string query;
  std::uint32_t offset = 0;
  std::uint32_t limit = 20;
};
using Request =
    std::variant<Send, Ack, History, CreateGroup, AddMember, RemoveMember, LeaveGroup, Logout,
                 Heartbeat, ChangeContact, ListContacts, QueryPresence, RegisterPushToken,
                 UnregisterPushToken, QueryUnread, ListChannels, Typing, MarkRead, QueryReceipts,
                 Settings, EditMessage, DeleteMessage, MuteChannel, AnswerRequest, Search>;
}  // namespace client

// The request id a reply to `request` carries (0 for an Ack, which has no reply).
RequestId request_id(const client::Request& request);

// ---- What the engine tells clients ---------------------------------------------------------
using Message = MessageRecord;

struct InboxEntry {
  InboxSeq inbox_seq = 0;
  Message message;
};

namespace server {
// The connection is bound to its device; deliveries after `cursor` follow.
struct Welcome {
  UserId user = 0;
  DeviceId device = 0;
  InboxSeq cursor = 0;
  InboxSeq inbox_head = 0;
  TimeUs heartbeat_interval_us = 0;  // heartbeat at least this often
  TimeUs presence_timeout_us = 0;
};
// Inbox entries in ascending, gap-free inbox order, starting right after the last entry this
// connection was sent.
struct Deliver {
  std::vector<InboxEntry> entries;
};
// The message is durable as (channel, seq). `duplicate` is set when the client_msg_id was
// seen before: nothing new was stored and these are the original's coordinates.
struct SendAck {
  RequestId request = 0;
  ChannelId channel = 0;
  Seq seq = 0;
  TimeUs server_time = 0;
  bool duplicate = false;
};
struct GroupCreated {
  RequestId request = 0;
  ChannelId channel = 0;
};
struct HistoryPage {
  RequestId request = 0;
  ChannelId channel = 0;
  std::vector<Message> messages;  // ascending seq
  bool has_more = false;          // older messages exist before the first one
};
// A request that needs no other answer succeeded.
struct Ok {
  RequestId request = 0;
};
struct Failure {
  RequestId request = 0;  // 0 when the failure answers no request
  ErrorCode code = ErrorCode::bad_request;
  std::string message;
};
struct PresenceEntry {
  UserId user = 0;
  bool online = false;
  TimeUs last_active_at = 0;  // 0: never seen, or no longer visible to you
};
// A friend's presence changed (or stopped being visible: offline with last_active_at 0).
struct Presence {
  PresenceEntry entry;
};
// Answers QueryPresence; with request 0, the snapshot of every friend sent after Welcome.
struct PresenceList {
  RequestId request = 0;
  std::vector<PresenceEntry> entries;
};
struct ContactEntry {
  UserId user = 0;
  std::string name;
  ContactState state = ContactState::contact;
  bool mutual = false;  // they have you as a contact too: presence flows both ways
};
struct ContactList {
  RequestId request = 0;
  std::vector<ContactEntry> contacts;
};
struct UnreadCounts {
  RequestId request = 0;
  std::uint64_t total = 0;
  std::vector<std::pair<ChannelId, std::uint64_t>> channels;  // non-zero, ascending channel
  bool more = false;  // more non-zero counts follow: ask again with after = the last channel
};
struct ChannelMember {
  UserId user = 0;
  std::string name;
};
struct ChannelSummary {
  ChannelId channel = 0;
  ChannelKind kind = ChannelKind::direct;
  std::string name;  // a group's name; empty for a 1:1 channel
  UserId admin = 0;  // 0 for a 1:1 channel
  // The last seq the user may read: the channel's newest, or the event that removed them.
  Seq last_seq = 0;
  bool active = true;  // false once removed from or having left a group
  // Active members in ascending user id (a 1:1 channel: both users, or one when it is your
  // own); empty when `active` is false, since a former member is not shown later changes.
  std::vector<ChannelMember> members;
  Seq read_seq = 0;            // your read position here (MarkRead), synced across your devices
  TimeUs muted_until = 0;      // engine time your timed mute ends; 0: none (or forever)
  bool muted_forever = false;  // muted until you unmute
  bool request = false;        // a message request for you (rule 22): no badge, no push
  Seq cleared_seq = 0;         // a 1:1 request you deleted: its seqs up to here are cleared
};
struct ChannelList {
  RequestId request = 0;
  std::vector<ChannelSummary> channels;  // ascending channel id
  bool more = false;  // channels with a higher id follow: ask again with after = the last one
};
// `user` started typing in `channel` (typing = true: show "typing…" for at most `ttl_us`
// unless renewed) or stopped (false: hide it now). A message from `user` in `channel` also
// ends it. Never stored, never replayed: only live connections of the channel's other active
// members get it.
struct Typing {
  ChannelId channel = 0;
  UserId user = 0;
  bool typing = true;
  TimeUs ttl_us = 0;
};
// One member's receipt positions in a channel: every message with seq <= delivered_seq is
// stored on at least one of their devices; every one with seq <= read_seq was seen
// (read_seq <= delivered_seq). read_seq is 0 when it is not shared: the member, or you,
// turned read receipts off.
struct ReceiptEntry {
  UserId user = 0;
  Seq delivered_seq = 0;
  Seq read_seq = 0;
};
// A member's positions moved: sent live to the members whose messages the move passed, and
// for a read, to the reader's other devices (how read positions sync). Not replayed: a
// client that was away asks QueryReceipts.
struct Receipt {
  ChannelId channel = 0;
  ReceiptEntry entry;
};
// Answers QueryReceipts: the active members in ascending user id. With request 0 it answers
// nothing: one commit's receipts to a connection for one channel, coalesced by the host
// (host/coalesce.hpp): only the members who moved, each once, in ascending user id.
struct Receipts {
  RequestId request = 0;
  ChannelId channel = 0;
  std::vector<ReceiptEntry> entries;
};
// Answers client::Settings; request 0 when another of the user's devices changed them.
struct Settings {
  RequestId request = 0;
  bool read_receipts = true;
};
// The user's mute of `channel` now (rule 21): answers MuteChannel, and goes with request 0
// to the user's other live devices. muted_until: engine time the mute ends (0: not muted,
// or muted forever).
struct ChannelMute {
  RequestId request = 0;
  ChannelId channel = 0;
  TimeUs muted_until = 0;
  bool forever = false;
};
// Answers client::AnswerRequest, and goes with request 0 to the user's other live devices.
// cleared_seq: for a deleted 1:1 request, the newest seq cleared for the user (else 0).
struct RequestAnswered {
  RequestId request = 0;
  ChannelId channel = 0;
  client::RequestAnswer answer = client::RequestAnswer::accept;
  Seq cleared_seq = 0;
};
// A piece of a search hit's snippet: `match` marks a word the query found (to highlight).
struct SnippetPart {
  std::string text;
  bool match = false;
  friend bool operator==(const SnippetPart&, const SnippetPart&) = default;
};
struct SearchHit {
  ChannelId channel = 0;
  Seq seq = 0;
  UserId sender = 0;
  TimeUs server_time = 0;
  std::vector<SnippetPart> snippet;  // up to ~16 words of the message's latest text, in order
};
// Answers client::Search. Made by the host from its search index (docs/search.md), within
// the windows the engine computed: never a message the asker may not read.
struct SearchResults {
  RequestId request = 0;
  std::vector<SearchHit> hits;  // best first: BM25 rank, then newest
  bool more = false;            // more hits follow: ask again with offset + hits.size()
};
using Event =
    std::variant<Welcome, Deliver, SendAck, GroupCreated, HistoryPage, Ok, Failure, Presence,
                 PresenceList, ContactList, UnreadCounts, ChannelList, Typing, Receipt, Receipts,
                 Settings, ChannelMute, RequestAnswered, SearchResults>;

// The receipts `event` tells, one call per member: a Receipt's entry, or each entry of a
// coalesced Receipts (request 0); nothing for any other event, an answer to QueryReceipts
// included. `Ev` is Event or const Event; `tell(ChannelId, ReceiptEntry&)`.
template <typename Ev, typename F>
void for_each_receipt(Ev& event, F&& tell) {
  if (auto* one = std::get_if<Receipt>(&event)) {
    tell(one->channel, one->entry);
  } else if (auto* many = std::get_if<Receipts>(&event); many != nullptr && many->request == 0) {
    for (auto& entry : many->entries)
      tell(many->channel, entry);
  }
}
}  // namespace server

}  // namespace parley::engine
