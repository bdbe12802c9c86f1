// Replies, mentions and mute (docs/engine.md, rule 21).
//
// A reply stores only the seq it answers; its quote is read from the store each time the
// reply is served, for that reader: so a quote shows the original's latest text, says
// "deleted" once it is (the deleted text is kept nowhere, quotes included), and reveals
// nothing of a message outside the reader's membership windows.
//
// Mentions are read from a group message's text when it is stored (and again when it is
// edited) and kept with it: which names a text mentions depends on who the members are at
// that moment, and a later change of membership must not change an old message.
//
// A mute lives in the member's record of the channel: the push path reads that record for
// each recipient it would push to anyway, and a new device finds it in listChannels.
#include <algorithm>
#include <set>
#include <string>

#include "engine/context.hpp"
#include "engine/utf8.hpp"

namespace parley::engine::detail {
namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// The active member of `channel` called `name`, trying shorter spellings without trailing
// '.', '-' or '_' ("@bob." at the end of a sentence names bob).
std::optional<UserId> member_named(const Records& records, ChannelId channel,
                                   std::string_view name) {
  while (!name.empty()) {
    if (const auto user = records.user_by_name(name)) {
      const auto member = records.member(channel, *user);
      if (member && member->state == MemberState::active) return user;
    }
    const char last = name.back();
    if (last != '.' && last != '-' && last != '_') break;
    name.remove_suffix(1);
  }
  return std::nullopt;
}

Quote quote_of(const MessageRecord& original) {
  Quote quote;
  quote.sender = original.sender;
  quote.edited = original.edited_seq != 0;
  quote.deleted = original.deleted;
  if (!original.deleted) {
    quote.text = std::string(utf8_prefix(original.text, limits::kQuoteCodePoints));
  }
  return quote;
}

}  // namespace

bool in_windows(const MemberRecord& member, Seq seq) {
  const bool current =
      seq >= member.joined_seq && (member.state == MemberState::active || seq <= member.left_seq);
  if (current) return true;
  return std::any_of(member.earlier.begin(), member.earlier.end(), [seq](const auto& window) {
    return seq >= window.first && seq <= window.second;
  });
}

std::optional<MessageRecord> readable_text(const Records& records, ChannelId channel,
                                           const MemberRecord& member, Seq seq) {
  if (seq == 0 || !in_windows(member, seq)) return std::nullopt;
  auto message = records.message({channel, seq});
  if (!message || message->kind != MessageKind::text) return std::nullopt;
  return message;
}

std::vector<UserId> find_mentions(const Records& records, const ChannelRecord& channel,
                                  std::string_view text, UserId sender) {
  std::vector<UserId> found;
  if (channel.kind != ChannelKind::group) return found;
  // Each distinct @word costs store reads: a hostile text of 50,000 of them gets the first
  // limits::kMaxMentionNames looked up, not 50,000.
  std::set<std::string, std::less<>> tried;
  for (std::size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    if (at > 0 && name_char(text[at - 1])) continue;  // an address: ann@example.org
    std::size_t end = at + 1;
    while (end < text.size() && name_char(text[end]))
      ++end;
    const std::string word = fold_user_name(text.substr(at + 1, end - at - 1));
    if (word.empty() || tried.contains(word)) continue;
    if (tried.size() == limits::kMaxMentionNames) break;
    tried.insert(word);
    const auto user = member_named(records, channel.id, word);
    if (user && *user != sender) found.push_back(*user);
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::optional<Error> check_reply(const Records& records, UserId user, ChannelId channel, Seq seq) {
  if (channel == 0) {
    return Error{ErrorCode::unknown_message, "no chat with that user yet: nothing to reply to"};
  }
  const auto member = records.member(channel, user);
  const auto original = member ? readable_text(records, channel, *member, seq) : std::nullopt;
  if (!original) {
    return Error{ErrorCode::unknown_message, "channel " + std::to_string(channel) +
                                                 " has no text message " + std::to_string(seq) +
                                                 " you may read to reply to"};
  }
  if (original->deleted) {
    return Error{ErrorCode::message_deleted, "message " + std::to_string(seq) +
                                                 " was deleted for everyone: nothing to reply to"};
  }
  return std::nullopt;
}

void present(const Records& records, UserId reader, Message& message) {
  const bool edit = message.kind == MessageKind::edited;
  if (message.reply_to == 0 && !edit) return;
  const auto member = records.member(message.channel, reader);
  if (edit) {
    // An edit of a message outside the reader's windows (posted before they joined) must
    // not hand them its new text: they may not read the message it changes (rule 8).
    if (!member || !in_windows(*member, message.target)) {
      message.text.clear();
      message.mentions.clear();
    }
    return;
  }
  const auto original =
      member ? readable_text(records, message.channel, *member, message.reply_to) : std::nullopt;
  if (!original) {
    message.quote = Quote{};
    message.quote.unavailable = true;
    return;
  }
  message.quote = quote_of(*original);
}

bool muted(const MemberRecord& member, TimeUs now) {
  return member.muted_until == kMutedForever || now < member.muted_until;
}

bool wants_push(const Records& records, UserId user, const MessageRecord& message, TimeUs now) {
  const auto member = records.member(message.channel, user);
  if (!member) return true;
  return wants_push(*member, user, message, now);
}

bool wants_push(const MemberRecord& member, UserId user, const MessageRecord& message, TimeUs now) {
  if (member.request) return false;  // a message request never pushes (rule 22)
  if (std::binary_search(message.mentions.begin(), message.mentions.end(), user)) return true;
  return !muted(member, now);
}

server::ChannelMute mute_state(RequestId request, ChannelId channel, const MemberRecord& member,
                               TimeUs now) {
  server::ChannelMute state{request, channel, 0, false};
  if (member.muted_until == kMutedForever) {
    state.forever = true;
  } else if (now < member.muted_until) {
    state.muted_until = member.muted_until;
  }
  return state;
}

void handle(Context& context, const client::MuteChannel& mute) {
  if (mute.forever && mute.for_us != 0) {
    return context.fail(mute.request, {ErrorCode::bad_request,
                                       "a mute is for a time (forUs) or forever, not both"});
  }
  if (mute.for_us < 0 || mute.for_us > limits::kMaxMuteUs) {
    return context.fail(mute.request, {ErrorCode::bad_request,
                                       "forUs is 1 µs to 366 days (0, or none, unmutes), not " +
                                           std::to_string(mute.for_us)});
  }
  const auto channel = member_channel(context, mute.request, mute.channel);
  if (!channel) return;
  auto member = context.records.member(mute.channel, context.user());
  PARLEY_ASSERT(member.has_value());
  const TimeUs until = mute.forever       ? kMutedForever
                       : mute.for_us == 0 ? 0
                                          : context.now + mute.for_us;
  const bool changed = until != member->muted_until;
  if (changed) {
    member->muted_until = until;
    context.records.put_member(mute.channel, context.user(), *member);
  }
  context.reply(mute_state(mute.request, mute.channel, *member, context.now));
  if (!changed) return;
  // The user's other devices show the bell the same way (request 0, as for settings).
  send_to_other_devices(context, mute_state(0, mute.channel, *member, context.now));
}

}  // namespace parley::engine::detail
