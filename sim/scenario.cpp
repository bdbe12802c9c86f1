// The scenario loader: TOML (toml++) in, a validated Scenario out. docs/scenarios.md is the
// user's view of every rule enforced here; keep the two in step.
//
// Every problem is reported as "FILE:LINE: message" at the line of the offending key or
// value, so a scenario author never has to guess. Unknown keys are errors rather than
// ignored: a misspelt key silently falling back to its default would run a different
// scenario than the one the author meant.
#include "sim/scenario.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "sim/scenario_reader.hpp"

namespace parley::sim {
namespace {

using namespace reader;

// --- top level --------------------------------------------------------------------------

void reject_unknown_top_level(const Section& root) {
  const std::string tables = join(kTables);
  for (const auto& [key, line] : root.keys_in_file_order()) {
    if (contains(kTables, key) || contains(kTopLevelKeys, key)) continue;
    const toml::node& value = *root.get(key);
    const std::string name(key);
    if (value.is_table()) {
      root.fail(line, "unknown table [" + name + "] (known tables: " + tables + ")");
    }
    if (const auto* array = value.as_array(); array != nullptr && array->is_array_of_tables()) {
      root.fail(line, "unknown table [[" + name + "]] (known tables: " + tables + ")");
    }
    root.fail(line, "unknown key '" + name + "' (known keys: " + join(kTopLevelKeys) +
                        "; known tables: " + tables + ")");
  }
}

// "scenarios/chat.toml" -> "chat".
std::string stem_of(const std::string& file) {
  std::string base = std::filesystem::path(file).filename().string();
  if (base.ends_with(".toml") && base.size() > 5) base.resize(base.size() - 5);
  return base;
}

void read_top_level(const Section& root, Scenario& scenario) {
  reject_unknown_top_level(root);
  scenario.name = root.string("name").value_or(stem_of(scenario.file));
  if (auto description = root.string("description")) scenario.description = *description;
}

// --- [world], [network], [node] ---------------------------------------------------------

void read_world(const Section& world, Scenario& s) {
  world.reject_unknown(kWorldKeys);
  world.read("seed", s.seed, 0, kNoMax);
  world.read_time("duration_s", s.duration, kPositive);
  world.read_time("settle_s", s.settle, kNonNegative);
  world.read("nodes", s.nodes, 1, kMaxNodes);
  world.read("users", s.users, 1, kMaxUsers);
  world.read("devices_per_user", s.devices_per_user, 1, kMaxDevicesPerUser);
  world.read_bool("push_tokens", s.push_tokens);
}

void read_network(const Section& network, Scenario& s) {
  network.reject_unknown(kNetworkKeys);
  network.read_time("latency_ms", s.latency, kNonNegative);
  network.read_time("jitter_ms", s.jitter, kNonNegative);
  network.read_time("connect_ms", s.connect_time, kNonNegative);
  network.read_time("reconnect_min_ms", s.reconnect_min, kPositive);
  network.read_time("reconnect_max_ms", s.reconnect_max, kPositive);
  network.require_order({"reconnect_min_ms", s.reconnect_min, 1000},
                        {"reconnect_max_ms", s.reconnect_max, 1000}, false);
}

void read_node(const Section& node, Scenario& s) {
  node.reject_unknown(kNodeKeys);
  node.read_time("commit_ms", s.commit, kNonNegative);
  node.read_time("batch_wait_ms", s.batch_wait, kNonNegative);
  node.read("batch_max", s.batch_max, 1, kMaxU32);
  node.read_time("tick_ms", s.tick, kPositive);
  node.read_time("heartbeat_interval_ms", s.heartbeat_interval, kPositive);
  node.read_time("presence_timeout_ms", s.presence_timeout, kPositive);
  node.read_time("push_collapse_ms", s.push_collapse, kNonNegative);
  node.read("delivery_batch", s.delivery_batch, 1, kMaxU32);
  node.read("delivery_window", s.delivery_window, 1, kMaxU32);
  node.require_order({"heartbeat_interval_ms", s.heartbeat_interval, 1000},
                     {"presence_timeout_ms", s.presence_timeout, 1000}, true);
  node.require_order({"delivery_batch", s.delivery_batch}, {"delivery_window", s.delivery_window},
                     false);
}

// --- [cluster] ---------------------------------------------------------------------------

void read_cluster(const Section& cluster, Scenario& s) {
  cluster.reject_unknown(kClusterKeys);
  if (!cluster.has("replicas")) cluster.fail_missing("replicas");
  if (s.nodes != 1) {
    cluster.fail(cluster.line(),
                 "a cluster is one shard on its replicas: set [cluster] "
                 "replicas instead of [world] nodes");
  }
  cluster.read("replicas", s.replicas, 1, kMaxNodes);
  s.nodes = s.replicas;
  cluster.read("gateways", s.gateways, 0, kMaxNodes);
  cluster.read("etcd_members", s.etcd_members, 1, 7);
  cluster.read("lease_ttl_s", s.lease_ttl_s, 1, 60);
  cluster.read_time("append_ms", s.append_time, kNonNegative);
  cluster.read_time("follow_ms", s.follow_interval, kPositive);
  cluster.read_time("etcd_election_ms", s.etcd_election, kNonNegative);
}

// --- [random_faults], [expect] ----------------------------------------------------------

void read_random_faults(const Section& random, Scenario& s) {
  random.reject_unknown(kRandomFaultKeys);
  random.read_number("disconnects_per_minute", s.disconnects_per_minute, 0);
  random.read_number("partitions_per_minute", s.partitions_per_minute, 0);
  random.read_time("partition_max_s", s.partition_max, kPositive);
  random.read_number("crashes_per_minute", s.crashes_per_minute, 0);
  random.read_time("crash_max_s", s.crash_max, kPositive);
  // Same caps as a [[fault]] clock's offset_ms and drift_ppm: the simulator draws from these.
  random.read_number("clock_skew_max_ms", s.clock_skew_max_ms, 0,
                     static_cast<double>(kMaxTime) / 1000);
  random.read_number("clock_drift_max_ppm", s.clock_drift_max_ppm, 0,
                     static_cast<double>(kMaxDriftPpm));
}

void read_push_gateway(const Section& gateway, Scenario& s) {
  gateway.reject_unknown(kPushGatewayKeys);
  gateway.read_time("latency_ms", s.gateway_latency, kNonNegative);
  gateway.read_number("failure_percent", s.gateway_failure_percent, 0, 100);
}

void read_expect(const Section& expect, Scenario& s) {
  expect.reject_unknown(kExpectKeys);
  expect.read_number("p99_delivery_ms_max", s.p99_delivery_ms_max, 0);
  expect.read_number("p50_delivery_ms_max", s.p50_delivery_ms_max, 0);
  expect.read("presence_flaps_max", s.presence_flaps_max, 0, kNoMax);
  expect.read("pushes_min", s.pushes_min, 0, kNoMax);
  expect.read("pushes_max", s.pushes_max, 0, kNoMax);
  expect.read("delivered_min", s.delivered_min, 0, kNoMax);
  expect.read("acked_min", s.acked_min, 0, kNoMax);
  expect.read("connects_max", s.connects_max, 0, kNoMax);
  expect.read_number("delivery_ms_max", s.delivery_ms_max, 0);
  expect.read("duplicate_acks_min", s.duplicate_acks_min, 0, kNoMax);
  expect.read("refused_max", s.refused_max, 0, kNoMax);
  expect.read("presence_changes_max", s.presence_changes_max, 0, kNoMax);
  expect.read("presence_events_max", s.presence_events_max, 0, kNoMax);
  expect.read("presence_repeats_max", s.presence_repeats_max, 0, kNoMax);
  expect.read("typing_events_min", s.typing_events_min, 0, kNoMax);
  expect.read("receipt_events_min", s.receipt_events_min, 0, kNoMax);
  expect.read("revisions_min", s.revisions_min, 0, kNoMax);
  expect.read("deliver_batch_max", s.deliver_batch_max, 0, kNoMax);
}

// Reads [name] with `read` if the file has it.
template <typename Reader>
void with_table(const Section& root, const Source& source, std::string_view name, Reader read) {
  const std::string header = "[" + std::string(name) + "]";
  if (const toml::table* table = find_table(root, name, header))
    read(Section(source, *table, header));
}

toml::table parse_toml(std::string_view text, const std::string& file, const Source& source) {
  try {
    return toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& error) {
    source.fail(error.source().begin.line, std::string(error.description()));
  }
}

}  // namespace

Scenario parse_scenario(std::string_view text, const std::string& file) {
  const Source source(file);
  const toml::table document = parse_toml(text, file, source);
  const Section root(source, document, "");
  Scenario s;
  s.file = file;
  read_top_level(root, s);
  // [world] first: the other sections check users, nodes and times against it.
  with_table(root, source, "world", [&](const Section& t) { read_world(t, s); });
  with_table(root, source, "network", [&](const Section& t) { read_network(t, s); });
  with_table(root, source, "node", [&](const Section& t) { read_node(t, s); });
  // [cluster] before [[fault]]: it sets the node count faults check against.
  with_table(root, source, "cluster", [&](const Section& t) { read_cluster(t, s); });
  // [social] before [[fault]]: faults name its groups.
  with_table(root, source, "social", [&](const Section& t) { read_social(t, source, s); });
  // [[user]] before [traffic] and [[fault]]: bursts and hosts name its users' devices.
  read_user_settings(root, source, s);
  with_table(root, source, "traffic", [&](const Section& t) {
    read_traffic(t, s);
    read_bursts(t, source, s);
  });
  read_faults(root, source, s);
  read_sends(root, source, s);
  with_table(root, source, "random_faults", [&](const Section& t) { read_random_faults(t, s); });
  with_table(root, source, "expect", [&](const Section& t) {
    read_expect(t, s);
    read_scoped_expects(t, source, s);
    read_errors_max(t, source, s);
  });
  with_table(root, source, "push_gateway", [&](const Section& t) { read_push_gateway(t, s); });
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) throw ScenarioError(path + ": cannot read file");
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.is_open() || in.bad()) throw ScenarioError(path + ": cannot read file");
  return parse_scenario(text, path);
}

}  // namespace parley::sim
