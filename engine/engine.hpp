// parley's engine: a pure, deterministic state machine for chat.
//
// The host (the simulator or the production node) feeds it inputs, each with the current
// time, and gets back effects. The engine does no I/O, reads no clock, starts no thread and
// draws no random number; all persistent state goes through the Store.
//
// THE DURABILITY RULE. The host opens a Store transaction, passes a batch of inputs through
// handle(), commits, and only then releases the effects it collected. Nothing in an Effects
// vector may leave the node before that commit returns: an ack or a delivery promises that
// the message is durable. If the commit fails, the host drops the effects, discards this
// Engine (its in-memory connection table describes state the disk does not have) and
// restarts from the store.
#pragma once

#include <list>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "engine/presence.hpp"
#include "engine/push.hpp"
#include "engine/records.hpp"
#include "engine/store.hpp"
#include "engine/types.hpp"

namespace parley::engine {

struct EngineConfig {
  // Most inbox entries in one Deliver event while a device catches up.
  std::uint32_t delivery_batch = 100;
  // Most entries sent to one connection and not yet acked; past it the engine waits for an
  // ack. This bounds what a slow device can make the node hold for it.
  std::uint32_t delivery_window = 500;
  // A Deliver event stops growing once its messages' text passes this many bytes (it always
  // holds at least one entry), so a frame stays a sensible size for clients.
  std::size_t delivery_batch_bytes = 1 << 20;
  // Most text bytes sent to one connection and not yet acked (at least one entry is always
  // allowed). With delivery_window this bounds what a slow device makes the node hold.
  std::size_t delivery_window_bytes = 4 << 20;
  // A HistoryPage stops growing once its messages' text reaches this many bytes (it always
  // holds at least one message); has_more then tells the client to page on.
  std::size_t history_page_bytes = 1 << 20;
  // Clients are told to heartbeat this often (in Welcome).
  TimeUs heartbeat_interval_us = 5'000'000;
  // A user is online while any device showed a sign of life less than this long ago.
  TimeUs presence_timeout_us = 30'000'000;
  // At most one push intent per user and channel within this window.
  TimeUs push_collapse_window_us = 10'000'000;
  // Who gets push intents: users shown offline (no device heartbeated within the timeout),
  // or also users whose devices are all disconnected but not yet timed out.
  enum class PushWhen : std::uint8_t { offline, disconnected } push_when = PushWhen::offline;
  // Most intents waiting in the outbox; past it new ones are dropped (PushDropped effect).
  std::uint64_t push_outbox_max = 100'000;
};

// ---- What clients ask (the payload of a frame, once decoded by the host) -----------------
namespace client {
// Exactly one of `channel` (an existing channel) or `peer` (a user: their 1:1 channel, made
// on first use) is non-zero.
struct Send {
  RequestId request = 0;
  ChannelId channel = 0;
  UserId peer = 0;
  std::string client_msg_id;
  std::string text;
};
// Moves the device's cursor: every inbox entry up to `inbox_seq` was received and stored.
struct Ack {
  InboxSeq inbox_seq = 0;
};
// A page of up to `limit` messages with seq < `before_seq` (0: from the newest).
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
// Presence of up to 100 users: each a friend (mutual contact) or a member of a group the
// asker is in.
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
using Request = std::variant<Send, Ack, History, CreateGroup, AddMember, RemoveMember, LeaveGroup,
                             Logout, Heartbeat, ChangeContact, ListContacts, QueryPresence,
                             RegisterPushToken, UnregisterPushToken, QueryUnread, ListChannels>;
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
};
struct ChannelList {
  RequestId request = 0;
  std::vector<ChannelSummary> channels;  // ascending channel id
  bool more = false;  // channels with a higher id follow: ask again with after = the last one
};
using Event = std::variant<Welcome, Deliver, SendAck, GroupCreated, HistoryPage, Ok, Failure,
                           Presence, PresenceList, ContactList, UnreadCounts, ChannelList>;
}  // namespace server

// ---- Inputs and effects --------------------------------------------------------------------
// The host authenticated a connection as `device`, which says it has every inbox entry up to
// `cursor` (its cur_max_message_id).
struct Connected {
  ConnectionId connection = 0;
  DeviceId device = 0;
  InboxSeq cursor = 0;
};
struct Received {
  ConnectionId connection = 0;
  client::Request request;
};
struct Disconnected {
  ConnectionId connection = 0;
};
// Time passed: expires presence. The host ticks at least once a second.
struct Tick {};
// What the push gateway did with outbox intent `id` (the host's delivery worker reports it).
enum class PushOutcome : std::uint8_t {
  delivered,   // 2xx: the intent leaves the outbox
  dead_token,  // the gateway says the token is dead: the intent leaves, the token is dropped
  rejected,    // any other refusal that retrying cannot fix: the intent leaves
};
struct PushResult {
  std::uint64_t id = 0;
  PushOutcome outcome = PushOutcome::delivered;
};
using Input = std::variant<Connected, Received, Disconnected, Tick, PushResult>;

struct SendEvent {
  ConnectionId connection = 0;
  server::Event event;
};
enum class CloseReason : std::uint8_t { logged_out, replaced, unknown_device, invalid_cursor };
std::string_view to_string(CloseReason reason);

