// The simulated world, inside: the types and the one World class behind run_simulation
// (sim/world.hpp). Internal to sim/: only the world_*.cpp files include it.
//
// World's member functions are defined across files, one per part of the world:
//   world.cpp          the event loop and the setup (nodes, users, friends, provisioning)
//   world_nodes.cpp    the nodes: batches through host::Core, the commit and its failure,
//                      crash and restart
//   world_records.cpp  what the nodes saw, as history records for the checker
//   world_push.cpp     the simulated push gateway
//   world_network.cpp  links between devices and nodes: latency, order, drops
//   world_gateways.cpp a cluster's gateways: client links relayed to the leader, re-attached
//   world_devices.cpp  the apps: connect, reconnect, requests, what they do with events
//   world_traffic.cpp  people writing messages
//   world_faults.cpp   scheduled and random faults, and the settling at the end of them
//   world_finish.cpp   the end: the nodes' final contents, the checker, metrics, expectations
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "cluster/elector.hpp"
#include "cluster/relay_session.hpp"
#include "cluster/replica.hpp"
#include "engine/clock.hpp"
#include "engine/engine.hpp"
#include "host/core.hpp"
#include "search/search_index.hpp"
#include "sim/checker.hpp"
#include "sim/event_queue.hpp"
#include "sim/history.hpp"
#include "sim/id_table.hpp"
#include "sim/rng.hpp"
#include "sim/scenario.hpp"
#include "sim/sim_etcd.hpp"
#include "sim/world.hpp"
#include "storage/fault_store.hpp"

