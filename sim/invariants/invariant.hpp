// The invariant checker's parts (sim/checker.hpp): each invariant of docs/invariants.md is
// one class in its own file here, behind one interface, and list.cpp says which run and in
// what order.
//
// An invariant reads the run (its history, the nodes' final stores, and who should have
// received what), is handed each record of the history in order, then told the history
// ended; it reports what it finds to a Report. The invariants of one pass (list.cpp) see
// each record in turn, so a pass reports its violations in history order, and the passes
// report one after the other.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "sim/checker.hpp"
#include "sim/history.hpp"
#include "sim/id_table.hpp"

namespace parley::sim::invariants {

// A message, as a node stores it.
struct MessageKey {
  std::uint32_t node;
  ChannelId channel;
  Seq seq;
  auto operator<=>(const MessageKey&) const = default;
};

// Who should receive each message, sorted by key (Run::recipients searches it): built once,
// looked up for most records, so one contiguous array rather than a tree of nodes.
using RecipientsByKey = std::vector<std::pair<MessageKey, std::vector<UserId>>>;

// What every invariant may read. The checker builds it once per run.
struct Run {
  const CheckConfig& config;
  const std::vector<NodeContents>& nodes;
  const std::vector<DeviceRef>& devices;
  const std::map<UserId, std::uint32_t>& home;
  // `home` again, indexed by user id (0 where `home` has none), for the users it covers:
  // looked up for most records.
  const std::vector<std::uint32_t>& home_by_user;
  // Who should receive each message: members at its seq (a removed member gets the event of
  // their own removal); and each user's messages, in node, channel and seq order.
  const RecipientsByKey& recipients_by_key;
  const std::map<UserId, std::vector<MessageKey>>& expected_by_user;
  const History& history;

  // The node the user's devices connect to.
  std::uint32_t home_of(UserId user) const;
  // Who should receive the message; nullptr when no node stores it.
  const std::vector<UserId>* recipients(const MessageKey& key) const;
};

// Where violations go: the check's result, each message followed by its record.
class Report {
 public:
  Report(const History& history, CheckResult& result) : history_(history), result_(result) {}
  // `record` is the index of the record the violation is about, or SIZE_MAX; `role` says
  // what that record is to the violation ("the append that owed the push"), so a record of
  // another user (a sender's append for a recipient's missing push) is not read as unrelated.
  void add(int invariant, const std::string& message, std::size_t record,
           const std::string& role = "");
  // A user shown offline while a device of theirs was heartbeating (invariant 4).
  void flap() { ++result_.presence_flaps; }

 private:
  const History& history_;
  CheckResult& result_;
};

class Invariant {
 public:
  virtual ~Invariant() = default;
  // Record `index` of the run's history; each is handed over once, in order.
  virtual void record(std::size_t /*index*/, Report& /*report*/) {}
  // After the last record: what the end of the run (and, once settled, liveness) requires.
  virtual void finish(Report& /*report*/) {}
};

// One pass over the history: its invariants, in the order they report.
using Pass = std::vector<std::unique_ptr<Invariant>>;
// Every invariant, in the passes and order the checker runs them (list.cpp).
std::vector<Pass> all(const Run& run);

// The invariants (one file each).
std::unique_ptr<Invariant> acked_durable(const Run& run);      // 1: acked_durable.cpp
std::unique_ptr<Invariant> stored_once(const Run& run);        // 2: stored_once.cpp
std::unique_ptr<Invariant> delivery_order(const Run& run);     // 2: delivery_order.cpp
std::unique_ptr<Invariant> delivered_durable(const Run& run);  // 1: delivered_durable.cpp
std::unique_ptr<Invariant> members_only(const Run& run);       // 3: members_only.cpp
std::unique_ptr<Invariant> presence(const Run& run);           // 4: presence.cpp
std::unique_ptr<Invariant> push(const Run& run);               // 5: push.cpp
std::unique_ptr<Invariant> fencing(const Run& run);            // 7: replication.cpp
std::unique_ptr<Invariant> replicas_agree(const Run& run);     // 8: replication.cpp
std::unique_ptr<Invariant> typing(const Run& run);             // 9: typing.cpp
std::unique_ptr<Invariant> receipts(const Run& run);           // 10: receipts.cpp
std::unique_ptr<Invariant> edits(const Run& run);              // 11: edits.cpp
std::unique_ptr<Invariant> requests(const Run& run);           // 12: requests.cpp

// ---- shared by more than one invariant --------------------------------------------------

// Which chats are message requests for whom (engine rule 22), from the scenario's contacts,
// the stores' messages (who made each chat or added each member, and each member's own
// texts, which accept) and the nodes' `answered` records handed to note() so far.
class RequestModel {
 public:
  explicit RequestModel(const Run& run);
  // An `answered` record (an accept ends the request for good: the simulator changes no
  // contacts); any other record is ignored.
  void note(const Record& record);
  // The chat (node, channel) is a message request for `user` at `seq`, a message of someone
  // else's there.
  bool request(std::uint32_t node, ChannelId channel, UserId user, Seq seq) const;
  // ... and was one from the user's first membership on: no accept noted, no text of theirs
  // there in the store, and everyone who put them in the chat was not their contact.
  bool request_throughout(std::uint32_t node, ChannelId channel, UserId user) const;

 private:
  using Key = std::tuple<std::uint32_t, ChannelId, UserId>;
  bool contact(UserId user, UserId other) const;
  void set(const Key& key, Seq seq, bool request) { flags_[key].emplace_back(seq, request); }
  const Run& run_;
  std::map<Key, std::vector<std::pair<Seq, bool>>> flags_;  // ascending seq: from there on
  std::set<Key> accepted_;
};

// Whether a `delivered` record is the device's first receipt of its (channel, seq): checks
// of what was delivered look at first receipts only (a second one is invariant 2's).
class FirstReceipts {
 public:
  bool first(const Record& delivered) {
    return seen_[delivered.device].insert({delivered.channel, delivered.seq}).second;
  }

 private:
  IdMap<std::set<std::pair<ChannelId, Seq>>> seen_;  // by device
};

// The push records the node wrote right after record `index` in the same batch: an append's
// pushes (same channel and seq), or those of an offline presence (same user). Returns the
// index past them; index + 1 for any other record.
std::size_t end_of_pushes(const History& history, std::size_t index);

// Records a node writes (as opposed to clients and fault injection).
bool is_node_record(RecordKind kind);

}  // namespace parley::sim::invariants
