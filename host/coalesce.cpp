#include "host/coalesce.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <utility>
#include <vector>

namespace parley::host {
namespace {

using engine::ChannelId;
using engine::ConnectionId;
using engine::Effect;
using engine::SendEvent;
using engine::server::Receipt;
using engine::server::ReceiptEntry;

const Receipt* receipt_in(const Effect& effect) {
  const auto* send = std::get_if<SendEvent>(&effect);
  if (send == nullptr || send->connection == 0) return nullptr;
  return std::get_if<Receipt>(&send->event);
}

struct Group {
  std::size_t count = 0;
  std::size_t last = 0;               // index of the last receipt of the group
  std::vector<ReceiptEntry> entries;  // one per member, the newest
};

void keep_newest(std::vector<ReceiptEntry>& entries, const ReceiptEntry& entry) {
  const auto found = std::find_if(entries.begin(), entries.end(),
                                  [&](const ReceiptEntry& e) { return e.user == entry.user; });
  if (found == entries.end()) {
    entries.push_back(entry);
  } else {
    *found = entry;
  }
}

}  // namespace

void coalesce_receipts(engine::Effects& effects) {
  // Most batches hold no receipt, or one per connection and channel: one pass finds out.
  std::map<std::pair<ConnectionId, ChannelId>, Group> groups;
  bool any_shared = false;
  for (std::size_t i = 0; i < effects.size(); ++i) {
    const Receipt* receipt = receipt_in(effects[i]);
    if (receipt == nullptr) continue;
    const ConnectionId connection = std::get<SendEvent>(effects[i]).connection;
    Group& group = groups[{connection, receipt->channel}];
    any_shared |= ++group.count > 1;
    group.last = i;
  }
  if (!any_shared) return;
  std::vector<bool> absorbed(effects.size(), false);
  for (std::size_t i = 0; i < effects.size(); ++i) {
    const Receipt* receipt = receipt_in(effects[i]);
    if (receipt == nullptr) continue;
    auto& send = std::get<SendEvent>(effects[i]);
    const ChannelId channel = receipt->channel;
    Group& group = groups[{send.connection, channel}];
    if (group.count < 2) continue;
    keep_newest(group.entries, receipt->entry);
    if (i != group.last) {
      absorbed[i] = true;
      continue;
    }
    std::sort(group.entries.begin(), group.entries.end(),
              [](const ReceiptEntry& a, const ReceiptEntry& b) { return a.user < b.user; });
    send.event = engine::server::Receipts{0, channel, std::move(group.entries)};
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < effects.size(); ++i) {
    if (absorbed[i]) continue;
    if (kept != i) effects[kept] = std::move(effects[i]);
    ++kept;
  }
  effects.resize(kept);
}

}  // namespace parley::host