namespace parley::sim::detail {

using namespace parley::engine;

inline constexpr TimeUs kMinute = 60'000'000;
inline constexpr TimeUs kTrafficStart = 2'000'000;
using HostId = std::uint64_t;

inline HostId node_host(std::uint32_t node) {
  return (1ull << 63) | node;
}
inline HostId gateway_host(std::uint32_t gateway) {
  return (1ull << 62) | gateway;
}
inline HostId device_host(UserId user, std::uint32_t index) {
  return (user << 8) | index;
}

// A host's clock: true time plus an offset, drifting by `drift_ppm` since `anchor`.
struct Clock {
  TimeUs anchor = 0;
  TimeUs offset = 0;
  std::int64_t drift_ppm = 0;
  TimeUs local(TimeUs global) const {
    return global + offset + (global - anchor) * drift_ppm / 1'000'000;
  }
  // A local interval in global time.
  TimeUs global_interval(TimeUs local_interval) const {
    return local_interval * 1'000'000 / (1'000'000 + drift_ppm);
  }
};

struct PendingSend {
  std::string client_msg_id;
  ChannelId channel = 0;
  UserId peer = 0;
  std::string text;
  Seq reply_to = 0;
  UserId mention = 0;     // the friend the text begins by naming (mention_percent)
  bool stranger = false;  // `peer` is not the user's contact (stranger_percent)
};

enum class DeviceState : std::uint8_t { offline, connecting, online, logged_out };

struct Device {
  UserId user = 0;
  std::uint32_t index = 0;  // 1-based within the user
  DeviceId id = 0;
  std::uint32_t node = 0;
  DeviceState state = DeviceState::offline;
  ConnectionId link = 0;
  InboxSeq cursor = 0;  // what the device has stored
  bool token_registered = false;
  bool unread_asked = false;  // a queryUnread is on its way (stranger_percent apps)
  TimeUs backoff = 0;
  std::uint64_t attempt = 0;  // invalidates stale scheduled reconnects
  Clock clock;
  RequestId next_request = 1;
  std::map<RequestId, std::string> requests;  // request id -> what it was ("send:ID", ...)
  std::vector<PendingSend> unacked;           // in the order queued (a typed message queues late)
  std::uint64_t composed = 0;
  // What this connection was last told of each friend's presence (the snapshot after the
  // welcome, then events): an event that tells it again is a repeat (Metrics).
  std::map<UserId, bool> presence_known;
};

struct User {
  UserId id = 0;
  std::uint32_t node = 0;
  // [[user]] settings, else the world's: messages a minute, and how often the apps heartbeat
  // (unset: as the node says; 0: never).
  double rate = 0;
  std::optional<TimeUs> heartbeat;
  std::vector<std::size_t> devices;  // indexes into World::devices_
  std::vector<UserId> friends;
  std::set<ChannelId> groups;  // groups the user knows they are in, from their inbox
  std::set<ChannelId> chats;   // every chat the user's inbox named, groups left included
  std::map<UserId, ChannelId> direct_chats;  // 1:1 channels by peer, from the sends' acks
  std::map<ChannelId, Seq> newest_text;      // the newest text message received, per chat
  std::set<ChannelId> mute_decided;          // chats mute_percent was drawn for
  std::set<ChannelId> accept_decided;        // request chats accept_percent was drawn for
};

// A connection on a node: a device's own, or a gateway's upstream for a device's client
// link (`relay`: that client link's id).
struct Link {
  std::size_t device = 0;
  std::uint32_t node = 0;
  std::uint64_t node_generation = 0;
  bool open = true;
  TimeUs last_to_node = 0;
  TimeUs last_to_client = 0;
  ConnectionId relay = 0;
};

// [cluster] gateways: a gateway process (world_gateways.cpp).
struct Gateway {
  bool up = true;
  std::uint64_t generation = 0;  // bumped by a kill: stale events for it are dropped
  IdSet clients;                 // client links it holds
};

// A device's connection to a gateway, relayed to the leader by the rules production's
// gateway runs (cluster::RelaySession).
struct ClientLink {
  std::size_t device = 0;
  std::uint32_t gateway = 0;
  std::uint64_t gateway_generation = 0;
  bool open = true;
  TimeUs last_to_gateway = 0;
  TimeUs last_to_client = 0;
  cluster::RelaySession<client::Request> session;
  ConnectionId upstream = 0;   // the link on the leader; 0 while detached
  std::uint32_t attempts = 0;  // attach attempts since the upstream was lost
  std::uint64_t attach = 0;    // invalidates stale scheduled attach attempts
};

// Which connections the engine has bound, as of the input being processed, and their users:
// a node's own, or in a cluster the shard's (every replica's engine holds the same).
struct Bound {
  IdSet engine_links;
  std::map<ConnectionId, UserId> user;  // engine_links' users
  // ... and devices: what a request on the connection is a sign of life of, known from the
  // Connected input, so even after the network dropped the link (a frame the node had
  // queued before the drop still counts in the engine).
  std::map<ConnectionId, DeviceId> device;
  std::map<UserId, std::uint32_t> per_user;  // users with a connection bound
  void clear() {
    engine_links.clear();
    user.clear();
    device.clear();
    per_user.clear();
  }
};

// A node: the real engine over its own store, driven by host::Core (host/core.hpp) as the
// production node drives it, the batching and the simulated commit latency around it.
struct Node {
  std::uint32_t index = 0;
  std::unique_ptr<Store> disk;                 // the node's store (memory or LMDB) ...
  std::unique_ptr<storage::FaultStore> store;  // ... behind the faults that fail or stall commits
  std::unique_ptr<host::Core> own_core;        // a single node's engine ...
  // The node's search index: in memory, gone with the process, filled from the store at
  // each start (the node's rule for an index it did not close).
  std::unique_ptr<search::SearchIndex> search_index;
  bool replica_sink_set = false;  // the replica's follower effects feed search_index
  host::Core* core = nullptr;     // ... or its replica's: the engine and the durability rule
  bool up = true;
  std::uint64_t generation = 0;  // bumped by a crash: stale events for it are dropped
  std::deque<Input> pending;
  bool flush_scheduled = false;
  bool committing = false;  // a batch is open in the core, its commit under way
  History batch_records;    // what the open batch's inputs and effects showed the checker
  // The open batch's receipt recipients (connection -> device) as bound when the engine told
  // them: a later input of the batch may unbind one that the release still writes to.
  std::map<ConnectionId, DeviceId> receipt_devices;
  // After a failed commit the node stops; its supervisor restarts it this much later
  // (the `commit_failure` fault's duration_s).
  TimeUs restart_after_failure = 0;
  // The node's wall clock (offset and drift; `clock` and `clock_step` faults move it) and
  // its monotonic clock (drift only), read together through the engine's own EngineClock,
  // as the production node does; a restart starts a new EngineClock.
  Clock clock;
  Clock monotonic;
  EngineClock engine_clock;
  IdSet links;  // open on the network
  Bound own_bound;
  Bound* bound = &own_bound;  // in a cluster, the world's shard_bound_

  // ---- a replica of a clustered world's shard (world_cluster.cpp) ----
  std::unique_ptr<SimEtcdClient> etcd;
  std::unique_ptr<cluster::Replica> replica;
  std::unique_ptr<cluster::Elector> elector;
  std::uint64_t token = 0;    // serving as leader with this token (0: following)
  std::uint64_t give_up = 0;  // a token the elector resigns at its next round
  bool ready = false;         // caught up with the log: may campaign
  TimeUs time_floor = 0;      // engine time never runs backwards across leaders
  Bound bound_before_batch;   // the shard's, restored when the log refuses the batch
  std::uint64_t log_last_before_batch = 0;
};

class World {
 public:
  World(const Scenario& scenario, std::uint64_t seed, const SimOptions& options);
  RunResult run();

