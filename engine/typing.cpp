// Typing indicators (docs/engine.md, rule 18): ephemeral, throttled, never stored.
//
// A client says Typing{channel, typing: true} every limits::kTypingRefreshUs (3 s) while its
// user types, and typing: false when the composer is cleared. The engine forwards a start to
// the live connections of the channel's other active members at most once per
// limits::kTypingMinGapUs (2 s) per (channel, user), a stop only when a start is being
// shown, and nothing else: a client that sends a start per keystroke costs its peers one
// frame per two seconds at most. Receivers
// hide an indicator after its ttl, or at a stop, or at a message from its user.
#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

using TypingKey = std::pair<ChannelId, UserId>;

// Whether a start may go out now: none is being shown, or the shown one is old enough to
// refresh.
bool start_due(const State& state, const TypingKey& key, TimeUs now) {
  const auto shown = state.typing.find(key);
  return shown == state.typing.end() || now - shown->second >= limits::kTypingMinGapUs;
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
  if (channel->kind == ChannelKind::direct) {
    if (auto error = block_between(context, direct_peer(context, channel->id))) {
      return context.fail(typing.request, *error);
    }
  }
  State& state = context.state;
  const TypingKey key{channel->id, context.user()};
  if (typing.typing) {
    if (!start_due(state, key, context.now)) return;  // throttled: the shown one still holds
    state.typing[key] = context.now;
    forward(context, *channel, true);
  } else {
    if (state.typing.erase(key) == 0) return;  // nothing shown: nothing to take back
    forward(context, *channel, false);
  }
}

void end_typing(State& state, ChannelId channel, UserId user) {
  state.typing.erase({channel, user});
}

void expire_typing(State& state, TimeUs now) {
  std::erase_if(state.typing,
                [now](const auto& entry) { return now - entry.second >= limits::kTypingTtlUs; });
}

}  // namespace parley::engine::detail
