// A simulation scenario: the world, the social graph, the traffic, the fault schedule and
// the expectations. Loaded from TOML (docs/scenarios.md documents every key); every field
// has the default shown here, so a scenario names only what it changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/types.hpp"

namespace parley::sim {

using engine::TimeUs;

// A malformed scenario: `what()` is "FILE:LINE: message", naming what was expected.
class ScenarioError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Hosts that faults act on. Users are numbered 1..users, their devices 1..devices_of(user),
// nodes 0..nodes-1. Text forms (in scenario files): "node:0", "user:3" (every device of
// user 3), "device:3/2" (user 3's second device), "users" (every device of every user),
// "nodes" (every node).
struct HostSet {
  bool all_users = false;
  bool all_nodes = false;
  std::vector<std::uint32_t> nodes;
  std::vector<std::uint64_t> users;                              // every device of each
  std::vector<std::pair<std::uint64_t, std::uint32_t>> devices;  // (user, device index)
};

enum class FaultKind : std::uint8_t {
  disconnect,      // hosts: drop every connection they have (clients reconnect with backoff)
  partition,       // hosts: cut them off from every host not in the set until a `heal`
                   // (of every partition, or of its `partition` name) or for `duration`
  heal,            // undo every partition, or those named `partition`
  swizzle,         // hosts: cut one by one every `step`, then restore in a random order
  crash,           // node: crash (loses the uncommitted batch); restarts after `duration`
  clock,           // hosts: set clock offset (`offset`) and drift (`drift_ppm`)
  slow_commit,     // node: commits take `commit` for `duration`
  logout,          // hosts: the devices log out; they log in again after `duration`
  leave_group,     // user leaves `group`
  add_member,      // group's admin adds `user` to `group`
  remove_member,   // group's admin removes `user` from `group`
  gateway_down,    // the push gateway answers every request with 503
  gateway_up,      // ... and is healthy again
  clock_step,      // hosts: the wall clock jumps by `offset` (an NTP step), drift unchanged
  commit_failure,  // node: its next commit fails; it stops and restarts after `duration`
  // [cluster] faults (docs/scenarios.md, "A cluster"):
  kill_leader,     // the replica leading now crashes; it restarts after `duration`
  etcd_partition,  // node: cut off from etcd for `duration` (it still reaches its clients)
  append_unknown,  // the next log append's outcome is unknown to its leader; `lands` or not
  lease_skew,      // node: its lease renewals are lost for `duration`, its clocks drift by
                   // `drift_ppm` meanwhile: etcd ends its lease while it believes it leads
  etcd_kill,       // etcd member `member` (default: etcd's leader) stops for `duration`
  kill_gateway,    // gateway `gateway` (default: the one holding the most clients) dies,
                   // dropping its clients; it restarts after `duration`
};

struct Fault {
  TimeUs at = 0;  // simulated time since start
  FaultKind kind = FaultKind::disconnect;
  HostSet hosts;
  std::uint32_t node = 0;
  TimeUs duration = 0;
  TimeUs step = 1'000'000;
  TimeUs commit = 0;
  TimeUs offset = 0;
  std::int64_t drift_ppm = 0;
  std::string group;  // a group's name
  std::uint64_t user = 0;
  std::optional<std::uint32_t> member;   // etcd_kill
  std::optional<bool> lands;             // append_unknown (unset: drawn from the seed)
  std::optional<std::uint32_t> gateway;  // kill_gateway
  // Group actions: the user who issues it (unset: the group's admin at that moment; for
  // leave_group, `user`).
  std::optional<std::uint64_t> by;
  // Group actions: what each firing must come to: "ok", or the error code it is refused with.
  std::optional<std::string> outcome;
  // partition: a name a `heal` may name to undo this partition alone; heal: the partition
  // it undoes (empty: every partition).
  std::string partition;
  // A duration drawn uniformly from [duration, duration_max] each time the fault fires.
  std::optional<TimeUs> duration_max;
  // Repeating: the fault fires at `at`, then again after a gap drawn uniformly from
  // [every, every_max] (every_max unset: exactly `every`), while the time is <= `until`
  // (unset: the world's duration).
  std::optional<TimeUs> every;
  std::optional<TimeUs> every_max;
  std::optional<TimeUs> until;
  std::size_t line = 0;  // where the fault was declared, for messages
};

// [[send]]: one message of chosen text, from a chosen device at a chosen time, on top of the
// random traffic.
struct ScriptedSend {
  TimeUs at = 0;
  std::uint64_t user = 0;    // the sender
  std::uint32_t device = 1;  // the sender's device that composes it
  std::uint64_t to = 0;      // a 1:1 peer, or 0 with `group`
  std::string group;         // a group's name
  std::string text;          // repeated `repeat` times
  std::uint32_t repeat = 1;
  // What must become of it: "acked", or the error code it must be refused with.
  std::optional<std::string> outcome;
  std::size_t line = 0;
};

// [[traffic.burst]]: users each send `messages` at random moments within [at, at + duration]
// (all at `at` when duration is 0).
struct Burst {
  TimeUs at = 0;
  TimeUs duration = 0;
  std::uint32_t messages = 0;
  std::vector<std::uint64_t> users;  // empty: every user
};

// [[user]]: settings for some users, in place of the world's.
struct UserSettings {
  std::vector<std::uint64_t> users;
  std::optional<std::uint32_t> devices;
  std::optional<double> messages_per_minute;
  // The interval the user's apps heartbeat at (unset: what the node tells them); 0: never.
  std::optional<TimeUs> heartbeat_interval;
  std::size_t line = 0;
};

// [[expect.user]] and [[expect.group]]: targets for one user's devices, or one group.
struct ScopedExpect {
  std::uint64_t user = 0;  // [[expect.user]]
  std::string group;       // [[expect.group]]
  std::optional<std::uint64_t> pushes_min;
  std::optional<std::uint64_t> pushes_max;
  std::optional<std::uint64_t> delivered_min;
  std::optional<std::uint64_t> delivered_max;
  std::optional<double> delivery_ms_max;
};

struct GroupSpec {
  std::string name;
  std::uint64_t creator = 1;
  std::vector<std::uint64_t> members;  // besides the creator; empty + all_members: everyone
  bool all_members = false;
};

struct Scenario {
  std::string file;  // for messages and the replay command
  std::string name;
  std::string description;