 private:
  void at(TimeUs when, std::function<void()> action);
  std::size_t expected_records() const;
  void record(Record r);
  // A `fault` record; `injected` counts it among the faults (an outcome's note does not).
  void fault_record(const std::string& text, bool injected = true);

  // ---- setup (world.cpp) -------------------------------------------------------------------
  void build_nodes();
  std::uint32_t home_of(UserId user) const;
  void build_users();
  void befriend(UserId a, UserId b);
  void build_friends();
  void provision();
  std::vector<UserId> group_members(const GroupSpec& group) const;
  void schedule_start();

  // ---- nodes (world_nodes.cpp) -------------------------------------------------------------
  TimeUs node_time(Node& node);
  void schedule_tick(std::uint32_t index);
  void node_input(Node& node, Input input);
  void flush(Node& node);
  void commit(Node& node);
  void flush_soon(Node& node);
  void release(Node& node, Effects effects);
  void crash(std::uint32_t index, TimeUs restart_after, const char* why = nullptr);
  void restart(std::uint32_t index);

  // ---- a clustered world (world_cluster.cpp) -----------------------------------------------
  bool clustered() const { return scenario_.replicas > 0; }
  std::uint32_t shard_of(const Node& node) const { return clustered() ? 0 : node.index; }
  void build_cluster();
  void schedule_cluster(std::uint32_t index);
  void elect(std::uint32_t index);
  void take_over(Node& node, std::uint64_t token);
  void follow(Node& node);
  void stop_on_store_failure(Node& node, std::uint64_t failed_before);
  void stop_serving(Node& node, const std::string& why);
  void commit_replicated(Node& node);
  Record cluster_record(Node& node, RecordKind kind);
  void replica_record(Node& node, const std::string& what, bool final = false);
  void sample_replicas();
  void finish_cluster();
  void cluster_fault(const Fault& fault, const std::string& where);
  Node* serving_leader();
  void note_if_leaderless();

  // ---- node records (world_records.cpp) ----------------------------------------------------
  Record node_record(const Node& node, RecordKind kind, TimeUs local) const;
  // A client record of `kind` about device `d` (its user and id set).
  Record device_record(std::size_t d, RecordKind kind) const {
    Record r;
    r.kind = kind;
    r.user = devices_[d].user;
    r.device = devices_[d].id;
    return r;
  }
  void record_input(Node& node, const Input& input, TimeUs local);
  void record_effect(Node& node, const Effect& effect, TimeUs local);
  void type_then_send(std::size_t d, PendingSend send);
  void send_typing(std::size_t d, ChannelId channel, bool typing);
  void typing_record(Node& node, ConnectionId connection, const server::Typing& typing,
                     TimeUs local);
  void record_receipts(Node& node, const Effects& released, TimeUs local);
  void receipt_record(Node& node, ConnectionId connection, const server::Receipt& receipt,
                      TimeUs local);
  void bind(Node& node, ConnectionId connection, DeviceId device, TimeUs local);
  void unbind(Node& node, ConnectionId connection, TimeUs local);
  void connection_record(Node& node, UserId user, bool connected, TimeUs local);

  // ---- the push gateway (world_push.cpp) ---------------------------------------------------
  void push_attempt(std::uint32_t index, const PushIntent& intent, std::uint32_t attempt);

  // ---- network (world_network.cpp) ---------------------------------------------------------
  bool reachable(HostId a, HostId b) const;
  unsigned cut(std::vector<HostId> hosts, std::string name = "");
  void uncut(unsigned id);
  void heal(const std::string& name);  // every partition with the name; "" every one
  TimeUs transit();
  void to_node(ConnectionId id, client::Request request);
  void to_client(ConnectionId id, server::Event event);
  void drop_link(ConnectionId id, bool tell_node);
  void drop_links_of(const std::vector<HostId>& hosts);
  // The device's connection, direct or through a gateway.
  void to_server(std::size_t d, client::Request request);
  void drop_device_link(std::size_t d);
  void device_disconnected(std::size_t d, ConnectionId id);

