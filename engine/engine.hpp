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

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "engine/presence.hpp"
#include "engine/protocol.hpp"
#include "engine/record_types.hpp"
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
  // How long after a message's server_time its sender may edit it (rule 20; 15 min, as
  // Telegram and iMessage-style apps allow a short correction window) and delete it for
  // everyone (48 h, close to WhatsApp's two days). A group admin deletes at any time.
  TimeUs edit_window_us = 15LL * 60 * 1'000'000;
  TimeUs delete_window_us = 48LL * 3600 * 1'000'000;
  // Self-checks that cost a scan or a decode per write, each throwing InvariantViolation:
  // every record written decodes back to itself, a connection's in-flight list matches its
  // byte and entry counts, a user's per-channel unread counts sum to their total. They never
  // change what the engine does. On in Debug builds and in the unit tests; production and
  // the simulator leave them off (a write would cost a decode, an ack a scan).
  bool check_invariants = kChecksByDefault;
  // Keep the engine's memory in its store too: the connection table with each connection's
  // delivery window (Table::sessions) and presence's live devices and users
  // (Table::live_devices, Table::live_users), written in the transaction of the input that
  // changed them and read back by open(). Then the store alone determines the engine, so a
  // replica restarted at log index n (or started from a snapshot) holds what every other
  // replica holds at n (docs/cluster.md, "Engine memory"). On for cluster replicas; off
  // for a single node, whose connections do not outlive its process (it writes nothing
  // more, and open(now) holds the users it showed online for a timeout instead).
  // Costs one small write per delivery, ack, connect, disconnect and sign of life.
  bool durable_sessions = false;
};

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

// ---- Account inputs (engine/accounts.cpp): what the node's HTTP side changes ---------------
// Every durable change reaches the engine as an Input, so that a log of inputs can carry it
// (docs/engine.md, "Inputs"). Each one's result is an AccountResult effect, which the host
// that submitted it reads from the effects of its run (host::Core::run); every refusal
// stores nothing. Passwords and tokens never enter the engine: only the hashes the node
// made of them (opaque bytes to the engine).

// A new user `name` (valid_user_name; unique regardless of case) with the password hash
// `password_hash`. AccountResult{user}. Errors: invalid_name, name_taken.
struct SignUp {
  std::string name;
  std::string password_hash;
};
// A login of `user`, checked off the engine thread against `verified_hash`: `token_hash`
// (1 to kMaxKeyBytes bytes; the node's hash of the random token it hands out) stands for
// (user, device) until `expires_at` (engine time, microseconds), a sign-out, a password
// change or the device's next login. `device` 0 adds a new device labelled `label` (up to
// limits::kMaxDeviceLabelCodePoints code points of UTF-8); an existing device keeps its
// label, and its older tokens stop working and its live connection closes (`replaced`).
// AccountResult{user, device}. Errors: unauthorized (the user's credential is no longer
// `verified_hash`: a password change won the race, or the user has none), unknown_device
// (`device` is not one of the user's), bad_request (`token_hash` empty or too long), and
// add_device's: invalid_name (the label), too_many_devices.
struct IssueToken {
  UserId user = 0;
  DeviceId device = 0;  // 0: a new device
  std::string label;
  std::string verified_hash;
  std::string token_hash;
  TimeUs expires_at = 0;
};
// Signs devices of `user` out (Engine::sign_out_devices): `devices`, or with `all_devices`
// every device the user has when the input is applied ("log out everywhere"). Their tokens
// and push tokens go, their live connections close (`logged_out`).
// AccountResult{user, signed_out: how many devices}. Errors: unknown_device (a listed
// device is not the user's; nobody is signed out).
struct SignOut {
  UserId user = 0;
  std::vector<DeviceId> devices;
  bool all_devices = false;
};
// Replaces `user`'s password hash with `new_hash` and signs out every device of the user
// but `keep_device` (the caller's, whose token keeps working).
// AccountResult{user, device: keep_device, signed_out}. Errors: unknown_user.
struct ChangePassword {
  UserId user = 0;
  DeviceId keep_device = 0;
  std::string new_hash;
};
// A request made outside any WebSocket (the node's HTTP API) on behalf of `device` of
// `user`: its answer is the SendEvent addressed to connection 0 (no
// AccountResult); the rest (fanout, push intents) is released as usual. No sign of life.
struct Stateless {
  UserId user = 0;
  DeviceId device = 0;
  client::Request request;
};

