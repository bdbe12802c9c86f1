#include "sim/sim_etcd.hpp"

#include <algorithm>

namespace parley::sim {

SimEtcd::SimEtcd(std::uint32_t members, TimeUs lease_ttl)
    : lease_ttl_(lease_ttl), members_up_(members, true) {}

bool SimEtcd::has_quorum() const {
  const auto up =
      static_cast<std::size_t>(std::count(members_up_.begin(), members_up_.end(), true));
  return up * 2 > members_up_.size();
}

bool SimEtcd::answers(std::uint32_t node, TimeUs now) {
  if (!has_quorum() || now < election_until_ || cut_off_.contains(node)) return false;
  expire_due(now);
  return true;
}

std::optional<std::uint32_t> SimEtcd::leader_node(TimeUs now) {
  if (!has_quorum() || now < election_until_) return std::nullopt;
  expire_due(now);
  const auto name = log_.leader();
  if (!name || !name->starts_with("node-")) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(name->substr(5)));
}

void SimEtcd::lease_granted(std::int64_t lease, TimeUs now) {
  lease_deadline_[lease] = now + lease_ttl_;
}

void SimEtcd::lease_renewed(std::int64_t lease, TimeUs now) {
  const auto found = lease_deadline_.find(lease);
  if (found != lease_deadline_.end()) found->second = now + lease_ttl_;
}

void SimEtcd::expire_due(TimeUs now) {
  if (!has_quorum() || now < election_until_) return;
  if (renew_all_at_ && now >= *renew_all_at_) {
    for (auto& [lease, deadline] : lease_deadline_)
      deadline = std::max(deadline, *renew_all_at_ + lease_ttl_);
    renew_all_at_.reset();
  }
  for (auto it = lease_deadline_.begin(); it != lease_deadline_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    log_.expire(it->first);
    it = lease_deadline_.erase(it);
  }
}

void SimEtcd::cut_off(std::uint32_t node, bool cut) {
  if (cut) {
    cut_off_.insert(node);
  } else {
    cut_off_.erase(node);
  }
}

void SimEtcd::lose_keep_alives(std::uint32_t node, bool lose) {
  if (lose) {
    keep_alives_lost_.insert(node);
  } else {
    keep_alives_lost_.erase(node);
  }
}

void SimEtcd::start_election(TimeUs now, TimeUs election) {
  // No lease ends while etcd has no leader; the new leader renews them all.
  election_until_ = now + election;
  renew_all_at_ = election_until_;
  for (std::uint32_t m = 0; m < members_up_.size(); ++m) {
    if (members_up_[m]) {
      leader_member_ = m;
      break;
    }
  }
}

std::string SimEtcd::kill(std::optional<std::uint32_t> member, TimeUs now, TimeUs election) {
  const std::uint32_t victim = member.value_or(leader_member_);
  if (victim >= members_up_.size() || !members_up_[victim]) return "etcd member already down";
  expire_due(now);
  const bool was_leader = victim == leader_member_;
  members_up_[victim] = false;
  if (was_leader && has_quorum()) start_election(now, election);
  std::string what =
      "etcd member " + std::to_string(victim) + (was_leader ? " (leader)" : "") + " killed";
  if (!has_quorum()) what += "; etcd has no quorum";
  return what;
}

void SimEtcd::revive(std::uint32_t member, TimeUs now, TimeUs election) {
  if (member >= members_up_.size() || members_up_[member]) return;
  const bool had_quorum = has_quorum();
  members_up_[member] = true;
  if (!had_quorum && has_quorum()) start_election(now, election);
}

void SimEtcd::heal_all(TimeUs now) {
  std::fill(members_up_.begin(), members_up_.end(), true);
  cut_off_.clear();
  keep_alives_lost_.clear();
  election_until_ = std::min(election_until_, now);
  expire_due(now);
}

// ---- the client -----------------------------------------------------------------------------

SimEtcdClient::SimEtcdClient(SimEtcd& etcd, std::uint32_t node, const TimeUs& now)
    : etcd_(etcd), node_(node), now_(now) {}

host::MemoryLog& SimEtcdClient::enter() {
  if (!etcd_.answers(node_, now_)) {
    throw host::LogUnavailable("etcd does not answer node " + std::to_string(node_));
  }
  return etcd_.log();
}

std::optional<host::Leadership> SimEtcdClient::campaign(std::string_view candidate,
                                                        std::int64_t ttl_seconds) {
  auto won = enter().campaign(candidate, ttl_seconds);
  if (won) etcd_.lease_granted(won->lease, now_);
  return won;
}

bool SimEtcdClient::keep_alive(const host::Leadership& leadership) {
  host::MemoryLog& log = enter();
  if (etcd_.loses_keep_alives(node_)) throw host::LogUnavailable("keep-alive lost (lease_skew)");
  if (!log.keep_alive(leadership)) return false;
  etcd_.lease_renewed(leadership.lease, now_);
  return true;
}

void SimEtcdClient::resign(const host::Leadership& leadership) {
  enter().resign(leadership);
}

std::optional<std::string> SimEtcdClient::leader() {
  return enter().leader();
}

host::AppendResult SimEtcdClient::append(std::uint64_t token, std::uint64_t index,
                                         std::string_view bytes) {
  return enter().append(token, index + shift(), bytes);
}

std::vector<host::LogEntry> SimEtcdClient::read(std::uint64_t from, std::size_t max) {
  host::MemoryLog& log = enter();
  if (skip_from_ && !shifted_ && from >= *skip_from_ && log.last_index() > from) shifted_ = true;
  auto entries = log.read(from + shift(), max);
  for (host::LogEntry& entry : entries)
    entry.index -= shift();
  return entries;
}

std::optional<host::LogEntry> SimEtcdClient::entry(std::uint64_t index) {
  auto found = enter().entry(index + shift());
  if (found) found->index -= shift();
  return found;
}

std::uint64_t SimEtcdClient::last_index() {
  const std::uint64_t last = enter().last_index();
  return last - std::min(last, shift());
}

void SimEtcdClient::trim_below(std::uint64_t index) {
  enter().trim_below(index);
}

void SimEtcdClient::report_applied(std::string_view replica, std::uint64_t index) {
  enter().report_applied(replica, index);
}

std::optional<std::uint64_t> SimEtcdClient::slowest_applied() {
  return enter().slowest_applied();
}

}  // namespace parley::sim
