#include "cluster/etcd_log.hpp"

#include <charconv>
#include <cstdio>

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
  std::from_chars(digits, digits + 20, index);
  return LogEntry{index, read_token(kv.value), kv.value.substr(8)};
}

std::optional<Leadership> EtcdLog::campaign(std::string_view candidate, std::int64_t ttl_seconds) {
  const std::int64_t lease = client_.lease_grant(ttl_seconds);
  const TxnResult result = client_.txn(
      {Compare{leader_key_, Compare::Target::create_revision, Compare::Result::equal, 0, {}}},
      {Op{Op::Kind::put, leader_key_, std::string(candidate), {}, lease}}, {});
  if (!result.succeeded) {
    client_.lease_revoke(lease);
    return std::nullopt;
  }
  // The put created the key in this transaction: its create revision is the transaction's.
  return Leadership{static_cast<std::uint64_t>(result.revision), lease};
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
  const std::string key = entry_key(index);
  const TxnResult result =
      client_.txn({Compare{leader_key_,
                           Compare::Target::create_revision,
                           Compare::Result::equal,
                           static_cast<std::int64_t>(token),
                           {}},
                   Compare{key, Compare::Target::version, Compare::Result::equal, 0, {}}},
                  {Op{Op::Kind::put, key, token_bytes(token) + std::string(bytes), {}, 0}},
                  {Op{Op::Kind::range, leader_key_, {}, {}, 0}});
  if (result.succeeded) return AppendResult::appended;
  const auto& leader = result.ranges.empty() ? std::vector<KeyValue>{} : result.ranges.front();
  const bool still_leads =
      !leader.empty() && leader.front().create_revision == static_cast<std::int64_t>(token);
  return still_leads ? AppendResult::index_taken : AppendResult::fenced;
}

std::vector<LogEntry> EtcdLog::read(std::uint64_t from, std::size_t max) {
  std::vector<LogEntry> out;
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
  const auto kvs = client_.range(log_prefix_, EtcdClient::prefix_end(log_prefix_), 1, true);
  return kvs.empty() ? 0 : decode(kvs.front()).index;
}

void EtcdLog::trim_below(std::uint64_t index) {
  const std::uint64_t last = last_index();
  const std::uint64_t end = std::min(index, last);
  if (end <= 1) return;
  client_.erase(entry_key(0), entry_key(end));
}

void EtcdLog::report_applied(std::string_view replica, std::uint64_t index) {
  client_.txn(
      {}, {Op{Op::Kind::put, applied_prefix_ + std::string(replica), std::to_string(index), {}, 0}},
      {});
}

std::uint64_t EtcdLog::slowest_applied() {
  std::uint64_t slowest = 0;
  for (const KeyValue& kv :
       client_.range(applied_prefix_, EtcdClient::prefix_end(applied_prefix_))) {
    std::uint64_t index = 0;
    const auto [end, error] =
        std::from_chars(kv.value.data(), kv.value.data() + kv.value.size(), index);
    if (error != std::errc() || end != kv.value.data() + kv.value.size()) {
      throw EtcdError("not an applied index: " + kv.key);
    }
    slowest = slowest == 0 ? index : std::min(slowest, index);
  }
  return slowest;
}

}  // namespace parley::cluster
