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

#include <map>
#include <string>
#include <variant>
#include <vector>

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
using Request =
    std::variant<Send, Ack, History, CreateGroup, AddMember, RemoveMember, LeaveGroup, Logout>;
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
using Event = std::variant<Welcome, Deliver, SendAck, GroupCreated, HistoryPage, Ok, Failure>;
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
using Input = std::variant<Connected, Received, Disconnected>;

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
using Effect = std::variant<SendEvent, CloseConnection>;
// In order: the host sends them in this order, and only after the batch commits.
using Effects = std::vector<Effect>;

template <typename T>
using Outcome = std::variant<T, Error>;

class Engine {
 public:
  // REQUIRES: `store` outlives the engine.
  explicit Engine(Store& store, EngineConfig config = {});

  // Checks or writes the store's format version. Call once, inside a transaction, before
  // anything else; throws StoreError for a store this build cannot read.
  void open();

  // All calls below require an open store transaction.
  Effects handle(const Input& input, TimeUs now);

  // Account services (the HTTP side of the node). They change only the store.
  Outcome<UserId> create_user(std::string_view name, TimeUs now);
  Outcome<DeviceId> add_device(UserId user, std::string_view label, TimeUs now);

  Records& records() { return records_; }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  struct Connection {
    DeviceId device = 0;
    UserId user = 0;
    InboxSeq acked = 0;      // the device has everything up to here
    InboxSeq sent_upto = 0;  // the last inbox entry sent on this connection
  };
  class RequestHandler;

  Effects on_connected(const Connected& input, TimeUs now);
  Effects on_received(const Received& input, TimeUs now);
  Effects on_disconnected(const Disconnected& input);

  void forget_connection(ConnectionId id);
  // Sends the connection whatever it is owed from its user's inbox, within the window.
  void pump(ConnectionId id, Connection& connection, Effects& out);
  // Delivers a just-appended inbox entry to the user's live, caught-up connections.
  void deliver_live(UserId user, Effects& out);

  Store& store_;
  Records records_;
  EngineConfig config_;
  // Ordered maps: iteration order reaches effects, so it must not depend on hashing.
  std::map<ConnectionId, Connection> connections_;
  std::map<DeviceId, ConnectionId> connection_by_device_;
  std::map<UserId, std::vector<ConnectionId>> connections_by_user_;

  friend class RequestHandler;
};

}  // namespace parley::engine
