// Unread counts (docs/engine.md, rule 14): per user and channel, the text messages from
// others that none of the user's devices acked, with the user's total under channel 0.
#include <map>

#include "engine/context.hpp"

namespace parley::engine::detail {

void count_unread(State& state, UserId user, ChannelId channel) {
  state.records.add_unread(user, channel, 1);
  state.records.add_unread(user, 0, 1);
  check_unread(state, user);
}

// The user's read position is the highest inbox entry any of their devices acked; moving
// it takes the entries it passes off the unread counts.
void advance_read_position(Context& context, InboxSeq acked) {
  Records& records = context.records;
  const UserId user = context.user();
  const InboxSeq position = records.read_position(user);
  if (acked <= position) return;
  std::map<ChannelId, std::int64_t> read_per_channel;
  std::int64_t read_total = 0;
  for (const InboxRef& entry : records.inbox_after(user, position, acked - position)) {
    if (!entry.counts_unread) continue;
    --read_per_channel[entry.message.channel];
    --read_total;
  }
  for (const auto& [channel, delta] : read_per_channel)
    records.add_unread(user, channel, delta);
  if (read_total != 0) records.add_unread(user, 0, read_total);
  records.put_read_position(user, acked);
  check_unread(context.state, user);
  clear_read_pushes(context.state, user, acked);  // what a device read is owed no push
}

void handle(Context& context, const client::QueryUnread& query) {
  server::UnreadCounts counts{query.request, context.records.unread(context.user(), 0), {}, false};
  counts.channels = context.records.unread_channels(context.user(), query.after,
                                                    limits::kMaxUnreadPage + std::size_t{1});
  if (counts.channels.size() > limits::kMaxUnreadPage) {
    counts.more = true;
    counts.channels.pop_back();
  }
  context.reply(std::move(counts));
}

void check_unread(const State& state, UserId user) {
  if (!state.config.check_invariants) return;
  std::uint64_t sum = 0;
  for (const auto& [channel, count] : state.records.unread_channels(user, 0, SIZE_MAX))
    sum += count;
  PARLEY_ASSERT(sum == state.records.unread(user, 0));
}

}  // namespace parley::engine::detail
