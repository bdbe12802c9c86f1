#include "sim/history.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace parley::sim {
namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

void mix(std::uint64_t& hash, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (8 * i)) & 0xff;
    hash *= kFnvPrime;
  }
}

void mix(std::uint64_t& hash, const std::string& text) {
  mix(hash, text.size());
  for (unsigned char c : text) {
    hash ^= c;
    hash *= kFnvPrime;
  }
}

}  // namespace

const char* to_string(RecordKind kind) {
  switch (kind) {
    case RecordKind::sent:
      return "sent";
    case RecordKind::acked:
      return "acked";
    case RecordKind::refused:
      return "refused";
    case RecordKind::delivered:
      return "delivered";
    case RecordKind::life:
      return "life";
    case RecordKind::logout:
      return "logout";
    case RecordKind::token:
      return "token";
    case RecordKind::presence:
      return "presence";
    case RecordKind::push:
      return "push";
    case RecordKind::append:
      return "append";
    case RecordKind::crash:
      return "crash";
    case RecordKind::restart:
      return "restart";
    case RecordKind::fault:
      return "fault";
    case RecordKind::gateway:
      return "gateway";
    case RecordKind::connection:
      return "connection";
    case RecordKind::leader:
      return "leader";
    case RecordKind::logged:
      return "logged";
    case RecordKind::replica:
      return "replica";
    case RecordKind::read:
      return "read";
    case RecordKind::typing:
      return "typing";
    case RecordKind::marked:
      return "marked";
    case RecordKind::receipt:
      return "receipt";
    case RecordKind::revised:
      return "revised";
    case RecordKind::muted:
      return "muted";
    case RecordKind::answered:
      return "answered";
    case RecordKind::unread:
      return "unread";
  }
  return "unknown";
}

std::uint64_t trace_hash(const History& history) {
  std::uint64_t hash = kFnvOffset;
  for (const Record& r : history) {
    mix(hash, static_cast<std::uint64_t>(r.kind));
    mix(hash, static_cast<std::uint64_t>(r.at));
    mix(hash, static_cast<std::uint64_t>(r.node_time));
    mix(hash, r.node);
    mix(hash, r.user);
    mix(hash, r.device);
    mix(hash, r.peer);
    mix(hash, r.channel);
    mix(hash, r.seq);
    mix(hash, r.inbox_seq);
    mix(hash, r.flag ? 1 : 0);
    mix(hash, r.text);
    mix(hash, r.detail);
  }
  return hash;
}

namespace {

// Equal in every field trace_hash mixes.
bool same_record(const Record& a, const Record& b) {
  return a.kind == b.kind && a.at == b.at && a.node_time == b.node_time && a.node == b.node &&
         a.user == b.user && a.device == b.device && a.peer == b.peer && a.channel == b.channel &&
         a.seq == b.seq && a.inbox_seq == b.inbox_seq && a.flag == b.flag && a.text == b.text &&
         a.detail == b.detail;
}

}  // namespace

std::optional<Divergence> first_divergence(const History& first, const History& second) {
  const std::size_t common = std::min(first.size(), second.size());
  for (std::size_t i = 0; i < common; ++i) {
    if (!same_record(first[i], second[i])) return Divergence{i, first[i], second[i]};
  }
  if (first.size() == second.size()) return std::nullopt;
  Divergence divergence{common, std::nullopt, std::nullopt};
  if (common < first.size()) divergence.first = first[common];
  if (common < second.size()) divergence.second = second[common];
  return divergence;
}

std::string to_json(const Record& r) {
  boost::json::object line;
  line["kind"] = to_string(r.kind);
  line["at_us"] = r.at;
  const bool node_record = r.kind == RecordKind::life || r.kind == RecordKind::logout ||
                           r.kind == RecordKind::token || r.kind == RecordKind::presence ||
                           r.kind == RecordKind::push || r.kind == RecordKind::append ||
                           r.kind == RecordKind::crash || r.kind == RecordKind::restart ||
                           r.kind == RecordKind::gateway || r.kind == RecordKind::connection ||
                           r.kind == RecordKind::leader || r.kind == RecordKind::logged ||
                           r.kind == RecordKind::replica || r.kind == RecordKind::receipt ||
                           r.kind == RecordKind::muted || r.kind == RecordKind::answered;
  if (node_record) {
    line["node"] = r.node;
    line["node_time_us"] = r.node_time;
  }
  if (r.user != 0) line["user"] = r.user;
  if (r.device != 0) line["device"] = r.device;
  if (r.peer != 0) line["peer"] = r.peer;
  if (r.channel != 0) line["channel"] = r.channel;
  if (r.seq != 0) line["seq"] = r.seq;
  if (r.inbox_seq != 0) line["inbox_seq"] = r.inbox_seq;
  if (r.flag) line["flag"] = true;
  if (!r.text.empty()) line["text"] = r.text;
  if (!r.detail.empty()) line["detail"] = r.detail;
  return boost::json::serialize(line);
}

}  // namespace parley::sim
