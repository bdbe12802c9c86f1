// Message requests (docs/engine.md, rule 22): a chat someone who is not your contact starts
// with you waits apart until you accept or delete it, as in Instagram or Signal. Its
// messages reach your devices but push nothing, count nothing unread, and your reads there
// tell no one; the sender is not told any of this.
#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

// The user's other live devices move or drop the chat as this one did (request 0).
void tell_other_devices(Context& context, server::RequestAnswered answered) {
  answered.request = 0;
  send_to_other_devices(context, answered);
}

// Clears a 1:1 request for the member: their window starts after the newest message (history
// and quotes stop serving what came before), and what still counted unread there stops.
Seq clear_direct_chat(Context& context, const ChannelRecord& channel, MemberRecord member) {
  Records& records = context.records;
  const UserId me = context.user();
  member.joined_seq = channel.last_seq + 1;
  records.put_member(channel.id, me, member);
  const auto counted =
      static_cast<std::int64_t>(records.take_unread_entries(me, channel.id, channel.last_seq));
  if (counted != 0) {
    records.add_unread(me, channel.id, -counted);
    records.add_unread(me, 0, -counted);
    check_unread(context.state, me);
  }
  return channel.last_seq;
}

void accept(Context& context, const client::AnswerRequest& answer, const ChannelRecord& channel,
            MemberRecord member) {
  server::RequestAnswered answered{answer.request, channel.id, answer.answer, 0};
  if (!member.request) return context.reply(answered);  // nothing to accept: a retry, say
  if (channel.kind == ChannelKind::direct) {
    const UserId peer = direct_peer(context, channel.id);
    if (auto error = check_contact_change(context, client::ContactAction::add, peer)) {
      return context.fail(answer.request, *error);
    }
    context.reply(answered);
    change_contact(context, client::ContactAction::add, peer);  // clears the request too
  } else {
    member.request = false;
    context.records.put_member(channel.id, context.user(), member);
    context.reply(answered);
  }
  tell_other_devices(context, answered);
}

void remove(Context& context, const client::AnswerRequest& answer, ChannelRecord& channel,
            const MemberRecord& member) {
  if (!member.request) {
    const std::string hint =
        channel.kind == ChannelKind::group ? "; leave a group with leaveGroup" : "";
    return context.fail(answer.request,
                        {ErrorCode::bad_request, "channel " + std::to_string(channel.id) +
                                                     " is not a message request" + hint});
  }
  server::RequestAnswered answered{answer.request, channel.id, answer.answer, 0};
  if (channel.kind == ChannelKind::direct) {
    answered.cleared_seq = clear_direct_chat(context, channel, member);
    context.reply(answered);
  } else {
    leave_group(context, channel, answered);  // the record keeps `request`: listed no more
  }
  tell_other_devices(context, answered);
}

}  // namespace

bool is_contact(const Records& records, UserId user, UserId other) {
  const auto contact = records.contact(user, other);
  return contact && contact->state == ContactState::contact;
}

bool starts_as_request(const Records& records, UserId user, UserId actor) {
  return user != actor && !is_contact(records, user, actor);
}

namespace {

// Writes the member's request flag if it changes (a member who never was one: nothing).
void set_request(Records& records, ChannelId channel, UserId user, bool request) {
  auto member = records.member(channel, user);
  if (!member || member->request == request) return;
  member->request = request;
  records.put_member(channel, user, *member);
}

}  // namespace

void set_direct_request(Records& records, UserId user, UserId peer, bool request) {
  if (const auto channel = records.direct_channel(user, peer)) {
    set_request(records, *channel, user, request);
  }
}

void accept_by_sending(Records& records, ChannelId channel, UserId user) {
  set_request(records, channel, user, false);
}

bool deleted_request(const ChannelRecord& channel, const MemberRecord& member) {
  if (!member.request) return false;
  if (channel.kind == ChannelKind::group) return member.state != MemberState::active;
  return channel.last_seq < member.joined_seq;  // nothing newer since the delete
}

void handle(Context& context, const client::AnswerRequest& answer) {
  auto channel = member_channel(context, answer.request, answer.channel);
  if (!channel) return;
  const auto member = context.records.member(channel->id, context.user());
  PARLEY_ASSERT(member.has_value());
  switch (answer.answer) {
    case client::RequestAnswer::accept:
      return accept(context, answer, *channel, *member);
    case client::RequestAnswer::delete_:
      return remove(context, answer, *channel, *member);
  }
  context.fail(answer.request, {ErrorCode::bad_request, "unknown answer"});
}

}  // namespace parley::engine::detail
