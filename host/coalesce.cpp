#include "host/coalesce.hpp"

#include <algorithm>
#include <cstddef>
#include <map>
#include <tuple>
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

// The channel of an answer to QueryReceipts (request != 0) in `effect`, else 0.
ChannelId answered_channel(const Effect& effect) {
  const auto* send = std::get_if<SendEvent>(&effect);
  if (send == nullptr || send->connection == 0) return 0;
  const auto* answer = std::get_if<engine::server::Receipts>(&send->event);
  return answer != nullptr && answer->request != 0 ? answer->channel : 0;
}

// Receipts merge per connection, channel and span: an answer to QueryReceipts for the
// channel ends a span, so no receipt told before the answer arrives after it (a read the
// answer no longer shows, say, once the reader turned read receipts off).
using Key = std::tuple<ConnectionId, ChannelId, std::size_t>;

// Walks `effects`, calling `visit(index, key, receipt)` for each receipt with its key.
template <typename F>
void walk(const engine::Effects& effects, F&& visit) {
  std::map<std::pair<ConnectionId, ChannelId>, std::size_t> spans;
  for (std::size_t i = 0; i < effects.size(); ++i) {
    if (const ChannelId answered = answered_channel(effects[i]); answered != 0) {
      ++spans[{std::get<SendEvent>(effects[i]).connection, answered}];
      continue;
    }
    const Receipt* receipt = receipt_in(effects[i]);
    if (receipt == nullptr) continue;
    const ConnectionId connection = std::get<SendEvent>(effects[i]).connection;
    visit(i, Key{connection, receipt->channel, spans[{connection, receipt->channel}]}, *receipt);
  }
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
  std::map<Key, Group> groups;
  bool any_shared = false;
  walk(effects, [&](std::size_t i, const Key& key, const Receipt&) {
    Group& group = groups[key];
    any_shared |= ++group.count > 1;
    group.last = i;
  });
  if (!any_shared) return;
  std::vector<bool> absorbed(effects.size(), false);
  walk(effects, [&](std::size_t i, const Key& key, const Receipt& receipt) {
    Group& group = groups.find(key)->second;
    if (group.count < 2) return;
    keep_newest(group.entries, receipt.entry);
    if (i != group.last) {
      absorbed[i] = true;
      return;
    }
    const ChannelId channel = receipt.channel;
    auto& send = std::get<SendEvent>(effects[i]);
    if (group.entries.size() == 1) {  // one member's moves: the newest, as a receipt
      send.event = Receipt{channel, group.entries.front()};
      return;
    }
    std::sort(group.entries.begin(), group.entries.end(),
              [](const ReceiptEntry& a, const ReceiptEntry& b) { return a.user < b.user; });
    send.event = engine::server::Receipts{0, channel, std::move(group.entries)};
  });
  std::size_t kept = 0;
  for (std::size_t i = 0; i < effects.size(); ++i) {
    if (absorbed[i]) continue;
    if (kept != i) effects[kept] = std::move(effects[i]);
    ++kept;
  }
  effects.resize(kept);
}

}  // namespace parley::host
