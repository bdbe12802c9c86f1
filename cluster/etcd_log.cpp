#include "cluster/etcd_log.hpp"

#include <charconv>
#include <cstdio>
#include <stdexcept>

namespace parley::cluster {

using host::AppendResult;
using host::Leadership;
using host::LogEntry;

namespace {

std::string token_bytes(std::uint64_t token) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i)
    out[i] = static_cast<char>(token >> (56 - 8 * i));
  return out;
}

std::uint64_t read_token(std::string_view bytes) {
  std::uint64_t token = 0;
  for (int i = 0; i < 8; ++i)
    token = (token << 8) | static_cast<unsigned char>(bytes[i]);
  return token;
}

}  // namespace

EtcdLog::EtcdLog(EtcdClient& client, std::string prefix)
    : client_(client),
      prefix_(std::move(prefix)),
      leader_key_(prefix_ + "leader"),
      last_key_(prefix_ + "last"),
      log_prefix_(prefix_ + "log/"),
      applied_prefix_(prefix_ + "applied/") {}

std::string EtcdLog::entry_key(std::uint64_t index) const {
  char digits[21];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(index));
  return log_prefix_ + digits;
}

LogEntry EtcdLog::decode(const KeyValue& kv) const {
  if (kv.key.size() != log_prefix_.size() + 20 || kv.value.size() < 8) {
    throw EtcdError("not a log entry: " + kv.key);
  }
  std::uint64_t index = 0;
  const char* digits = kv.key.data() + log_prefix_.size();
  const auto [end, error] = std::from_chars(digits, digits + 20, index);
  if (error != std::errc() || end != digits + 20) throw EtcdError("not a log entry: " + kv.key);
  return LogEntry{index, read_token(kv.value), kv.value.substr(8)};
}

std::optional<Leadership> EtcdLog::campaign(std::string_view candidate, std::int64_t ttl_seconds) {
  const std::int64_t lease = client_.lease_grant(ttl_seconds);
  TxnResult result;
  try {
    result = client_.txn(
        {Compare{leader_key_, Compare::Target::create_revision, Compare::Result::equal, 0, {}}},
        {Op{Op::Kind::put, leader_key_, std::string(candidate), {}, lease}},
        {Op{Op::Kind::range, leader_key_, {}, {}, 0}});
  } catch (const host::LogUnavailable&) {
    // The put may have landed: revoking the lease removes the key with it, so no leader is
    // left that nobody runs (it would block every campaign until the TTL ran out).
    try {
      client_.lease_revoke(lease);
    } catch (const std::exception&) {
    }
    throw;
  }
  if (result.succeeded) {
    // The put created the key in this transaction: its create revision is the transaction's.
    return Leadership{static_cast<std::uint64_t>(result.revision), lease};
  }
  // The client retries on another member when one does not answer: if an earlier try of
  // this very transaction landed, the key is ours (our lease) and its create revision is
  // the token.
  const auto& holder = result.ranges.empty() ? std::vector<KeyValue>{} : result.ranges.front();
  if (!holder.empty() && holder.front().lease == lease) {
    return Leadership{static_cast<std::uint64_t>(holder.front().create_revision), lease};
  }
  client_.lease_revoke(lease);
  return std::nullopt;
}

bool EtcdLog::keep_alive(const Leadership& leadership) {
  return client_.lease_keep_alive(leadership.lease) > 0;
}

void EtcdLog::resign(const Leadership& leadership) {
  client_.lease_revoke(leadership.lease);
}

std::optional<std::string> EtcdLog::leader() {
  const auto kvs = client_.range(leader_key_);
  if (kvs.empty()) return std::nullopt;
  return kvs.front().value;
}