  // [world]
  std::uint64_t seed = 1;
  TimeUs duration = 60'000'000;  // traffic and faults run this long
  TimeUs settle = 60'000'000;    // then faults heal and everyone reconnects this long
  std::uint32_t nodes = 1;
  std::uint64_t users = 2;
  std::uint32_t devices_per_user = 1;
  bool push_tokens = true;  // every device registers a push token on first connect

  // [cluster]: with `replicas` > 0 the world is one shard replicated on that many nodes
  // through a simulated etcd (sim/sim_etcd.hpp), as `parley serve --etcd` runs it; `nodes`
  // is then the replica count.
  std::uint32_t replicas = 0;
  // With `gateways` > 0, devices connect through that many gateways, which relay them to
  // the leader and re-attach them after a failover (sim/world_gateways.cpp); with 0 they
  // connect to the leader directly.
  std::uint32_t gateways = 0;
  std::uint32_t etcd_members = 3;
  std::int64_t lease_ttl_s = 3;
  TimeUs append_time = 2'000;        // an append's quorum round trip, added to each commit
  TimeUs follow_interval = 20'000;   // how often a follower reads the log
  TimeUs etcd_election = 1'000'000;  // etcd without a leader after its leader member dies

  // [network]
  TimeUs latency = 20'000;  // one way, per frame
  TimeUs jitter = 10'000;   // uniform extra in [0, jitter]
  TimeUs connect_time = 50'000;
  TimeUs reconnect_min = 100'000;  // client backoff after a drop, doubling up to max
  TimeUs reconnect_max = 5'000'000;

  // [node]
  TimeUs commit = 2'000;      // simulated fsync
  TimeUs batch_wait = 1'000;  // longest an input waits for its batch
  std::uint32_t batch_max = 256;
  TimeUs tick = 1'000'000;
  TimeUs heartbeat_interval = 5'000'000;
  TimeUs presence_timeout = 30'000'000;
  TimeUs push_collapse = 10'000'000;
  std::uint32_t delivery_batch = 100;
  std::uint32_t delivery_window = 500;

  // [social]
  // contacts: "none", "all" (everyone befriends everyone), "ring" (user u and u+1), or
  // "random" with `contacts_per_user` friends each.
  std::string contacts = "ring";
  std::uint32_t contacts_per_user = 3;
  std::vector<GroupSpec> groups;  // [[social.group]]

