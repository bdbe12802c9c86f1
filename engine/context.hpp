// Internal to engine/: what the engine holds, the context one request runs in, and the
// operations the domain files share. Hosts include engine/engine.hpp, never this.
//
// Where things are. engine.cpp only dispatches: each Input to its handler, each client
// request to the handle() overload of its domain. The domains, one file each:
//
//   send.cpp      Send; a message entering a channel (append: store, fan out, deliver, push)
//   sync.cpp      Connected, Disconnected, Ack; the connection table, the delivery pump
//   history.cpp   History, within the member's windows
//   groups.cpp    CreateGroup, AddMember, RemoveMember, LeaveGroup; admin hand-over
//   channels.cpp  ListChannels; channel lookups shared by send and groups; 1:1 channels
//   contacts.cpp  ChangeContact, ListContacts; blocks
//   requests.cpp  AnswerRequest; which chats are message requests (rule 22)
//   search.cpp    Search: checked and scoped here, answered by the host's index
//   presence.cpp  Heartbeat, QueryPresence, Tick; announcing changes (and PresenceTracker)
//   push.cpp      RegisterPushToken, UnregisterPushToken, PushResult; intents, owed pushes
//   unread.cpp    QueryUnread; unread counts and the delivered position
//   receipts.cpp  MarkRead, QueryReceipts, Settings; delivered and read positions per channel
//   typing.cpp    Typing: ephemeral indicators, throttled, never stored
//   accounts.cpp  Logout, SignUp, IssueToken, SignOut, ChangePassword; users, devices,
//                 credentials, tokens, signing out
//
// A new request: add it to client::Request (engine/protocol.hpp), declare its handle()
// below, define it in its domain's file. Until then the dispatch fails to compile.
//
// Every request validates everything before its first write, so a refusal stores nothing.
#pragma once

#include <list>
#include <map>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/engine.hpp"
#include "engine/presence.hpp"
#include "engine/push.hpp"
#include "engine/records.hpp"

namespace parley::engine::detail {

// A live connection, bound to one device of one user.
struct Connection {
  DeviceId device = 0;
  UserId user = 0;
  InboxSeq acked = 0;      // the device has everything up to here
  InboxSeq sent_upto = 0;  // the last inbox entry sent on this connection
  // Entries sent and not yet acked, with their text sizes (empty when caught up and idle):
  // acked + 1 to sent_upto, in order. A list because an empty one allocates nothing; an
  // empty std::deque holds ~600 bytes, for every idle connection.
  std::list<std::pair<InboxSeq, std::size_t>> in_flight;
  std::size_t in_flight_bytes = 0;  // the sum of in_flight's sizes
};

// Everything an Engine holds: its store's tables, and what lives only in memory (the
// connection table and presence), which a restart rebuilds from the store.
struct State {
  State(Store& store, EngineConfig config);

  Store& store;
  EngineConfig config;
  Records records;
  // Hashed, because every input looks its connection up (a tree of thousands of
  // connections cost a cache miss per level). Nothing iterates them: iteration order would
  // reach effects, so a table that ever needs walking must become an ordered map again.
  std::unordered_map<ConnectionId, Connection> connections;
  std::unordered_map<DeviceId, ConnectionId> connection_by_device;
  std::unordered_map<UserId, std::vector<ConnectionId>> connections_by_user;
  PresenceTracker presence;
  AwayRecords away;
  bool presence_restored = true;  // open() clears it until restore_presence() runs
  // Typing indicators by (channel, user): when the last start was forwarded, and whether it
  // is shown (no stop since). Memory only, never written to the store: ephemeral by design.
  // A restarted engine has lost it and forwards at most one start early; cluster followers
  // replay the Typing inputs from the log and hold the same entries as the leader.
  // Entries go at their TTL (Tick), or at a message from the user in the channel.
  struct TypingShown {
    TimeUs started_at = 0;  // the last start forwarded
    TimeUs allowance = 0;   // starts forwardable after a stop, in time (typing.cpp)
    bool shown = true;
  };
  std::map<std::pair<ChannelId, UserId>, TypingShown> typing;
  // EngineConfig::durable_sessions: connections changed by the current input
  // (note_session), written at its end (persist_memory).
  std::vector<ConnectionId> changed_sessions;
};

// One request on one connection: a live one, or for Stateless one that
// exists only for the request (connection_id 0, never registered, never delivered to).
struct Context {
  State& state;
  Records& records;  // state.records
  ConnectionId connection_id;
  Connection& connection;
  TimeUs now;
  Effects& out;

