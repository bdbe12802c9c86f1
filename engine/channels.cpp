// Channels: looking them up for a request, 1:1 channels (docs/engine.md, rule 2), and the
// user's channel list.
#include "engine/context.hpp"

namespace parley::engine {
namespace detail {
namespace {

// What the context's user is shown of channel `id`: nothing if they were never in it.
std::optional<server::ChannelSummary> summarize_channel(const Context& context, ChannelId id) {
  const Records& records = context.records;
  const auto channel = records.channel(id);
  const auto membership = records.member(id, context.user());
  if (!channel || !membership || deleted_request(*channel, *membership)) return std::nullopt;
  server::ChannelSummary summary{
      id, channel->kind, channel->name, channel->admin, channel->last_seq, true, {}, 0};
  summary.read_seq = records.receipt(id, context.user()).read_seq;
  summary.request = membership->request;
  if (channel->kind == ChannelKind::direct && membership->joined_seq > 0) {
    summary.cleared_seq = membership->joined_seq - 1;  // a deleted request (rule 22)
  }
  if (membership->state != MemberState::active) {
    summary.active = false;
    summary.last_seq = membership->left_seq;
    return summary;
  }
  // A mute is an active member's: it ends when they leave or are removed.
  const auto mute = mute_state(0, id, *membership, context.now);
  summary.muted_until = mute.muted_until;
  summary.muted_forever = mute.forever;
  for (UserId member : records.active_members(id)) {
    const auto user = records.user(member);
    PARLEY_ASSERT(user.has_value());
    summary.members.push_back(server::ChannelMember{member, user->name});
  }
  return summary;
}

}  // namespace

Error unknown_channel(ChannelId channel) {
  return {ErrorCode::unknown_channel, "no channel " + std::to_string(channel)};
}

Error not_a_member(ChannelId channel) {
  return {ErrorCode::not_a_member, "you are not a member of channel " + std::to_string(channel)};
}

std::optional<ChannelRecord> member_channel(Context& context, RequestId request, ChannelId id) {
  auto channel = context.records.channel(id);
  if (!channel) {
    context.fail(request, unknown_channel(id));
    return std::nullopt;
  }
  const auto member = context.records.member(id, context.user());
  if (!member || member->state != MemberState::active) {
    context.fail(request, not_a_member(id));
    return std::nullopt;
  }
  return channel;
}

// Whichever side starts, the (lower, higher) user pair finds the same channel.
ChannelRecord direct_channel_with(Context& context, UserId peer) {
  Records& records = context.records;
  const UserId me = context.user();
  if (auto id = records.direct_channel(me, peer)) {
    auto channel = records.channel(*id);
    PARLEY_ASSERT(channel.has_value());
    return *channel;
  }
  ChannelRecord channel;
  channel.id = records.allocate_id("channel");
  channel.kind = ChannelKind::direct;
  channel.member_count = me == peer ? 1 : 2;
  channel.created_at = context.now;
  records.put_channel(channel);
  records.put_direct_channel(me, peer, channel.id);
  records.put_member(channel.id, me, {MemberState::active, 0, 0, {}});
  if (peer != me) {
    MemberRecord theirs{MemberState::active, 0, 0, {}};
    theirs.request = starts_as_request(records, peer, me);  // rule 22
    records.put_member(channel.id, peer, theirs);
  }
  return channel;
}

UserId direct_peer(const Context& context, ChannelId channel) {
  for (const auto& [user, member] : context.records.all_members(channel)) {
    if (user != context.user()) return user;
  }
  return context.user();
}

void handle(Context& context, const client::ListChannels& list) {
  if (list.limit == 0 || list.limit > limits::kMaxChannelPage) {
    return context.fail(list.request, {ErrorCode::invalid_limit,
                                       "a channel page holds 1 to " +
                                           std::to_string(limits::kMaxChannelPage) + " channels"});
  }
  // Chats the list leaves out (deleted requests, rule 22) are skipped until the page is full
  // and one more listed chat is known to follow: `more` promises a non-empty next page. (A
  // page cut before skipping them could come back empty with more = true, and a client
  // asking again from the same `after` would never get past them.)
  server::ChannelList page{list.request, {}, false};
  for (ChannelId after = list.after;;) {
    const auto ids =
        context.records.channels_of(context.user(), after, list.limit + std::size_t{1});
    for (ChannelId id : ids) {
      auto summary = summarize_channel(context, id);
      if (!summary) continue;
      if (page.channels.size() == list.limit) {
        page.more = true;
        return context.reply(std::move(page));
      }
      page.channels.push_back(std::move(*summary));
    }
    if (ids.size() <= list.limit) break;  // the user's last chat was read
    after = ids.back();
  }
  context.reply(std::move(page));
}

}  // namespace detail

std::optional<ChannelRecord> Engine::channel(ChannelId id) const {
  return state_->records.channel(id);
}

std::vector<std::pair<UserId, MemberRecord>> Engine::members(ChannelId id) const {
  return state_->records.all_members(id);
}

std::vector<MessageRecord> Engine::messages(ChannelId id, Seq first, Seq last) const {
  return state_->records.messages(id, first, last);
}

Engine::MessagePage Engine::messages_after(MessageId after, std::size_t limit) const {
  MessagePage page;
  page.messages = state_->records.messages_after(after, limit);
  if (!page.messages.empty()) {
    page.last = {page.messages.back().channel, page.messages.back().seq};
  }
  return page;
}

}  // namespace parley::engine
