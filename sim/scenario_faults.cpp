// The scenario loader: [[fault]], its kinds, the keys each kind takes, and host strings.
#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <string>

#include "engine/types.hpp"
#include "sim/scenario_reader.hpp"

namespace parley::sim::reader {
namespace {

// [[fault]] keys besides at_s and kind; bit i of a mask stands for kFaultOptions[i].
constexpr std::array<std::string_view, 16> kFaultOptions = {
    "hosts",     "node",      "duration_s",     "step_ms", "commit_ms", "offset_ms",
    "drift_ppm", "group",     "user",           "member",  "lands",     "gateway",
    "by",        "partition", "duration_max_s", "outcome"};
// Besides the options: at_s and kind, and the repetition keys every kind takes.
constexpr std::array<std::string_view, 21> kFaultKeys = {
    "at_s",      "kind",      "hosts",          "node",    "duration_s", "step_ms",     "commit_ms",
    "offset_ms", "drift_ppm", "group",          "user",    "member",     "lands",       "gateway",
    "by",        "partition", "duration_max_s", "outcome", "every_s",    "every_max_s", "until_s"};
enum FaultOption : unsigned {
  kHosts = 1u << 0,
  kNode = 1u << 1,
  kDuration = 1u << 2,
  kStep = 1u << 3,
  kCommit = 1u << 4,
  kOffset = 1u << 5,
  kDrift = 1u << 6,
  kGroup = 1u << 7,
  kUser = 1u << 8,
  kMember = 1u << 9,
  kLands = 1u << 10,
  kGateway = 1u << 11,
  kBy = 1u << 12,
  kPartition = 1u << 13,
  kDurationMax = 1u << 14,
  kOutcome = 1u << 15,
};

struct KindRule {
  std::string_view name;
  FaultKind kind;
  unsigned required;
  unsigned optional;
  bool cluster_only = false;
};

constexpr std::array<KindRule, 21> kKindRules = {{
    {"disconnect", FaultKind::disconnect, kHosts, 0},
    {"partition", FaultKind::partition, kHosts, kDuration | kPartition},
    {"heal", FaultKind::heal, 0, kPartition},
    {"swizzle", FaultKind::swizzle, kHosts, kStep},
    {"crash", FaultKind::crash, kDuration, kNode},
    {"clock", FaultKind::clock, kHosts, kOffset | kDrift},
    {"clock_step", FaultKind::clock_step, kHosts | kOffset, 0},
    {"slow_commit", FaultKind::slow_commit, kCommit | kDuration, kNode},
    {"logout", FaultKind::logout, kHosts | kDuration, 0},
    {"leave_group", FaultKind::leave_group, kUser | kGroup, kOutcome},
    {"add_member", FaultKind::add_member, kUser | kGroup, kBy | kOutcome},
    {"remove_member", FaultKind::remove_member, kUser | kGroup, kBy | kOutcome},
    {"gateway_down", FaultKind::gateway_down, 0, 0},
    {"gateway_up", FaultKind::gateway_up, 0, 0},
    {"commit_failure", FaultKind::commit_failure, kDuration, kNode},
    {"kill_leader", FaultKind::kill_leader, kDuration, 0, true},
    {"etcd_partition", FaultKind::etcd_partition, kNode | kDuration, 0, true},
    {"append_unknown", FaultKind::append_unknown, 0, kLands, true},
    {"lease_skew", FaultKind::lease_skew, kNode | kDuration, kDrift, true},
    {"etcd_kill", FaultKind::etcd_kill, kDuration, kMember, true},
    {"kill_gateway", FaultKind::kill_gateway, kDuration, kGateway, true},
}};

constexpr std::array<std::string_view, 21> kKindNames = {
    "disconnect",  "partition",      "heal",           "swizzle",    "crash",
    "clock",       "clock_step",     "slow_commit",    "logout",     "leave_group",
    "add_member",  "remove_member",  "gateway_down",   "gateway_up", "commit_failure",
    "kill_leader", "etcd_partition", "append_unknown", "lease_skew", "etcd_kill",
    "kill_gateway"};

// The parallel lists above must agree, or a kind would get another's rules.
constexpr bool lists_agree() {
  for (std::size_t i = 0; i < kKindRules.size(); ++i) {
    if (kKindRules[i].name != kKindNames[i]) return false;
  }
  for (std::size_t i = 0; i < kFaultOptions.size(); ++i) {
    if (kFaultKeys[i + 2] != kFaultOptions[i]) return false;
  }
  // A kind that takes a duration may draw it from a range.
  for (const KindRule& rule : kKindRules) {
    if (((rule.required | rule.optional) & kDurationMax) != 0) return false;
  }
  return true;
}
static_assert(lists_agree());

[[noreturn]] void fail_host(const Section& fault, const toml::node& value,
                            const std::string& problem) {
  fault.fail(line_of(value), "hosts: " + problem);
}

// Digits only: no sign, no spaces. Too large to hold reads as the largest value, which every
// range check then rejects.
std::optional<std::uint64_t> parse_index(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (end != digits.data() + digits.size()) return std::nullopt;
  if (error == std::errc::result_out_of_range) return std::numeric_limits<std::uint64_t>::max();
  if (error != std::errc()) return std::nullopt;
  return value;
}

template <typename T>
void add_once(std::vector<T>& list, const T& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// `what` says which numbers exist, e.g. "users are 1 to 2".
[[noreturn]] void fail_host_range(const Section& fault, const toml::node& value,
                                  const std::string& what) {
  fail_host(fault, value, show_value(value) + " is out of range (" + what + ")");
}

void check_user(const Section& fault, const toml::node& value, std::uint64_t user,
                const Scenario& s) {
  if (user >= 1 && user <= s.users) return;
  fail_host_range(fault, value, "users are 1 to " + std::to_string(s.users));
}

void add_device(const Section& fault, const toml::node& value, std::string_view rest,
                const Scenario& s, HostSet& hosts) {
  const std::size_t slash = rest.find('/');
  const auto user = parse_index(rest.substr(0, slash));
  const auto device =
      slash == std::string_view::npos ? std::nullopt : parse_index(rest.substr(slash + 1));
  if (!user || !device) {
    fail_host(fault, value, "bad host " + show_value(value) + " (expected device:U/K)");
  }
  check_user(fault, value, *user, s);
  if (*device < 1 || *device > devices_of(s, *user)) {
    fail_host_range(fault, value,
                    "user " + std::to_string(*user) + "'s devices are 1 to " +
                        std::to_string(devices_of(s, *user)));
  }
  add_once(hosts.devices, {*user, static_cast<std::uint32_t>(*device)});
}

void add_host(const Section& fault, const toml::node& value, const Scenario& s, HostSet& hosts) {
  const auto* text = value.as_string();
  if (text == nullptr) fault.fail_value("hosts", value, "a host string", false);
  const std::string_view host = text->get();
  if (host == "users") {
    hosts.all_users = true;
  } else if (host == "nodes") {
    hosts.all_nodes = true;
  } else if (host.starts_with("node:")) {
    const auto node = parse_index(host.substr(5));
    if (!node) fail_host(fault, value, "bad host " + show_value(value) + " (expected node:N)");
    if (*node >= s.nodes) {
      fail_host_range(fault, value, "nodes are 0 to " + std::to_string(s.nodes - 1));
    }
    add_once(hosts.nodes, static_cast<std::uint32_t>(*node));
  } else if (host.starts_with("user:")) {
    const auto user = parse_index(host.substr(5));
    if (!user) fail_host(fault, value, "bad host " + show_value(value) + " (expected user:U)");
    check_user(fault, value, *user, s);
    add_once(hosts.users, *user);
  } else if (host.starts_with("device:")) {
    add_device(fault, value, host.substr(7), s, hosts);
  } else {
    fail_host(fault, value,
              "bad host " + show_value(value) +
                  " (expected node:N, user:U, device:U/K, \"users\" or \"nodes\")");
  }
}

HostSet read_hosts(const Section& fault, const Scenario& s) {
  const toml::node& value = *fault.get("hosts");
  HostSet hosts;
  if (const auto* list = value.as_array()) {
    if (list->empty()) fault.fail(line_of(value), "hosts: expected at least one host, got []");
    for (const toml::node& element : *list)
      add_host(fault, element, s, hosts);
  } else if (value.is_string()) {
    add_host(fault, value, s, hosts);
  } else {
    fault.fail_value("hosts", value, "a host string or an array of them", false);
  }
  return hosts;
}

const KindRule& read_kind(const Section& fault) {
  const auto index = fault.choice("kind", kKindNames);
  if (!index) fault.fail_missing("kind");
  return kKindRules[*index];
}

// "a 'crash' fault", "an 'etcd_kill' fault".
std::string a_fault(std::string_view kind) {
  const bool vowel =
      !kind.empty() && std::string_view("aeiou").find(kind.front()) != std::string_view::npos;
  return std::string(vowel ? "an '" : "a '") + std::string(kind) + "' fault";
}

// Options the kind does not take are errors, not ignored: "commit_ms" on a "crash" suggests
// the author meant a different fault.
void check_options(const Section& fault, const KindRule& rule) {
  const std::string kind(rule.name);
  for (const auto& [key, line] : fault.keys_in_file_order()) {
    const auto it = std::find(kFaultOptions.begin(), kFaultOptions.end(), key);
    if (it == kFaultOptions.end()) continue;  // at_s or kind
    const unsigned bit = 1u << static_cast<unsigned>(it - kFaultOptions.begin());
    unsigned allowed = rule.required | rule.optional;
    if ((allowed & kDuration) != 0) allowed |= kDurationMax;
    if ((allowed & bit) != 0) continue;
    fault.fail_unprefixed(line,
                          "key '" + std::string(key) + "' does not apply to " + a_fault(kind));
  }
  for (std::size_t i = 0; i < kFaultOptions.size(); ++i) {
    if ((rule.required & (1u << i)) == 0 || fault.has(kFaultOptions[i])) continue;
    fault.fail_missing(kFaultOptions[i], " for " + a_fault(kind));
  }
}

void read_fault_target(const Section& fault, const Scenario& s, Fault& out) {
  if (fault.has("hosts")) out.hosts = read_hosts(fault, s);
  fault.read("node", out.node, 0, static_cast<std::int64_t>(s.nodes) - 1);
  fault.read("user", out.user, 1, static_cast<std::int64_t>(s.users));
  if (const auto group = fault.string("group")) {
    check_group(fault, s, *group);
    out.group = *group;
  }
}

// duration_max_s, and the repetition: every_s, every_max_s, until_s.
void read_ranges(const Section& fault, const Scenario& s, Fault& out) {
  if (fault.has("duration_max_s")) {
    if (!fault.has("duration_s")) fault.fail_missing("duration_s", " with duration_max_s");
    fault.read_time("duration_max_s", out.duration_max, kPositive);
    fault.require_order({"duration_s", out.duration, 1'000'000},
                        {"duration_max_s", *out.duration_max, 1'000'000}, false);
  }
  for (std::string_view key : {"every_max_s", "until_s"}) {
    if (fault.has(key) && !fault.has("every_s")) {
      fault.fail_missing("every_s", " with " + std::string(key));
    }
  }
  fault.read_time("every_s", out.every, kPositive);
  fault.read_time("every_max_s", out.every_max, kPositive);
  if (out.every_max) {
    fault.require_order({"every_s", *out.every, 1'000'000},
                        {"every_max_s", *out.every_max, 1'000'000}, false);
  }
  fault.read_time("until_s", out.until, {0, false, s.duration});
  // Bounds the schedule: a fault firing every microsecond for days would never end.
  constexpr TimeUs kMaxFirings = 100'000;
  if (out.every && (out.until.value_or(s.duration) - out.at) / *out.every >= kMaxFirings) {
    fault.fail(fault.key_line("every_s"), "every_s: the fault would fire more than " +
                                              std::to_string(kMaxFirings) +
                                              " times; make every_s longer");
  }
  if (out.until) {
    fault.require_order({"at_s", out.at, 1'000'000}, {"until_s", *out.until, 1'000'000}, false);
  }
  // A partition that fires again before it healed would pile up cuts nobody heals.
  if (out.every && out.kind == FaultKind::partition && !fault.has("duration_s")) {
    fault.fail_missing("duration_s", " for a repeating 'partition' fault");
  }
}

Fault read_fault(const Section& fault, const Scenario& s) {
  fault.reject_unknown(kFaultKeys);
  Fault out;
  out.line = fault.line();
  const KindRule& rule = read_kind(fault);
  out.kind = rule.kind;
  if (!fault.has("at_s")) fault.fail_missing("at_s");
  out.at = *fault.moment("at_s", s.duration);
  check_options(fault, rule);
  if (rule.cluster_only && s.replicas == 0) {
    fault.fail(fault.line(), a_fault(rule.name) + " needs a cluster: add [cluster] replicas");
  }
  if (rule.kind == FaultKind::kill_gateway && s.gateways == 0) {
    fault.fail(fault.line(), a_fault(rule.name) + " needs gateways: add [cluster] gateways");
  }
  read_fault_target(fault, s, out);
  if (fault.has("gateway")) {
    std::uint32_t gateway = 0;
    fault.read("gateway", gateway, 0, static_cast<std::int64_t>(s.gateways) - 1);
    out.gateway = gateway;
  }
  if (fault.has("member")) {
    std::uint32_t member = 0;
    fault.read("member", member, 0, static_cast<std::int64_t>(s.etcd_members) - 1);
    out.member = member;
  }
  if (fault.has("by")) {
    std::uint64_t by = 0;
    fault.read("by", by, 1, static_cast<std::int64_t>(s.users));
    out.by = by;
    if (!out.group.empty()) check_same_node(fault, "by", s, by, creator_of(s, out.group));
  }
  if (const auto outcome = fault.string("outcome")) {
    if (*outcome != "ok" && !engine::error_code_from_string(*outcome)) {
      fault.fail_value("outcome", *fault.get("outcome"),
                       "\"ok\" or an error code (docs/protocol.md), e.g. \"not_admin\"", true);
    }
    out.outcome = *outcome;
  }
  if (const auto partition = fault.string("partition")) {
    if (partition->empty()) fault.fail_value("partition", *fault.get("partition"), "a name", true);
    out.partition = *partition;
  }
  if (fault.has("lands")) {
    bool lands = false;
    fault.read_bool("lands", lands);
    out.lands = lands;
  }
  fault.read_time("duration_s", out.duration, kPositive);
  read_ranges(fault, s, out);
  fault.read_time("step_ms", out.step, kPositive);
  fault.read_time("commit_ms", out.commit, kNonNegative);
  fault.read_time("offset_ms", out.offset, kAnySign);
  fault.read("drift_ppm", out.drift_ppm, -kMaxDriftPpm, kMaxDriftPpm);
  return out;
}

}  // namespace

void read_faults(const Section& root, const Source& source, Scenario& s) {
  const toml::array* faults = find_table_array(root, "fault", "[[fault]]");
  if (faults == nullptr) return;
  for (const toml::node& element : *faults) {
    const Section section(source, *element.as_table(), "[[fault]]");
    Fault fault = read_fault(section, s);
    const auto names_it = [&](const Fault& f) {
      return f.kind == FaultKind::partition && f.partition == fault.partition;
    };
    if (fault.kind == FaultKind::heal && !fault.partition.empty() &&
        std::none_of(s.faults.begin(), s.faults.end(), names_it)) {
      section.fail(line_of(*section.get("partition")),
                   "partition: no earlier 'partition' fault is named '" + fault.partition + "'");
    }
    s.faults.push_back(std::move(fault));
  }
}

}  // namespace parley::sim::reader
