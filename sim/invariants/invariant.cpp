#include "sim/invariants/invariant.hpp"

#include <algorithm>
#include <iterator>

namespace parley::sim::invariants {
namespace {

std::string describe_record(const History& history, std::size_t index, const std::string& role) {
  if (index >= history.size()) return "";
  return " [record " + std::to_string(index) + (role.empty() ? "" : ", " + role) + ": " +
         to_json(history[index]) + "]";
}

}  // namespace

std::uint32_t Run::home_of(UserId user) const {
  if (user < home_by_user.size()) return home_by_user[user];
  const auto found = home.find(user);
  return found == home.end() ? 0 : found->second;
}

const std::vector<UserId>* Run::recipients(const MessageKey& key) const {
  // The last entry with the key, as a map assigned in build order would hold.
  const auto past =
      std::upper_bound(recipients_by_key.begin(), recipients_by_key.end(), key,
                       [](const MessageKey& k, const auto& entry) { return k < entry.first; });
  if (past == recipients_by_key.begin() || std::prev(past)->first != key) return nullptr;
  return &std::prev(past)->second;
}

void Report::add(int invariant, const std::string& message, std::size_t record,
                 const std::string& role) {
  result_.violations.push_back(
      Violation{invariant, message + describe_record(history_, record, role), record});
}

std::size_t end_of_pushes(const History& history, std::size_t index) {
  const Record& r = history[index];
  const bool append = r.kind == RecordKind::append;
  const bool offline = r.kind == RecordKind::presence && !r.flag;
  if (!append && !offline) return index + 1;
  const auto belongs = [&](const Record& push) {
    return append ? push.channel == r.channel && push.seq == r.seq : push.user == r.user;
  };
  std::size_t j = index + 1;
  while (j < history.size() && history[j].kind == RecordKind::push && history[j].node == r.node &&
         belongs(history[j])) {
    ++j;
  }
  return j;
}

bool is_node_record(RecordKind kind) {
  switch (kind) {
    case RecordKind::life:
    case RecordKind::logout:
    case RecordKind::token:
    case RecordKind::presence:
    case RecordKind::push:
    case RecordKind::append:
    case RecordKind::crash:
    case RecordKind::restart:
    case RecordKind::gateway:
    case RecordKind::connection:
      return true;
    default:
      return false;
  }
}

}  // namespace parley::sim::invariants
