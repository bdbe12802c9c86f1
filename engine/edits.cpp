// Edits and deletes for everyone (docs/engine.md, rule 20): each is a new entry in the
// channel's own sequence (kind `edited` or `deleted`, `target` = the message it changes),
// fanned out like any message, and a rewrite of the original in the store, so history and
// any later delivery of the original show its latest state.
//
// Only one version of a message's text is ever stored besides the original's: an edit
// erases the text of the edit it supersedes (and points it at the newer one), and a delete
// erases the original's and the newest edit's. So a delete costs two writes however often
// the message was edited, and deleted text is gone from the store, not hidden.
#include <string>

#include "engine/context.hpp"

namespace parley::engine::detail {
namespace {

struct Target {
  ChannelRecord channel;
  MessageRecord message;
};

// The text message `seq` of `channel` the context's user, an active member, may read; or
// nothing, with the request failed (unknown_channel, not_a_member, unknown_message).
std::optional<Target> find_target(Context& context, RequestId request, ChannelId channel_id,
                                  Seq seq) {
  auto channel = member_channel(context, request, channel_id);
  if (!channel) return std::nullopt;
  const auto member = context.records.member(channel_id, context.user());
  PARLEY_ASSERT(member.has_value());
  auto message = readable_text(context.records, channel_id, *member, seq);
  if (!message) {
    context.fail(request, {ErrorCode::unknown_message, "channel " + std::to_string(channel_id) +
                                                           " has no text message " +
                                                           std::to_string(seq) + " you may read"});
    return std::nullopt;
  }
  return Target{std::move(*channel), std::move(*message)};
}

// Erases an `edited` entry's text, for a newer edit (`by`) or a delete (`by` 0).
void erase_edit_entry(Records& records, ChannelId channel, Seq seq, Seq by) {
  auto entry = records.message({channel, seq});
  PARLEY_ASSERT(entry.has_value() && entry->kind == MessageKind::edited);
  entry->text.clear();
  entry->mentions.clear();  // who a text named is part of the text
  if (by != 0) {
    entry->edited_seq = by;
  } else {
    entry->deleted = true;
  }
  records.put_message(*entry);
}

std::optional<Error> check_edit(const Context& context, const Target& target,
                                const client::EditMessage& edit) {
  const MessageRecord& original = target.message;
  if (original.sender != context.user()) {
    return Error{ErrorCode::not_your_message, "only its sender edits a message"};
  }
  if (original.deleted) {
    return Error{ErrorCode::message_deleted, "the message was deleted for everyone"};
  }
  const TimeUs window = context.state.config.edit_window_us;
  if (context.now - original.server_time > window) {
    return Error{ErrorCode::too_late,
                 "a message can be edited for " + describe_duration(window) + " after it was sent"};
  }
  if (auto error = check_text(edit.text)) return error;
  if (target.channel.kind == ChannelKind::direct) {
    return block_between(context, direct_peer(context, target.channel.id));
  }
  return std::nullopt;
}

}  // namespace

void handle(Context& context, const client::EditMessage& edit) {
  auto target = find_target(context, edit.request, edit.channel, edit.seq);
  if (!target) return;
  if (auto error = check_edit(context, *target, edit)) return context.fail(edit.request, *error);
  MessageRecord& original = target->message;
  // A retry of an edit that was stored (or an edit to the same text): nothing new.
  if (edit.text == original.text) return context.reply(server::Ok{edit.request});
  Records& records = context.records;
  MessageRecord entry = new_message(context, target->channel, MessageKind::edited);
  entry.target = original.seq;
  entry.text = edit.text;
  entry.mentions = find_mentions(records, target->channel, edit.text, context.user());
  if (original.edited_seq != 0) {
    erase_edit_entry(records, original.channel, original.edited_seq, entry.seq);
  }
  original.text = edit.text;
  original.mentions = entry.mentions;
  original.edited_seq = entry.seq;
  records.put_message(original);
  index_text(context, original);
  context.reply(server::Ok{edit.request});
  append(context, target->channel, std::move(entry), records.active_members(edit.channel));
}

void handle(Context& context, const client::DeleteMessage& remove) {
  auto target = find_target(context, remove.request, remove.channel, remove.seq);
  if (!target) return;
  MessageRecord& original = target->message;
  const bool own = original.sender == context.user();
  const bool admin =
      target->channel.kind == ChannelKind::group && target->channel.admin == context.user();
  if (!own && !admin) {
    return context.fail(remove.request,
                        {ErrorCode::not_your_message,
                         "only its sender, or the group's admin, deletes a message for everyone"});
  }
  // A retry of a delete that was stored: nothing new.
  if (original.deleted) return context.reply(server::Ok{remove.request});
  const TimeUs window = context.state.config.delete_window_us;
  if (!admin && context.now - original.server_time > window) {
    return context.fail(remove.request, {ErrorCode::too_late,
                                         "a message can be deleted for everyone for " +
                                             describe_duration(window) + " after it was sent"});
  }
  Records& records = context.records;
  if (original.edited_seq != 0) {
    erase_edit_entry(records, original.channel, original.edited_seq, 0);
  }
  original.text.clear();
  original.mentions.clear();
  original.reply_to = 0;  // a tombstone quotes nothing
  original.deleted = true;
  records.put_message(original);
  unindex_text(context, original);
  MessageRecord entry = new_message(context, target->channel, MessageKind::deleted);
  entry.target = original.seq;
  context.reply(server::Ok{remove.request});
  append(context, target->channel, std::move(entry), records.active_members(remove.channel));
}

}  // namespace parley::engine::detail
