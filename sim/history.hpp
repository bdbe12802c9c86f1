// What happened in a simulated run, in the order it happened: the input of the invariant
// checker, the source of the trace hash, and the --trace file.
//
// Node records (life, logout, token, presence, push, append, typing, receipt) are written
// when the node's batch commits, in the order the engine produced them, so a crash drops them
// with the batch.
// Their `node_time` is the node's clock, the `now` the engine saw.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/types.hpp"

namespace parley::sim {

using engine::ChannelId;
using engine::DeviceId;
using engine::InboxSeq;
using engine::Seq;
using engine::TimeUs;
using engine::UserId;

enum class RecordKind : std::uint8_t {
  sent,        // client: user/device sent client_msg_id (text) to channel or peer
  acked,       // client: SendAck for client_msg_id = (channel, seq); flag = duplicate
  refused,     // client: a send was refused; text = client_msg_id, code in `detail`
  delivered,   // client: device received inbox entry inbox_seq = (channel, seq) from `peer`
  life,        // node: a sign of life from device
  logout,      // node: device logged out
  token,       // node: device registered (flag) or dropped (!flag) its push token
  presence,    // node: the engine changed user's presence to online (flag) / offline
  push,        // node: a push intent for user/device about (channel, seq)
  append,      // node: a text message (channel, seq) from user was appended
  crash,       // node crashed (in-memory state and the open batch lost)
  restart,     // node restarted from its store
  fault,       // a fault was injected; text describes it
  gateway,     // node: the push gateway accepted intent `seq` (the intent id) for user/device
  connection,  // node: user now has (flag) or no longer has (!flag) a connection bound in the
               // engine (from the inputs and closes the node handled)
  // A clustered world's replicas ([cluster]); `node` is the replica, not the shard:
  leader,    // node won (flag) or gave up leadership with token `seq`; text: why
  logged,    // node appended log entry `seq` with token `inbox_seq`
  replica,   // node's replica: text "state" (applied index `seq`, state digest `inbox_seq`;
             // flag: the final one, after the run), "crash" or "restart"
  read,      // client: device read message (channel, seq) from `peer` in a history page;
             // detail: the message kind
  typing,    // node: told user/device that `peer` started (flag) or stopped typing in channel;
             // detail "request": user/device (= peer) asked to stop typing in channel
  marked,    // client: user/device marked channel read up to seq (sent MarkRead)
  receipt,   // node: told user/device that `peer`'s receipt positions in channel moved:
             // seq = peer's delivered_seq, inbox_seq = peer's read_seq (0: not shared)
  revised,   // client: user/device asked to edit (!flag) or delete (flag) message (channel, seq)
  muted,     // node: user's mute of channel is now: flag forever, else until node time seq (0:
             // not muted)
  answered,  // node: user answered the message request of channel: flag accept, else delete
  unread,    // client: user/device was told the unread count `seq` of channel (0: the total)
};
const char* to_string(RecordKind kind);

// Fields are laid out small-first (kind, flag and node share one word): a large run keeps
// millions of records.
struct Record {
  RecordKind kind = RecordKind::fault;
  // Per kind (above); for delivered and read of a text message: it came as a tombstone,
  // deleted for everyone with no text left (rule 20).
  bool flag = false;
  std::uint32_t node = 0;
  TimeUs at = 0;         // global simulated time
  TimeUs node_time = 0;  // node records: the node's clock
  UserId user = 0;
  DeviceId device = 0;
  UserId peer = 0;  // sent: 1:1 peer; delivered: the message's sender
  ChannelId channel = 0;
  Seq seq = 0;
  InboxSeq inbox_seq = 0;
  std::string text;    // client_msg_id, or a fault's description
  std::string detail;  // refused: the error code; delivered: the message kind
};

using History = std::vector<Record>;

// FNV-1a over every field of every record: equal hashes mean equal runs.
std::uint64_t trace_hash(const History& history);
// One line of JSON for a record (the --trace format, documented in docs/scenarios.md).
std::string to_json(const Record& record);

// Where two runs of one seed first differ (--check-determinism): the index of the first
// record that differs in a field the trace hash covers, and each run's record there (none
// when that run ended before it). Nothing when the histories are equal.
struct Divergence {
  std::size_t index = 0;
  std::optional<Record> first;
  std::optional<Record> second;
};
std::optional<Divergence> first_divergence(const History& first, const History& second);

}  // namespace parley::sim