  // [traffic]
  double messages_per_user_per_minute = 6.0;
  std::uint32_t group_percent = 30;  // share of sends that go to a group the user is in
  // Share of messages the user is seen typing first (issue 19): a typing start, 1 to 6 s of
  // typing (a refresh every 3 s), then the message, or a stop instead one time in five
  // (they gave up). Only in chats whose channel the app knows, on an online device.
  std::uint32_t typing_percent = 0;
  // Share of text messages from others a device receives that the person reads (receipts,
  // engine rule 19): 0.5 to 5 s later, if the device is still online, the app sends
  // MarkRead up to the message's seq.
  std::uint32_t read_percent = 0;
  // Shares of the user's own text messages that they edit (1 to 20 s after the SendAck: a
  // new text) and delete for everyone (2 to 60 s after), on the device that sent them, if it
  // is still online then (edits and deletes, engine rule 20). Drawn independently.
  std::uint32_t edit_percent = 0;
  std::uint32_t delete_percent = 0;
  // Replies, mentions and mute (engine rule 21). reply_percent: share of the user's messages
  // that reply to the newest text message the user received in that chat (when there is
  // one). mention_percent: share of group messages that begin by naming a friend of the
  // user ("@u7 ..."; a mention only if the friend is in the group). mute_percent: share of
  // the chats a person mutes, decided at the first message they receive there: 1 to 5 s
  // later, for 5 to 30 s or forever (even odds), a forever mute lifted 10 to 40 s later.
  std::uint32_t reply_percent = 0;
  std::uint32_t mention_percent = 0;
  std::uint32_t mute_percent = 0;
  // Message requests (engine rule 22). stranger_percent: share of the user's 1:1 messages
  // that go to a random user of their node who is not their contact (a message request for
  // them). accept_percent: share of those request chats the person written to accepts, 1
  // to 5 s after the first message they receive there. With stranger_percent set, apps ask
  // queryUnread after each welcome (`unread` records, invariant 12).
  std::uint32_t stranger_percent = 0;
  std::uint32_t accept_percent = 0;
  std::uint32_t text_min = 1;  // code points
  std::uint32_t text_max = 200;
  // Bursts: at `burst_at`, every user sends `burst_messages` at once.
  std::optional<TimeUs> burst_at;
  std::uint32_t burst_messages = 0;
  std::vector<Burst> bursts;  // [[traffic.burst]]
  // Apps that page back through a chat's history: each user starts a walk this often, on
  // an online device, from the newest message of a chat it has seen, `history_page_size`
  // messages a page, at most `history_walk_pages` pages.
  double history_walks_per_user_per_minute = 0;
  std::uint32_t history_page_size = 20;
  std::uint32_t history_walk_pages = 5;
  // Apps that search (docs/search.md): each user searches this often on an online device,
  // for a word of the simulated texts, and the checker holds every hit to invariants 3 and
  // 11 like a history page's messages.
  double searches_per_user_per_minute = 0;

  // [[user]]
  std::vector<UserSettings> user_settings;

  // [[send]]
  std::vector<ScriptedSend> sends;

  // [[fault]]
  std::vector<Fault> faults;

  // [random_faults]: drawn from the seed, per simulated minute, during `duration`
  double disconnects_per_minute = 0;
  double partitions_per_minute = 0;  // a random user cut off for up to `partition_max`
  TimeUs partition_max = 10'000'000;
  double crashes_per_minute = 0;  // node crash, restart after up to `crash_max`
  TimeUs crash_max = 5'000'000;
  double clock_skew_max_ms = 0;  // each client host gets an offset in [-max, max]
  double clock_drift_max_ppm = 0;

  // [push_gateway]: the simulated gateway each node delivers push intents to
  TimeUs gateway_latency = 50'000;     // per request, round trip
  double gateway_failure_percent = 0;  // requests answered 503 at random

  // [expect]
  std::optional<double> p99_delivery_ms_max;
  std::optional<double> p50_delivery_ms_max;
  std::optional<std::uint64_t> presence_flaps_max;
  std::optional<std::uint64_t> pushes_min;
  std::optional<std::uint64_t> pushes_max;
  std::optional<std::uint64_t> delivered_min;
  std::optional<std::uint64_t> acked_min;
  std::optional<std::uint64_t> connects_max;  // devices' successful (re)connects
  std::optional<double> delivery_ms_max;      // the slowest delivery
  std::optional<std::uint64_t> duplicate_acks_min;
  std::optional<std::uint64_t> refused_max;
  std::optional<std::uint64_t> presence_changes_max;
  std::optional<std::uint64_t> presence_events_max;
  std::optional<std::uint64_t> presence_repeats_max;
  std::optional<std::uint64_t> typing_events_min;   // Typing events received by devices
  std::optional<std::uint64_t> receipt_events_min;  // Receipt events received by devices
  std::optional<std::uint64_t> revisions_min;       // edited and deleted entries devices received
  std::optional<std::uint64_t> deliver_batch_max;   // most entries in one Deliver frame
  std::map<std::string, std::uint64_t> errors_max;  // error frames received, by code
  std::vector<ScopedExpect> user_expects;           // [[expect.user]]
  std::vector<ScopedExpect> group_expects;          // [[expect.group]]
};

// The devices `user` has: the last [[user]] naming the user with `devices`, else [world]
// devices_per_user.
std::uint32_t devices_of(const Scenario& s, std::uint64_t user);

// Reads a scenario file. Throws ScenarioError "FILE:LINE: ..." for a parse error, a value of
// the wrong type or range, an unknown key or table, or a reference to a user, node or group
// that does not exist.
Scenario load_scenario(const std::string& path);
// The same from text already in memory; `file` names it in messages.
Scenario parse_scenario(std::string_view text, const std::string& file);

}  // namespace parley::sim
