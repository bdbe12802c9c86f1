// The invariant checker: reads a run's whole history (never a sample) and the nodes' final
// stores, and reports every violation of invariants 1-5 and 7-11 (docs/invariants.md).
// (Invariant 6, replay, is checked by running a seed twice and comparing trace hashes.) Each
// invariant is its own unit in sim/invariants/, and sim/invariants/list.cpp is the one list of
// them that runs.
//
// It trusts nothing the engine says about membership or presence: it rebuilds who should
// have received what from the committed channel sequences, and who was online from the
// signs of life the node received.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/message.hpp"
#include "sim/history.hpp"

namespace parley::sim {

// One channel's final committed contents on one node.
struct ChannelLog {
  engine::ChannelKind kind = engine::ChannelKind::direct;
  std::vector<UserId> direct_members;           // the pair, for a 1:1 channel
  std::vector<engine::MessageRecord> messages;  // seq 1, 2, ... in order
};

struct NodeContents {
  std::map<ChannelId, ChannelLog> channels;
  std::vector<std::uint64_t> outbox;  // push intents never delivered
};

struct DeviceRef {
  UserId user = 0;
  DeviceId device = 0;
};

struct CheckConfig {
  TimeUs presence_timeout = 30'000'000;
  // How late past the timeout an offline event may come: one tick plus batching and commit.
  TimeUs presence_slack = 1'000'000;
  TimeUs push_collapse = 10'000'000;
  // The fastest drift of any node's clock (ppm): how much sooner than the timeout, in
  // simulated time, a node may rightly show a silent user offline.
  std::int64_t node_drift_ppm = 0;
  // The run healed and settled: everyone must have everything.
  bool liveness = true;
  // The scenario's contacts: contacts[user] holds, ascending, whom `user` holds as a contact
  // (empty past the users it covers). Which chats are message requests follows from it
  // (engine rule 22; invariants 5 and 12).
  std::vector<std::vector<UserId>> contacts;
};

struct Violation {
  int invariant = 0;  // 1-5, 7-12, as numbered in docs/invariants.md
  std::string message;
  std::size_t record = SIZE_MAX;  // index of the first offending record, if any
};

struct CheckResult {
  std::vector<Violation> violations;
  std::uint64_t presence_flaps = 0;  // offline shown while a device was heartbeating
};

class Checker {
 public:
  // `home[user]` is the node the user's devices connect to (index into `nodes`).
  Checker(CheckConfig config, std::vector<NodeContents> nodes, std::vector<DeviceRef> devices,
          std::map<UserId, std::uint32_t> home);

  CheckResult check(const History& history) const;

  static const char* invariant_name(int invariant);

 private:
  struct Recipients;  // who should receive each message, from the committed sequences
  void build_recipients();

  CheckConfig config_;
  std::vector<NodeContents> nodes_;
  std::vector<DeviceRef> devices_;
  std::map<UserId, std::uint32_t> home_;
  std::shared_ptr<const Recipients> recipients_;
};

}  // namespace parley::sim
