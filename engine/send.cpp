// Sending: a client's Send, and how any message (text or a group event) enters a channel.
#include <string>

#include "engine/context.hpp"
#include "engine/utf8.hpp"

namespace parley::engine::detail {

std::optional<Error> check_text(std::string_view text) {
  const auto code_points = utf8_code_points(text);
  if (!code_points) return Error{ErrorCode::invalid_utf8, "message text is not valid UTF-8"};
  if (*code_points == 0) return Error{ErrorCode::message_empty, "message text is empty"};
  if (*code_points > limits::kMaxMessageCodePoints) {
    return Error{ErrorCode::message_too_long,
                 "message has " + std::to_string(*code_points) +
                     " characters; the limit is fewer than " +
                     std::to_string(limits::kMaxMessageCodePoints + 1)};
  }
  return std::nullopt;
}

namespace {

std::optional<Error> check_client_msg_id(std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxClientMsgIdBytes || !utf8_code_points(id)) {
    return Error{ErrorCode::invalid_client_msg_id,
                 "client_msg_id must be 1 to " + std::to_string(limits::kMaxClientMsgIdBytes) +
                     " bytes of UTF-8"};
  }
  return std::nullopt;
}

}  // namespace

void handle(Context& context, const client::Send& send) {
  Records& records = context.records;
  if (auto error = check_client_msg_id(send.client_msg_id)) {
    return context.fail(send.request, *error);
  }
  // A retry of a send that was stored: the original's coordinates, nothing new (rule 4).
  if (auto original = records.idempotent_send(context.user(), send.client_msg_id)) {
    const auto message = records.message(*original);
    PARLEY_ASSERT(message.has_value());
    context.reply(server::SendAck{send.request, original->channel, original->seq,
                                  message->server_time, true});
    return;
  }
  if (auto error = check_text(send.text)) return context.fail(send.request, *error);
  if ((send.channel == 0) == (send.peer == 0)) {
    return context.fail(send.request, {ErrorCode::bad_request,
                                       "a send names exactly one of a channel or a peer user"});
  }
  std::optional<ChannelRecord> channel;
  if (send.peer != 0) {
    if (!records.user(send.peer)) return context.fail(send.request, unknown_user(send.peer));
    if (auto error = block_between(context, send.peer)) return context.fail(send.request, *error);
    if (send.reply_to != 0) {  // checked before the channel is made: a refusal stores nothing
      const auto id = records.direct_channel(context.user(), send.peer).value_or(0);
      if (auto error = check_reply(records, context.user(), id, send.reply_to)) {
        return context.fail(send.request, *error);
      }
    }
    channel = direct_channel_with(context, send.peer);
  } else {
    auto found = member_channel(context, send.request, send.channel);
    if (!found) return;
    if (found->kind == ChannelKind::direct) {
      if (auto error = block_between(context, direct_peer(context, found->id))) {
        return context.fail(send.request, *error);
      }
    }
    if (send.reply_to != 0) {
      if (auto error = check_reply(records, context.user(), found->id, send.reply_to)) {
        return context.fail(send.request, *error);
      }
    }
    channel = std::move(found);
  }
  accept_by_sending(records, channel->id, context.user());  // a reply accepts a request
  MessageRecord message = new_message(context, *channel, MessageKind::text);
  message.client_msg_id = send.client_msg_id;
  message.text = send.text;
  message.reply_to = send.reply_to;
  message.mentions = find_mentions(records, *channel, send.text, context.user());
  records.put_idempotent_send(context.user(), send.client_msg_id, {channel->id, message.seq});
  context.reply(server::SendAck{send.request, channel->id, message.seq, context.now, false});
  end_typing(context.state, channel->id, context.user());
  append(context, *channel, std::move(message), records.active_members(channel->id));
}

MessageRecord new_message(const Context& context, const ChannelRecord& channel, MessageKind kind) {
  MessageRecord message;
  message.channel = channel.id;
  message.seq = channel.last_seq + 1;
  message.kind = kind;
  message.sender = context.user();
  message.sender_device = context.device();
  message.server_time = context.now;
  return message;
}

void append(Context& context, ChannelRecord& channel, MessageRecord message,
            const std::vector<UserId>& to) {
  State& state = context.state;
  Records& records = context.records;
  PARLEY_ASSERT(message.seq == channel.last_seq + 1);
  channel.last_seq = message.seq;
  records.put_channel(channel);
  const MessageId id{channel.id, message.seq};
  records.put_message(message);
  const bool is_text = message.kind == MessageKind::text;
  if (is_text) {
    note_sent(state, channel.id, message.sender, message.seq);
    index_text(context, message);
  }
  std::vector<InboxSeq> inbox_seqs;
  std::vector<bool> wants;  // pushes `to[i]` (rules 21 and 22), from the one member read
  inbox_seqs.reserve(to.size());
  wants.reserve(to.size());
  for (UserId user : to) {
    bool counts_unread = false;
    if (is_text && user != message.sender) {
      const auto member = records.member(channel.id, user);
      counts_unread = !member || !member->request;  // not in a message request (rule 22)
      wants.push_back(!member || wants_push(*member, user, message, context.now));
    } else {
      wants.push_back(false);
    }
    inbox_seqs.push_back(records.append_inbox(user, id, counts_unread));
    if (counts_unread) count_unread(state, user, channel.id, message.seq);
  }
  for (UserId user : to)
    deliver_live(state, user, context.out);
  if (!is_text) return;
  for (std::size_t i = 0; i < to.size(); ++i) {
    const UserId user = to[i];
    // The sender; a request (rule 22); muted and not mentioned (rule 21): no push now, and
    // none owed for later, so a mention owed earlier is not replaced by one that would not.
    if (!wants[i]) continue;
    if (pushable(state, user)) {
      push_message(state, user, message, context.now, context.out);
    } else if (!state.connections_by_user.contains(user)) {
      // Shown online, but no device connected to receive it: owed a push once the user is
      // away, unless a device acks it first (rule 13).
      defer_push(state, user, message, inbox_seqs[i]);
    }
  }
}

}  // namespace parley::engine::detail
