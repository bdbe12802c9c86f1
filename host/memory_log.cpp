#include "host/memory_log.hpp"

#include <algorithm>
#include <utility>

namespace parley::host {

std::optional<Leadership> MemoryLog::campaign(std::string_view candidate, std::int64_t) {
  if (leader_) return std::nullopt;
  const std::int64_t lease = next_lease_++;
  leader_ = Leader{std::string(candidate), lease, ++revision_};
  return Leadership{leader_->token, lease};
}

bool MemoryLog::keep_alive(const Leadership& leadership) {
  return leader_ && leader_->lease == leadership.lease;
}

void MemoryLog::resign(const Leadership& leadership) {
  expire(leadership.lease);
}

std::optional<std::string> MemoryLog::leader() {
  if (!leader_) return std::nullopt;
  return leader_->name;
}

AppendResult MemoryLog::append(std::uint64_t token, std::uint64_t index, std::string_view bytes) {
  const auto fails = std::exchange(next_append_fails_, std::nullopt);
  if (fails && !*fails) throw LogUnavailable("the append was lost (injected)");
  if (fencing_ && (!leader_ || leader_->token != token)) return AppendResult::fenced;
  if (index != last_ + 1) return AppendResult::index_taken;
  entries_[index] = LogEntry{index, token, std::string(bytes)};
  last_ = index;
  ++revision_;
  if (fails) throw LogUnavailable("the append's reply was lost (injected)");
  return AppendResult::appended;
}

std::vector<LogEntry> MemoryLog::read(std::uint64_t from, std::size_t max) {
  // Like etcd's range read from `from`, at most `max` entries.
  std::vector<LogEntry> out;
  for (auto it = entries_.lower_bound(from); it != entries_.end() && out.size() < max; ++it)
    out.push_back(it->second);
  return out;
}

std::optional<LogEntry> MemoryLog::entry(std::uint64_t index) {
  const auto it = entries_.find(index);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::uint64_t MemoryLog::last_index() {
  return entries_.empty() ? 0 : entries_.rbegin()->first;
}

void MemoryLog::trim_below(std::uint64_t index) {
  const std::uint64_t end = std::min(index, last_index());
  entries_.erase(entries_.begin(), entries_.lower_bound(end));
}

void MemoryLog::report_applied(std::string_view replica, std::uint64_t index) {
  applied_[std::string(replica)] = index;
}

std::optional<std::uint64_t> MemoryLog::slowest_applied() {
  std::optional<std::uint64_t> slowest;
  for (const auto& [replica, index] : applied_)
    slowest = slowest ? std::min(*slowest, index) : index;
  return slowest;
}

void MemoryLog::expire(std::int64_t lease) {
  if (leader_ && leader_->lease == lease) leader_.reset();
}

void MemoryLog::fail_next_append(bool lands) {
  next_append_fails_ = lands;
}

}  // namespace parley::host