// The user name rule: 1 to limits::kMaxUserNameBytes of a-z A-Z 0-9 _ - ., starting with a
// letter or digit. Hosts check names from clients with it before any lookup.
bool valid_user_name(std::string_view name);
struct CloseConnection {
  ConnectionId connection = 0;
  CloseReason reason = CloseReason::logged_out;
};
// A push intent was written to the store's outbox (Table::push_outbox); the host's delivery
// worker sends it once the batch commits.
struct PushNotification {
  PushIntent intent;
};
// A user's presence changed (whether or not any friend is connected to hear it). Informs
// metrics and the simulator's checker; the host owes nobody a delivery for it.
// The push outbox was full (EngineConfig::push_outbox_max): this intent was not written.
// Hosts count and log it.
struct PushDropped {
  UserId user = 0;
  ChannelId channel = 0;
  Seq seq = 0;
};
using Effect =
    std::variant<SendEvent, CloseConnection, PushNotification, PresenceChange, PushDropped>;
// In order: the host sends them in this order, and only after the batch commits.
using Effects = std::vector<Effect>;

template <typename T>
using Outcome = std::variant<T, Error>;

class Engine {
 public:
  // REQUIRES: `store` outlives the engine.
  explicit Engine(Store& store, EngineConfig config = {});

  // Checks or writes the store's format version. Call once, inside a transaction, before
  // anything else; throws StoreError for a store this build cannot read. The users the store
  // shows online are held online for a full presence timeout from `now` (a restart must not
  // make everyone look away); without `now`, from the time of the first input.
  void open();
  void open(TimeUs now);

  // All calls below require an open store transaction.
  Effects handle(const Input& input, TimeUs now);

  // A request made outside any WebSocket (the node's HTTP API) on behalf of `device` of
  // `user`: the answer is the SendEvent addressed to connection 0 in the returned effects;
  // the rest (fanout to other users' connections, push intents) is released as usual. It
  // is no sign of life. Ack, Logout and Heartbeat need a connection: bad_request.
  Effects handle_for(UserId user, DeviceId device, const client::Request& request, TimeUs now);

  // Account services (the HTTP side of the node). They change only the store.
  Outcome<UserId> create_user(std::string_view name, TimeUs now);
  Outcome<DeviceId> add_device(UserId user, std::string_view label, TimeUs now);
  // Signs `device` of `user` out: forgets every token of the device and its push token,
  // closes its live connection (logged_out) and, if that was the user's last live device,
  // shows the user offline at once. For logout (HTTP and WebSocket), "log out everywhere"
  // and a password change (every other device).
  Effects sign_out_device(UserId user, DeviceId device, TimeUs now);
  // The same for several devices of `user` at once: every push token goes first, so a
  // presence change on the way cannot push to a device that is being signed out.
  Effects sign_out_devices(UserId user, const std::vector<DeviceId>& devices, TimeUs now);
  // A device logs in again: every older token of it stops working and its live connection
  // closes (replaced); its presence and push token stay, as the same device comes back.
  Effects revoke_device_tokens(UserId user, DeviceId device);

  Records& records() { return records_; }
  const EngineConfig& config() const { return config_; }
  std::size_t connection_count() const { return connections_.size(); }
  const PresenceTracker& presence() const { return presence_; }
  // What a viewer is shown of `user` right now (no visibility check).
  server::PresenceEntry presence_of(UserId user) const;

 private:
  struct Connection {
    DeviceId device = 0;
    UserId user = 0;
    InboxSeq acked = 0;      // the device has everything up to here
    InboxSeq sent_upto = 0;  // the last inbox entry sent on this connection
    // Entries sent and not yet acked, with their text sizes (empty when caught up and idle).
    // A list because an empty one allocates nothing; an empty std::deque holds ~600 bytes,
    // for every idle connection.
    std::list<std::pair<InboxSeq, std::size_t>> in_flight;
    std::size_t in_flight_bytes = 0;
  };
  class RequestHandler;

  Effects on_connected(const Connected& input, TimeUs now);
  Effects on_received(const Received& input, TimeUs now);
  Effects on_disconnected(const Disconnected& input);
  Effects on_tick(TimeUs now);
  Effects on_push_result(const PushResult& result);

  void forget_connection(ConnectionId id);
  // Closes `device`'s live connection, if it has one, with `reason`.
  void close_device_connection(DeviceId device, CloseReason reason, Effects& out);
  // Sends the connection whatever it is owed from its user's inbox, within the window.
  void pump(ConnectionId id, Connection& connection, Effects& out);
  // Delivers a just-appended inbox entry to the user's live, caught-up connections.
  void deliver_live(UserId user, Effects& out);
  // Tells a user's online friends about a presence change and persists it; a user shown
  // offline gets the pushes they were owed (engine/push.cpp).
  void announce(const PresenceChange& change, TimeUs now, Effects& out);
  void send_to_user(UserId user, const server::Event& event, Effects& out);
  bool pushable(UserId user) const;
  // engine/push.cpp: intents now, intents owed until the user is away, restored presence.
  void push_message(UserId user, const MessageRecord& message, TimeUs now, Effects& out);
  void defer_push(UserId user, const MessageRecord& message, InboxSeq inbox_seq);
  void push_pending(UserId user, TimeUs now, Effects& out);
  void clear_read_pushes(UserId user, InboxSeq read_position);
  void restore_presence(TimeUs now);

  Store& store_;
  Records records_;
  EngineConfig config_;
  // Ordered maps: iteration order reaches effects, so it must not depend on hashing.
  std::map<ConnectionId, Connection> connections_;
  std::map<DeviceId, ConnectionId> connection_by_device_;
  std::map<UserId, std::vector<ConnectionId>> connections_by_user_;
  PresenceTracker presence_;
  AwayRecords away_;
  bool presence_restored_ = true;  // open() clears it until restore_presence() runs

  friend class RequestHandler;
};

}  // namespace parley::engine