using Input = std::variant<Connected, Received, Disconnected, Tick, PushResult, SignUp, IssueToken,
                           SignOut, ChangePassword, Stateless>;

struct SendEvent {
  ConnectionId connection = 0;
  server::Event event;
};
enum class CloseReason : std::uint8_t { logged_out, replaced, unknown_device, invalid_cursor };
std::string_view to_string(CloseReason reason);

struct CloseConnection {
  ConnectionId connection = 0;
  CloseReason reason = CloseReason::logged_out;
};
// A push intent was written to the store's outbox (Table::push_outbox); the host's delivery
// worker sends it once the batch commits.
struct PushNotification {
  PushIntent intent;
};
// The push outbox was full (EngineConfig::push_outbox_max): this intent was not written.
// Hosts count and log it.
struct PushDropped {
  UserId user = 0;
  ChannelId channel = 0;
  Seq seq = 0;
};
// The result of an account input (SignUp, IssueToken, SignOut, ChangePassword), always its
// last effect: `error` if it was refused (then nothing was stored), else what it made or
// touched. The host that submitted the input reads it from the effects Core::run returned;
// released with the batch, it owes nobody a delivery.
struct AccountResult {
  std::optional<Error> error;
  UserId user = 0;
  DeviceId device = 0;           // IssueToken: the token's device; ChangePassword: the one kept
  std::uint32_t signed_out = 0;  // SignOut, ChangePassword: devices signed out
};
// ---- Search (docs/search.md): the index is the host's, derived from what commits store ---
// A text message was stored, or edited: `text` is its latest text. Hosts with a search
// index put it there (replacing an older text of the same message) after the commit; the
// others drop it. Same-log replicas emit the same ones, so each can keep its own index.
struct IndexText {
  ChannelId channel = 0;
  Seq seq = 0;
  UserId sender = 0;
  TimeUs server_time = 0;  // the message's, not the edit's
  std::string text;
};
// A text message was deleted for everyone: its text must leave the index.
struct UnindexText {
  ChannelId channel = 0;
  Seq seq = 0;
};
// Seqs [from, to] of a channel a user may read (a membership window, rule 8).
struct SearchWindow {
  ChannelId channel = 0;
  Seq from = 1;
  Seq to = 0;  // inclusive
  friend bool operator==(const SearchWindow&, const SearchWindow&) = default;
};
// A search the engine checked and scoped (client::Search): the host runs `query` on its
// index within `windows` (every window of every channel the asker is or was in, ascending
// channel) and answers `connection` with server::SearchResults{request}. Released after
// the commit like every effect, so the index already holds every text that commit and
// earlier ones stored, edited or deleted, when the host applies effects in order.
struct SearchRequested {
  ConnectionId connection = 0;
  RequestId request = 0;
  std::string query;
  std::uint32_t offset = 0;
  std::uint32_t limit = 20;
  std::vector<SearchWindow> windows;
};
// PresenceChange (engine/presence.hpp): a user's presence changed (whether or not any friend
// is connected to hear it). Informs metrics and the simulator's checker; the host owes nobody
// a delivery for it.
using Effect = std::variant<SendEvent, CloseConnection, PushNotification, PresenceChange,
                            PushDropped, AccountResult, IndexText, UnindexText, SearchRequested>;
// In order: the host sends them in this order, and only after the batch commits.
using Effects = std::vector<Effect>;

template <typename T>
using Outcome = std::variant<T, Error>;

namespace detail {
struct State;  // engine/context.hpp: what the engine holds in memory, and its store
}  // namespace detail