  // ---- gateways (world_gateways.cpp) -------------------------------------------------------
  bool has_gateways() const { return !gateways_.empty(); }
  void build_gateways();
  bool connect_through_gateway(std::size_t d);
  void to_gateway(ConnectionId id, client::Request request);
  void gateway_on_client(ConnectionId id, client::Request request);
  void gateway_to_client(ConnectionId id, server::Event event);
  void gateway_on_upstream(ConnectionId id, ConnectionId upstream, server::Event event);
  void gateway_forward_ack(ClientLink& link);
  void schedule_attach(ConnectionId id, TimeUs delay);
  void gateway_attach(ConnectionId id);
  void upstream_lost(ConnectionId id, ConnectionId upstream);
  void upstream_closed_by_leader(ConnectionId upstream);
  void drop_client_link(ConnectionId id);
  void kill_gateway(std::uint32_t gateway, TimeUs duration, const std::string& where);

  // ---- devices (world_devices.cpp) ---------------------------------------------------------
  void connect(std::size_t d);
  void schedule_reconnect(std::size_t d);
  RequestId request(std::size_t d, std::string purpose, client::Request request);
  void on_connected(std::size_t d);
  void transmit(std::size_t d, const PendingSend& send);
  void schedule_heartbeat(std::size_t d);
  void on_event(std::size_t d, server::Event event);
  static std::string take_request(Device& device, RequestId id);
  void action_answered(const std::string& purpose, std::string_view outcome);
  void on_deliver(std::size_t d, const server::Deliver& deliver);
  // read_percent: the person reads a text message from someone else 0.5 to 5 s after it
  // arrived, and the app marks the chat read up to it (mark_read) if still online.
  void maybe_read_later(std::size_t d, const Message& message);
  void mark_read(std::size_t d, ChannelId channel, Seq seq);
  // edit_percent / delete_percent (world_edits.cpp): after the SendAck of one of its own
  // text messages, the app may edit it or delete it for everyone later (revise).
  void maybe_revise_later(std::size_t d, ChannelId channel, Seq seq);
  static bool is_tombstone(const Message& message) {
    return message.kind == MessageKind::text && message.deleted && message.text.empty();
  }
  // What a delivered or read message says of another, for invariants 3 and 11: a reply's
  // quote, "quote:SEQ:" then "text" (it carries text), "deleted" or "unavailable" (it
  // carries none); an `edited` entry, "edit:SEQ:text" or "edit:SEQ:empty"; else empty.
  static std::string reference_state(const Message& message) {
    if (message.kind == MessageKind::edited) {
      return "edit:" + std::to_string(message.target) + (message.text.empty() ? ":empty" : ":text");
    }
    if (message.reply_to == 0) return "";
    const engine::Quote& q = message.quote;
    const char* state = !q.text.empty() ? "text" : q.unavailable ? "unavailable" : "deleted";
    return "quote:" + std::to_string(message.reply_to) + ":" + state;
  }
  void revise(std::size_t d, ChannelId channel, Seq seq, bool remove);
  void learn_membership(UserId user, const Message& message);
  void on_send_ack(std::size_t d, const server::SendAck& ack);
  void on_failure(std::size_t d, const server::Failure& failure);
  // Drops the answered send from the device's unacked list; its peer (0: sent to a channel,
  // or answered already).
  UserId forget_send(Device& device, const std::string& client_msg_id, bool acked);

  // ---- traffic (world_traffic.cpp) ---------------------------------------------------------
  void schedule_traffic(UserId user);
  std::string random_text();
  void compose(UserId u);
  // Replies, mentions and mute (world_replies.cpp, world_traffic.cpp).
  void choose_reply_and_mention(UserId u, bool to_group, PendingSend& send);
  void maybe_mute_later(std::size_t d, const Message& message);
  void send_mute(std::size_t d, ChannelId channel, TimeUs for_us, bool forever);
  void mute_record(Node& node, ConnectionId connection, const server::ChannelMute& mute,
                   TimeUs local);
  bool muted_on_node(const Node& node, UserId user, ChannelId channel, TimeUs local) const;
  // Message requests (world_requests.cpp).
  std::optional<UserId> random_stranger(UserId u);
  std::optional<UserId> maybe_stranger(UserId u);
  void maybe_accept_later(std::size_t d, const Message& message);
  void answered_record(Node& node, ConnectionId connection, const server::RequestAnswered& answered,
                       TimeUs local);
  void on_unread(std::size_t d, const server::UnreadCounts& counts);
  void ask_unread(std::size_t d);
  // PlantedBug::request_pushed / request_counted: what a node that ignored requests would
  // have said besides.
  void push_request_anyway(Node& node, const server::SendAck& ack, UserId sender, TimeUs local);
  void count_requests_anyway(ConnectionId connection, server::Event& event);
  void queue_send(std::size_t d, PendingSend send);
  void schedule_history_walk(UserId user);
  void start_history_walk(UserId user);
  void on_history_page(std::size_t d, const server::HistoryPage& page, const std::string& purpose);