AppendResult EtcdLog::append(std::uint64_t token, std::uint64_t index, std::string_view bytes) {
  if (index == 0) throw std::invalid_argument("EtcdLog::append: indexes start at 1");
  // `index` must follow the last index ever appended (the `last` key, which trimming never
  // touches): a free key alone is not enough, as a trimmed index is free too.
  const Compare follows_last =
      index == 1 ? Compare{last_key_, Compare::Target::version, Compare::Result::equal, 0, {}}
                 : Compare{last_key_, Compare::Target::value, Compare::Result::equal, 0,
                           std::to_string(index - 1)};
  const TxnResult result = client_.txn(
      {Compare{leader_key_,
               Compare::Target::create_revision,
               Compare::Result::equal,
               static_cast<std::int64_t>(token),
               {}},
       follows_last},
      {Op{Op::Kind::put, entry_key(index), token_bytes(token) + std::string(bytes), {}, 0},
       Op{Op::Kind::put, last_key_, std::to_string(index), {}, 0}},
      {Op{Op::Kind::range, leader_key_, {}, {}, 0}});
  if (result.succeeded) return AppendResult::appended;
  const auto& leader = result.ranges.empty() ? std::vector<KeyValue>{} : result.ranges.front();
  const bool still_leads =
      !leader.empty() && leader.front().create_revision == static_cast<std::int64_t>(token);
  return still_leads ? AppendResult::index_taken : AppendResult::fenced;
}

std::vector<LogEntry> EtcdLog::read(std::uint64_t from, std::size_t max) {
  std::vector<LogEntry> out;
  if (max == 0) return out;
  for (const KeyValue& kv : client_.range(entry_key(from), EtcdClient::prefix_end(log_prefix_),
                                          static_cast<std::int64_t>(max))) {
    out.push_back(decode(kv));
  }
  return out;
}

std::optional<LogEntry> EtcdLog::entry(std::uint64_t index) {
  const auto kvs = client_.range(entry_key(index));
  if (kvs.empty()) return std::nullopt;
  return decode(kvs.front());
}

std::uint64_t EtcdLog::last_index() {
  const auto kvs = client_.range(last_key_);
  return kvs.empty() ? 0 : parse_index(kvs.front());
}

void EtcdLog::trim_below(std::uint64_t index) {
  const std::uint64_t last = last_index();
  const std::uint64_t end = std::min(index, last);
  if (end <= 1) return;
  client_.erase(entry_key(0), entry_key(end));
}

void EtcdLog::report_applied(std::string_view replica, std::uint64_t index) {
  if (trim_hold_s_ > 0) {
    // Renewed every third of the hold, not at every report: one etcd request, not two.
    const auto now = std::chrono::steady_clock::now();
    if (report_lease_ == 0 || now - lease_renewed_ >= std::chrono::seconds(trim_hold_s_) / 3) {
      if (report_lease_ == 0 || client_.lease_keep_alive(report_lease_) == 0) {
        report_lease_ = client_.lease_grant(trim_hold_s_);  // the first, or after it ran out
      }
      lease_renewed_ = now;
    }
  }
  client_.txn({},
              {Op{Op::Kind::put,
                  applied_prefix_ + std::string(replica),
                  std::to_string(index),
                  {},
                  trim_hold_s_ > 0 ? report_lease_ : 0}},
              {});
}

std::optional<std::uint64_t> EtcdLog::slowest_applied() {
  std::optional<std::uint64_t> slowest;
  for (const KeyValue& kv :
       client_.range(applied_prefix_, EtcdClient::prefix_end(applied_prefix_))) {
    const std::uint64_t index = parse_index(kv);
    slowest = slowest ? std::min(*slowest, index) : index;
  }
  return slowest;
}

std::uint64_t EtcdLog::parse_index(const KeyValue& kv) {
  std::uint64_t index = 0;
  const auto [end, error] =
      std::from_chars(kv.value.data(), kv.value.data() + kv.value.size(), index);
  if (error != std::errc() || end != kv.value.data() + kv.value.size()) {
    throw EtcdError("not an index: " + kv.key);
  }
  return index;
}

}  // namespace parley::cluster
