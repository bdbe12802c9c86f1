// Unread counts (docs/engine.md, rules 14 and 19): per user and channel, the text messages
// from others past the user's read position there (MarkRead, receipts.cpp), with the user's
// total under channel 0.

#include "engine/context.hpp"

namespace parley::engine::detail {

// The user's delivered position is the highest inbox entry any of their devices acked.
void advance_delivered(Context& context, InboxSeq acked) {
  Records& records = context.records;
  const UserId user = context.user();
  const InboxSeq position = records.read_position(user);
  if (acked <= position) return;
  note_delivered(context.state, user, records.inbox_after(user, position, acked - position),
                 context.out);
  records.put_read_position(user, acked);
  clear_read_pushes(context.state, user, acked);  // what a device stored is owed no push
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