  UserId user() const { return connection.user; }
  DeviceId device() const { return connection.device; }
  // The answer to the request, on this connection.
  void reply(server::Event event) { out.push_back(SendEvent{connection_id, std::move(event)}); }
  void fail(RequestId request, Error error) {
    reply(server::Failure{request, error.code, std::move(error.message)});
  }
};

// ---- Errors more than one domain gives ------------------------------------------------------
Error unknown_user(UserId user);
Error unknown_channel(ChannelId channel);
Error not_a_member(ChannelId channel);

// ---- Request handlers, by domain ------------------------------------------------------------
void handle(Context& context, const client::Send& send);                       // send.cpp
void handle(Context& context, const client::Ack& ack);                         // sync.cpp
void handle(Context& context, const client::History& history);                 // history.cpp
void handle(Context& context, const client::CreateGroup& create);              // groups.cpp
void handle(Context& context, const client::AddMember& add);                   // groups.cpp
void handle(Context& context, const client::RemoveMember& remove);             // groups.cpp
void handle(Context& context, const client::LeaveGroup& leave);                // groups.cpp
void handle(Context& context, const client::Logout& logout);                   // accounts.cpp
void handle(Context& context, const client::Heartbeat& heartbeat);             // presence.cpp
void handle(Context& context, const client::QueryPresence& query);             // presence.cpp
void handle(Context& context, const client::ChangeContact& change);            // contacts.cpp
void handle(Context& context, const client::ListContacts& list);               // contacts.cpp
void handle(Context& context, const client::RegisterPushToken& registration);  // push.cpp
void handle(Context& context, const client::UnregisterPushToken& unregister);  // push.cpp
void handle(Context& context, const client::QueryUnread& query);               // unread.cpp
void handle(Context& context, const client::ListChannels& list);               // channels.cpp
void handle(Context& context, const client::Typing& typing);                   // typing.cpp
void handle(Context& context, const client::MarkRead& mark);                   // receipts.cpp
void handle(Context& context, const client::QueryReceipts& query);             // receipts.cpp
void handle(Context& context, const client::Settings& settings);               // receipts.cpp
void handle(Context& context, const client::EditMessage& edit);                // edits.cpp
void handle(Context& context, const client::DeleteMessage& remove);            // edits.cpp
void handle(Context& context, const client::MuteChannel& mute);                // replies.cpp
void handle(Context& context, const client::AnswerRequest& answer);            // requests.cpp
void handle(Context& context, const client::Search& search);                   // search.cpp
// The search index's share of the input (IndexText, UnindexText effects): a text message
// stored or edited (`message` holds its latest text), or deleted for everyone.
void index_text(Context& context, const MessageRecord& message);    // search.cpp
void unindex_text(Context& context, const MessageRecord& message);  // search.cpp

// ---- Inputs other than requests ---------------------------------------------------------------
Effects on_connected(State& state, const Connected& input, TimeUs now);  // sync.cpp
Effects on_disconnected(State& state, const Disconnected& input);        // sync.cpp
Effects on_tick(State& state, TimeUs now);                               // presence.cpp
Effects on_push_result(State& state, const PushResult& result);          // push.cpp
// The account inputs (accounts.cpp): each ends with its AccountResult.
Effects on_sign_up(State& state, const SignUp& input, TimeUs now);
Effects on_issue_token(State& state, const IssueToken& input, TimeUs now);
Effects on_sign_out(State& state, const SignOut& input, TimeUs now);
Effects on_change_password(State& state, const ChangePassword& input, TimeUs now);

// ---- sync.cpp: connections and delivery -------------------------------------------------------
void forget_connection(State& state, ConnectionId id);
// Closes `device`'s live connection, if it has one, with `reason`.
void close_device_connection(State& state, DeviceId device, CloseReason reason, Effects& out);
// Sends the connection whatever it is owed from its user's inbox, within the window.
void pump(State& state, ConnectionId id, Connection& connection, Effects& out);
// Delivers a just-appended inbox entry to the user's live, caught-up connections.
void deliver_live(State& state, UserId user, Effects& out);

// ---- sessions.cpp: engine memory made durable (EngineConfig::durable_sessions) ----------------
// The connection's binding or window changed (or it went): persist_memory writes it.
inline void note_session(State& state, ConnectionId id) {
  if (state.config.durable_sessions) state.changed_sessions.push_back(id);
}
// Writes what the input changed in the connection table and presence; nothing when off.
void persist_memory(State& state);
// Reads them back into an engine that holds none (Engine::open).
void restore_memory(State& state);

// ---- send.cpp: messages entering a channel ----------------------------------------------------
// Send's rule for text (rule 4): the failure for text that is not valid UTF-8, empty, or
// limits::kMaxMessageCodePoints code points or more.
std::optional<Error> check_text(std::string_view text);
// The channel's next message (seq = last_seq + 1), sent by the context's user and device now.
MessageRecord new_message(const Context& context, const ChannelRecord& channel, MessageKind kind);
// Appends `message` to the channel and to every recipient's inbox (counting it unread for
// the others if it is text), delivers it to their live connections, and pushes it to those
// who are away (or notes the push they are owed). REQUIRES: message.seq == last_seq + 1.
void append(Context& context, ChannelRecord& channel, MessageRecord message,
            const std::vector<UserId>& to);

// ---- channels.cpp: lookups --------------------------------------------------------------------
// The channel, if it exists and the context's user is an active member; else fails the
// request (unknown_channel, not_a_member) and returns nothing.
std::optional<ChannelRecord> member_channel(Context& context, RequestId request, ChannelId id);
// The 1:1 channel of the context's user and `peer`, made on first use.
ChannelRecord direct_channel_with(Context& context, UserId peer);
// The other member of a 1:1 channel (the user themself in a note-to-self channel).
UserId direct_peer(const Context& context, ChannelId channel);

// ---- contacts.cpp -----------------------------------------------------------------------------
// `from` blocked `to`.
bool blocks(const Records& records, UserId from, UserId to);
// Nothing goes into a 1:1 channel between the context's user and `peer` (a message, a
// typing indicator) when either of the two blocked the other: the `blocked` error to give.
std::optional<Error> block_between(const Context& context, UserId peer);
// Why the context's user may not apply `action` to `other`: bad_request (themself),
// unknown_user, too_many_contacts (an entry past limits::kMaxContacts).
std::optional<Error> check_contact_change(const Context& context, client::ContactAction action,
                                          UserId other);
// Applies a checked change: the contact entry, the 1:1 chat's request flag (rule 22: add
// accepts it, remove and block make it a request again), and presence both ways when the
// two start or stop being friends.
void change_contact(Context& context, client::ContactAction action, UserId other);

// ---- groups.cpp -------------------------------------------------------------------------------
// The context's user leaves group `channel` (an active member): a member_left event, after
// `answer` is replied, then an admin hand-over if they were its admin.
void leave_group(Context& context, ChannelRecord& channel, server::Event answer);

// ---- presence.cpp: announcing presence --------------------------------------------------------
// Tells a user's online friends about a presence change and persists it; a user shown
// offline gets the pushes they were owed (push_pending).
void announce(State& state, const PresenceChange& change, TimeUs now, Effects& out);
void send_to_user(State& state, UserId user, const server::Event& event, Effects& out);
// Sends `event` (request 0: a change made here) to the context user's live connections but
// the one the request came on, which gets the answer: how settings, mutes and request
// answers reach the user's other devices.
void send_to_other_devices(Context& context, const server::Event& event);
server::PresenceEntry presence_of(const State& state, UserId user);

// ---- push.cpp: intents now, intents owed until the user is away, restored presence ------------
// The user gets pushes now (EngineConfig::push_when).
bool pushable(const State& state, UserId user);
// One intent per token of `user` for `message`, unless collapsed. REQUIRES: the user wants
// it (wants_push: the caller checked the mute).
void push_message(State& state, UserId user, const MessageRecord& message, TimeUs now,
                  Effects& out);
void defer_push(State& state, UserId user, const MessageRecord& message, InboxSeq inbox_seq);
void push_pending(State& state, UserId user, TimeUs now, Effects& out);
void clear_read_pushes(State& state, UserId user, InboxSeq read_position);
void restore_presence(State& state, TimeUs now);

// ---- typing.cpp -------------------------------------------------------------------------------
// `user` sent a message to `channel`: their indicator there ends (receivers hide it on the
// message), so their next start is forwarded at once.
void end_typing(State& state, ChannelId channel, UserId user);
// Forgets indicators older than their TTL (each Tick).
void expire_typing(State& state, TimeUs now);

// ---- unread.cpp -------------------------------------------------------------------------------
// The context's user's devices have everything up to `acked`: moves the delivered position
// (read_positions) there, moves the channels' delivered_seq (note_delivered) and clears the
// pushes those entries were owed. Unread counts move at MarkRead, not here (rule 19).
void advance_delivered(Context& context, InboxSeq acked);

// ---- receipts.cpp -----------------------------------------------------------------------------
// One more unread message for `user`: `seq` in `channel` (and one more in their total).
void count_unread(State& state, UserId user, ChannelId channel, Seq seq);
// `sender` sent text message `seq` to `channel`: receipts of it concern them.
void note_sent(State& state, ChannelId channel, UserId sender, Seq seq);
// The user's devices stored `entries` (just acked): moves their delivered_seq in each
// channel the entries are from, and tells the senders concerned.
void note_delivered(State& state, UserId user, const std::vector<InboxRef>& entries, Effects& out);

// ---- accounts.cpp -----------------------------------------------------------------------------
Effects sign_out_devices(State& state, UserId user, const std::vector<DeviceId>& devices,
                         TimeUs now);
Outcome<UserId> create_user(State& state, std::string_view name, TimeUs now);
Outcome<DeviceId> add_device(State& state, UserId user, std::string_view label, TimeUs now);
Effects revoke_device_tokens(State& state, UserId user, DeviceId device);

// ---- replies.cpp: replies, mentions, mute (rule 21) -------------------------------------------
// `seq` lies in one of the member's membership windows (rule 8): the current one (to the
// newest message while active, to the event that removed them otherwise) or an earlier one.
bool in_windows(const MemberRecord& member, Seq seq);
// Text message `seq` of `channel`, if it lies in the member's windows; nothing otherwise (no
// such seq, an event, an `edited` or `deleted` entry, or outside the windows).
std::optional<MessageRecord> readable_text(const Records& records, ChannelId channel,
                                           const MemberRecord& member, Seq seq);
// The active members of a group `text` names as @name (not the sender), ascending; none in a
// 1:1 channel.
std::vector<UserId> find_mentions(const Records& records, const ChannelRecord& channel,
                                  std::string_view text, UserId sender);
// Why `user` may not reply to `seq` of `channel` (0: a channel not made yet): unknown_message,
// message_deleted; nothing when they may.
std::optional<Error> check_reply(const Records& records, UserId user, ChannelId channel, Seq seq);
// A message as the engine serves it to `reader` (a delivery, a history page): a reply gets
// its quote, the original as `reader` may see it now; an `edited` entry of a message outside
// the reader's membership windows loses its text and mentions.
void present(const Records& records, UserId reader, Message& message);
// The member's mute of the channel lasts at `now`.
bool muted(const MemberRecord& member, TimeUs now);
// `user` is to be pushed `message` at `now`: it mentions them, or they did not mute its channel.
bool wants_push(const Records& records, UserId user, const MessageRecord& message, TimeUs now);
// The same, from the user's member record of the message's channel.
bool wants_push(const MemberRecord& member, UserId user, const MessageRecord& message, TimeUs now);
// What a ChannelMute says of `member`'s mute at `now`.
server::ChannelMute mute_state(RequestId request, ChannelId channel, const MemberRecord& member,
                               TimeUs now);

// ---- requests.cpp: message requests (rule 22) ---------------------------------------------------
// `user` holds `other` as a contact (not blocked, not absent).
bool is_contact(const Records& records, UserId user, UserId other);
// A chat `actor` makes with `user` (a 1:1 chat's first send, a group they are put in) is a
// message request for `user`: `actor` is someone else and not their contact.
bool starts_as_request(const Records& records, UserId user, UserId actor);
// Sets whether `user`'s 1:1 chat with `peer`, if there is one, is a message request for them.
void set_direct_request(Records& records, UserId user, UserId peer, bool request);
// A member who sends in a chat that is a request for them accepts it.
void accept_by_sending(Records& records, ChannelId channel, UserId user);
// channelList leaves the chat out for the member: a request they deleted (rule 22).
bool deleted_request(const ChannelRecord& channel, const MemberRecord& member);

// ---- Self-checks (EngineConfig::check_invariants; nothing when it is off) ---------------------
// sync.cpp: in_flight holds acked + 1 to sent_upto in order, and in_flight_bytes is its sum.
void check_in_flight(const State& state, const Connection& connection);
// unread.cpp: the user's per-channel unread counts sum to their total.
void check_unread(const State& state, UserId user);

}  // namespace parley::engine::detail
