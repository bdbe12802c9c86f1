// Groups (docs/engine.md, rule 3): creating one, adding and removing members, leaving, and
// handing the admin role over. Each change is an event message in the group's sequence.
#include <algorithm>
#include <string>

#include "engine/context.hpp"
#include "engine/utf8.hpp"

namespace parley::engine::detail {
namespace {

std::optional<Error> check_group_name(std::string_view name) {
  const auto code_points = utf8_code_points(name);
  if (!code_points || *code_points == 0 || *code_points > limits::kMaxGroupNameCodePoints) {
    return Error{ErrorCode::invalid_name, "a group name is 1 to " +
                                              std::to_string(limits::kMaxGroupNameCodePoints) +
                                              " characters of UTF-8"};
  }
  return std::nullopt;
}

Error group_full_error() {
  return Error{ErrorCode::group_full, "a group holds at most " +
                                          std::to_string(limits::kMaxGroupMembers) +
                                          " members, its creator included"};
}

// too_many_groups when `user` is already in limits::kMaxGroupsPerUser groups.
std::optional<Error> group_limit(const Context& context, UserId user) {
  constexpr auto kMax = limits::kMaxGroupsPerUser;
  if (context.records.active_groups(user, kMax).size() < kMax) return std::nullopt;
  return Error{
      ErrorCode::too_many_groups,
      (user == context.user() ? std::string("you are") : "user " + std::to_string(user) + " is") +
          " in " + std::to_string(kMax) + " groups, the most a user may be in"};
}

// Nobody adds a user to a group (creating it or later) when either of the two blocked the
// other: a block keeps the blocked user from reaching the blocker through a group too.
std::optional<Error> group_block(const Context& context, UserId user) {
  if (blocks(context.records, context.user(), user)) {
    return Error{ErrorCode::blocked, "you blocked user " + std::to_string(user) +
                                         "; unblock them to add them to a group"};
  }
  if (blocks(context.records, user, context.user())) {
    return Error{ErrorCode::blocked,
                 "user " + std::to_string(user) + " cannot be added to a group by you"};
  }
  return std::nullopt;
}

// The group, if the context's user is its admin; else fails the request and returns nothing.
std::optional<ChannelRecord> admin_channel(Context& context, RequestId request, ChannelId id) {
  auto channel = member_channel(context, request, id);
  if (!channel) return std::nullopt;
  if (channel->kind != ChannelKind::group) {
    context.fail(request,
                 {ErrorCode::not_a_group, "channel " + std::to_string(id) + " is a 1:1 chat"});
    return std::nullopt;
  }
  if (channel->admin != context.user()) {
    context.fail(request, {ErrorCode::not_admin, "only the group's admin changes its members"});
    return std::nullopt;
  }
  return channel;
}

void end_membership(Context& context, ChannelRecord& channel, UserId user, MemberRecord member,
                    Seq seq) {
  member.state = MemberState::removed;
  member.left_seq = seq;
  member.muted_until = 0;  // a mute ends with the membership (rule 21)
  context.records.put_member(channel.id, user, member);
  context.records.set_group_member(user, channel.id, false);
  PARLEY_ASSERT(channel.member_count > 0);
  --channel.member_count;
}

// The longest-standing remaining member becomes admin, so a group is never left without
// one while it has members.
void hand_over_admin(Context& context, ChannelRecord& channel) {
  Records& records = context.records;
  std::optional<std::pair<Seq, UserId>> successor;
  for (const auto& [user, member] : records.all_members(channel.id)) {
    if (member.state != MemberState::active) continue;
    const std::pair<Seq, UserId> rank{member.joined_seq, user};
    if (!successor || rank < *successor) successor = rank;
  }
  channel.admin = successor ? successor->second : 0;
  if (!successor) {
    records.put_channel(channel);
    return;
  }
  MessageRecord event = new_message(context, channel, MessageKind::admin_changed);
  event.users = {channel.admin};
  append(context, channel, std::move(event), records.active_members(channel.id));
}

}  // namespace

void handle(Context& context, const client::CreateGroup& create) {
  Records& records = context.records;
  if (auto error = check_group_name(create.name)) return context.fail(create.request, *error);
  std::vector<UserId> founders{context.user()};
  for (UserId user : create.members) {
    if (std::find(founders.begin(), founders.end(), user) != founders.end()) continue;
    if (!records.user(user)) return context.fail(create.request, unknown_user(user));
    if (auto error = group_block(context, user)) return context.fail(create.request, *error);
    founders.push_back(user);
    // Here, not after the loop: a frame of 100,000 ids must not cost 100,000 squared.
    if (founders.size() > limits::kMaxGroupMembers) {
      return context.fail(create.request, group_full_error());
    }
  }
  for (UserId user : founders) {
    if (auto error = group_limit(context, user)) return context.fail(create.request, *error);
  }

  ChannelRecord channel;
  channel.id = records.allocate_id("channel");
  channel.kind = ChannelKind::group;
  channel.name = create.name;
  channel.admin = context.user();
  channel.member_count = static_cast<std::uint32_t>(founders.size());
  channel.created_at = context.now;
  MessageRecord event = new_message(context, channel, MessageKind::group_created);
  event.text = create.name;
  event.users = founders;
  for (UserId user : founders) {
    MemberRecord member{MemberState::active, event.seq, 0, {}};
    member.request = starts_as_request(records, user, context.user());  // rule 22
    records.put_member(channel.id, user, member);
    records.set_group_member(user, channel.id, true);
  }
  context.reply(server::GroupCreated{create.request, channel.id});
  std::sort(founders.begin(), founders.end());
  append(context, channel, std::move(event), founders);
}

void handle(Context& context, const client::AddMember& add) {
  Records& records = context.records;
  auto channel = admin_channel(context, add.request, add.channel);
  if (!channel) return;
  if (!records.user(add.user)) return context.fail(add.request, unknown_user(add.user));
  if (auto error = group_block(context, add.user)) return context.fail(add.request, *error);
  const auto existing = records.member(channel->id, add.user);
  if (existing && existing->state == MemberState::active) {
    return context.fail(add.request, {ErrorCode::already_member,
                                      "user " + std::to_string(add.user) + " is already a member"});
  }
  if (channel->member_count >= limits::kMaxGroupMembers) {
    return context.fail(add.request, group_full_error());
  }
  if (auto error = group_limit(context, add.user)) return context.fail(add.request, *error);
  MessageRecord event = new_message(context, *channel, MessageKind::member_added);
  event.users = {add.user};
  MemberRecord joined{MemberState::active, event.seq, 0, {}};
  joined.request = starts_as_request(records, add.user, context.user());  // rule 22
  if (existing) {  // added again: the windows they were in before stay readable, no more
    joined.earlier = existing->earlier;
    joined.earlier.emplace_back(existing->joined_seq, existing->left_seq);
    if (joined.earlier.size() > kMaxEarlierWindows) joined.earlier.erase(joined.earlier.begin());
  }
  records.put_member(channel->id, add.user, joined);
  records.set_group_member(add.user, channel->id, true);
  ++channel->member_count;
  context.reply(server::Ok{add.request});
  append(context, *channel, std::move(event), records.active_members(channel->id));
}

void handle(Context& context, const client::RemoveMember& remove) {
  Records& records = context.records;
  auto channel = admin_channel(context, remove.request, remove.channel);
  if (!channel) return;
  if (remove.user == context.user()) {
    return context.fail(remove.request, {ErrorCode::bad_request,
                                         "the admin leaves a group with leave, not remove"});
  }
  const auto existing = records.member(channel->id, remove.user);
  if (!existing || existing->state != MemberState::active) {
    return context.fail(
        remove.request,
        {ErrorCode::not_a_member, "user " + std::to_string(remove.user) + " is not a member"});
  }
  MessageRecord event = new_message(context, *channel, MessageKind::member_removed);
  event.users = {remove.user};
  end_membership(context, *channel, remove.user, *existing, event.seq);
  context.reply(server::Ok{remove.request});
  auto recipients = records.active_members(channel->id);
  recipients.push_back(remove.user);  // the removed member learns of it too
  append(context, *channel, std::move(event), recipients);
}

void handle(Context& context, const client::LeaveGroup& leave) {
  auto channel = member_channel(context, leave.request, leave.channel);
  if (!channel) return;
  if (channel->kind != ChannelKind::group) {
    return context.fail(leave.request, {ErrorCode::not_a_group, "one cannot leave a 1:1 chat"});
  }
  leave_group(context, *channel, server::Ok{leave.request});
}

void leave_group(Context& context, ChannelRecord& channel, server::Event answer) {
  Records& records = context.records;
  const UserId leaver = context.user();
  MessageRecord event = new_message(context, channel, MessageKind::member_left);
  event.users = {leaver};
  end_membership(context, channel, leaver, *records.member(channel.id, leaver), event.seq);
  context.reply(std::move(answer));
  auto recipients = records.active_members(channel.id);
  recipients.push_back(leaver);
  append(context, channel, std::move(event), recipients);
  if (channel.admin == leaver) hand_over_admin(context, channel);
}

}  // namespace parley::engine::detail