  // ---- search (world_search.cpp): each node's index, apps that search --------------------
  // A new process's index: in memory, filled from the node's store (docs/search.md).
  void open_index(Node& node);
  void release_search(Node& node, Effect& effect);
  void schedule_search(UserId user);
  void on_search_results(std::size_t d, const server::SearchResults& results,
                         const std::string& purpose);

  // ---- scripted: [[send]], bursts, scoped expectations (world_script.cpp) -------------------
  void schedule_bursts();
  void scripted_send(std::size_t index);
  std::vector<std::string> check_scripted() const;

  // ---- faults (world_faults.cpp) -----------------------------------------------------------
  std::vector<std::size_t> devices_in(const HostSet& hosts) const;
  std::vector<HostId> hosts_in(const HostSet& hosts) const;
  void schedule_faults();
  void inject(const Fault& fault);
  void set_clocks(const Fault& fault);
  void step_clocks(const Fault& fault);
  void swizzle(std::vector<HostId> hosts, TimeUs step);
  void logout(std::size_t d, TimeUs duration);
  void login(std::size_t d);
  void group_action(const Fault& fault);
  std::string describe_group_action(const Fault& fault, UserId actor) const;
  UserId admin_of(ChannelId group, std::uint32_t index);
  void schedule_random_faults();
  void settle();

  // ---- the end (world_finish.cpp) ----------------------------------------------------------
  NodeContents contents(Node& node);
  RunResult finish();
  void summarize_latency();

  const Scenario& scenario_;
  const SimOptions& options_;
  Rng rng_;
  EngineConfig config_;
  TimeUs now_ = 0;
  TimeUs end_ = 0;
  EventQueue queue_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::unique_ptr<SimEtcd> etcd_;  // [cluster] only
  std::vector<Gateway> gateways_;  // [cluster] gateways
  IdMap<ClientLink> client_links_;
  Bound shard_bound_;
  TimeUs leaderless_since_ = 0;
  std::vector<User> users_;
  std::vector<Device> devices_;
  IdMap<Link> links_;
  ConnectionId next_connection_ = 1;
  // Partitions in place: each cuts its hosts off from every host outside it, so two hosts
  // reach each other when they are in exactly the same partitions (world_network.cpp).
  struct Cut {
    std::vector<HostId> hosts;
    std::string name;  // a [[fault]]'s `partition`, for a heal that names it
  };
  std::map<unsigned, Cut> cuts_;
  std::map<HostId, std::vector<unsigned>> partition_;  // host -> its cuts, ascending
  unsigned next_partition_ = 0;
  std::map<std::size_t, std::vector<GroupSpec>> pending_groups_;
  std::map<std::string, ChannelId> groups_by_name_;
  std::map<std::pair<UserId, std::string>, TimeUs> first_sent_;
  // Each node's mutes as its answers said (node, user, channel) -> until (kMutedForever:
  // forever), for PlantedBug::mention_unpushed.
  std::map<std::tuple<std::uint32_t, UserId, ChannelId>, TimeUs> node_mutes_;
  // Stranger chats from the senders' acks: (node, channel) -> the user written to, for the
  // planted request bugs.
  std::map<std::pair<std::uint32_t, ChannelId>, UserId> stranger_chats_;
  std::map<std::pair<UserId, std::string>, UserId> stranger_sends_;  // (sender, id) -> to
  std::vector<TimeUs> latencies_;
  std::map<UserId, TimeUs> slowest_by_user_;  // the slowest delivery to each user
  // ... in each channel, by (node, channel): channel ids are per node's store
  std::map<std::pair<std::uint32_t, ChannelId>, TimeUs> slowest_by_channel_;
  std::vector<std::string> scripted_ids_;  // [[send]] i's client_msg_id ("": none)
  // Each group action's outcomes, by its fault's line: "ok", an error code, or "skipped".
  std::map<std::size_t, std::vector<std::string>> action_outcomes_;
  TimeUs max_commit_ = 0;
  bool gateway_down_ = false;
  std::set<std::pair<std::uint32_t, std::uint64_t>> delivered_pushes_;
  Metrics metrics_;
  History history_;
};

// A number for an expectation's message: "3", "57.7".
std::string show_number(double value);

// The [expect] targets the run missed (world_finish.cpp).
std::vector<std::string> check_expectations(const Scenario& s, const Metrics& m,
                                            const CheckResult& check);

}  // namespace parley::sim::detail
