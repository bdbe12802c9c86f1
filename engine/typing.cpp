// Typing indicators (docs/engine.md, rule 18): ephemeral, throttled, never stored.
//
// A client says Typing{channel, typing: true} every limits::kTypingRefreshUs (3 s) while its
// user types, and typing: false when the composer is cleared. The engine forwards a start to
// the live connections of the channel's other active members at most once per
// limits::kTypingMinGapUs (2 s) per (channel, user) while it is shown, a new start after a
// stop at once while an allowance of two starts per gap lasts (take_start), and a stop only
// while a start is shown: a client that sends a start per keystroke, or alternates starts
// and stops, costs its peers a start and a stop per two seconds, after at most two at once.
// A message from the user ends the indicator and resets all of it (messages are bounded on
// their own). Receivers
// hide an indicator after its ttl, or at a stop, or at a message from its user.
#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

using TypingKey = std::pair<ChannelId, UserId>;

// Whether a start may go out now, taking its cost from the allowance if so. While a start is
// shown, a new one is a refresh: due once the gap has passed. After a stop, a new start is
// news, and goes out while the allowance lasts: it refills at one start per gap, up to two,
// so a person who clears the composer and types again is shown at once, and a client
// alternating starts and stops gets two starts through and then one per gap.
bool take_start(State::TypingShown& last, TimeUs now) {
  const TimeUs elapsed = now - last.started_at;
  if (last.shown && elapsed < limits::kTypingMinGapUs) return false;
  const TimeUs allowance = std::min(last.allowance + elapsed, 2 * limits::kTypingMinGapUs);
  if (allowance < limits::kTypingMinGapUs) return false;
  last = {now, allowance - limits::kTypingMinGapUs, true};
  return true;
}

void forward(Context& context, const ChannelRecord& channel, bool typing) {
  const server::Typing event{channel.id, context.user(), typing, limits::kTypingTtlUs};
  for (UserId member : context.records.active_members(channel.id)) {
    if (member != context.user()) send_to_user(context.state, member, event, context.out);
  }
}

}  // namespace

void handle(Context& context, const client::Typing& typing) {
  if (typing.channel == 0) {
    return context.fail(typing.request, {ErrorCode::bad_request, "typing names a channel"});
  }
  const auto channel = member_channel(context, typing.request, typing.channel);
  if (!channel) return;
  // A stop is never refused for a block: it takes back an indicator shown before the block.
  if (typing.typing && channel->kind == ChannelKind::direct) {
    if (auto error = block_between(context, direct_peer(context, channel->id))) {
      return context.fail(typing.request, *error);
    }
  }
  State& state = context.state;
  const TypingKey key{channel->id, context.user()};
  if (typing.typing) {
    const auto last =
        state.typing
            .try_emplace(key, State::TypingShown{context.now, 2 * limits::kTypingMinGapUs, false})
            .first;
    if (!take_start(last->second, context.now)) return;  // throttled: dropped, not refused
    forward(context, *channel, true);
  } else {
    const auto last = state.typing.find(key);
    const bool shown = last != state.typing.end() && last->second.shown &&
                       context.now - last->second.started_at < limits::kTypingTtlUs;
    if (!shown) return;          // nothing to take back: receivers hid it at the ttl
    last->second.shown = false;  // kept for the gap until it expires
    forward(context, *channel, false);
  }
}

void end_typing(State& state, ChannelId channel, UserId user) {
  state.typing.erase({channel, user});
}

void expire_typing(State& state, TimeUs now) {
  std::erase_if(state.typing, [now](const auto& entry) {
    return now - entry.second.started_at >= limits::kTypingTtlUs;
  });
}

}  // namespace parley::engine::detail