class Engine {
 public:
  // REQUIRES: `store` outlives the engine.
  explicit Engine(Store& store, EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Checks or writes the store's format version. Call once, inside a transaction, before
  // anything else; throws StoreError for a store this build cannot read. The users the store
  // shows online are held online for a full presence timeout from `now` (a restart must not
  // make everyone look away); without `now`, from the time of the first input.
  void open();
  void open(TimeUs now);

  // Every call below requires an open store transaction (InvariantViolation otherwise, for
  // those that write). What they write is durable once the host commits the batch; the
  // effects they return may leave the node only then (THE DURABILITY RULE).

  Effects handle(const Input& input, TimeUs now);

  // ---- Accounts (engine/accounts.cpp) -----------------------------------------------------
  // What the account inputs are made of. Hosts submit SignUp, IssueToken, SignOut and
  // ChangePassword; only test worlds call these directly (host::Core::provision).
  // A new user named `name` (valid_user_name; unique regardless of case). Errors:
  // invalid_name, name_taken.
  Outcome<UserId> create_user(std::string_view name, TimeUs now);
  // A new device of `user`, labelled with up to limits::kMaxDeviceLabelCodePoints code points
  // of UTF-8. Errors: unknown_user, invalid_name (the label), too_many_devices.
  Outcome<DeviceId> add_device(UserId user, std::string_view label, TimeUs now);
  // Signs `device` of `user` out, as SignOut does, without its AccountResult: forgets every
  // token of the device and its push token, closes its live connection (logged_out) and,
  // if that was the user's last live device, shows the user offline at once. For test
  // worlds (the transcripts' `sign-out`); hosts submit SignOut.
  Effects sign_out_device(UserId user, DeviceId device, TimeUs now);

  std::optional<UserRecord> user(UserId id) const;
  // The user named `name`, regardless of case (fold_user_name); nothing for an unknown name
  // or one outside valid_user_name (such a name never reaches the store).
  std::optional<UserId> user_by_name(std::string_view name) const;
  std::optional<DeviceRecord> device(DeviceId id) const;
  // The user's devices, ascending id; empty for an unknown user.
  std::vector<DeviceId> devices_of(UserId user) const;

  // The user's password hash as SignUp or ChangePassword stored it; nothing if none was.
  // The engine never interprets it: the node chooses and checks the hash (argon2id).
  std::optional<std::string> credential(UserId user) const;
  // The login a bearer token's hash stands for (IssueToken; the node stores only hashes of
  // the tokens it hands out); nothing for an unknown or revoked one. Expiry is the caller's
  // to check: TokenRecord::expires_at is engine time, in microseconds.
  std::optional<TokenRecord> token(std::string_view token_hash) const;

  // ---- The push outbox (engine/push.cpp): the host's delivery worker ----------------------
  // Up to `limit` intents still in the outbox with id > `after`, ascending id: what the
  // delivery worker sends (again, after a restart). It reports each back as a PushResult.
  std::vector<PushIntent> push_intents_after(std::uint64_t after, std::size_t limit) const;

  // ---- Provisioning (engine/contacts.cpp) -------------------------------------------------
  // Makes `other` a contact of `user` since `since`, as ChangeContact{add} would, but without
  // its checks, answer or presence events: for seeding a store before any device connects
  // (the simulator's friendships). Presence flows once both directions are set. REQUIRES:
  // both users exist, user != other.
  void provision_contact(UserId user, UserId other, TimeUs since);

  // ---- Reading channels (engine/channels.cpp): checks and tools, not request paths -------
  std::optional<ChannelRecord> channel(ChannelId id) const;
  // Everyone who is or was a member, ascending user id, with their membership windows.
  std::vector<std::pair<UserId, MemberRecord>> members(ChannelId id) const;
  // The channel's messages with seq in [first, last], ascending (1 to last_seq: all of them).
  // Reads every one: for an end-of-run check, not for serving clients (History pages).
  std::vector<MessageRecord> messages(ChannelId id, Seq first, Seq last) const;
  // Up to `limit` stored messages after `after` in (channel, seq) order, every channel, and
  // the id of the last one visited ({0, 0}: none left): what a host rebuilding its search
  // index from the store reads, page by page (docs/search.md). Messages as stored: an
  // edited text holds its latest text, a deleted one is marked deleted and holds none.
  struct MessagePage {
    std::vector<MessageRecord> messages;
    MessageId last{0, 0};
  };
  MessagePage messages_after(MessageId after, std::size_t limit) const;

  // ---- What the engine holds in memory ----------------------------------------------------
  const EngineConfig& config() const;
  std::size_t connection_count() const;
  // Every connection the engine holds, ascending (a new cluster leader disconnects those of
  // the node it replaced).
  std::vector<ConnectionId> connection_ids() const;
  const PresenceTracker& presence() const;
  // What a viewer is shown of `user` right now (no visibility check).
  server::PresenceEntry presence_of(UserId user) const;

 private:
  std::unique_ptr<detail::State> state_;
};

}  // namespace parley::engine
