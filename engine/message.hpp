// A channel message and the kinds clients see on the wire: what engine/protocol.hpp needs of
// the stored records, without tables or a Store. The encoding of each is in
// engine/record_codec.cpp and docs/storage.md.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/types.hpp"

namespace parley::engine {

enum class ChannelKind : std::uint8_t { direct = 1, group = 2 };
inline constexpr ChannelKind kLastChannelKind = ChannelKind::group;

constexpr std::string_view to_string(ChannelKind kind) {
  switch (kind) {
    case ChannelKind::direct:
      return "direct";
    case ChannelKind::group:
      return "group";
  }
  return "unknown";
}
static_assert(covers_exactly(ChannelKind::direct, kLastChannelKind,
                             [](ChannelKind k) { return to_string(k) != "unknown"; }),
              "channel kinds run from direct to kLastChannelKind: move kLastChannelKind");

enum class MessageKind : std::uint8_t {
  text = 1,
  group_created = 2,   // text: group name; users: the founding members, creator first
  member_added = 3,    // users: {added}
  member_removed = 4,  // users: {removed}
  member_left = 5,     // users: {leaver}
  admin_changed = 6,   // users: {new admin}
  edited = 7,          // target: the text message edited; text: its new text (rule 20)
  deleted = 8,         // target: the text message deleted for everyone (rule 20)
};
// The highest kind: a stored message of any higher kind reads back as corrupt, so a new kind
// must move this (the static_assert below insists once to_string names it).
inline constexpr MessageKind kLastMessageKind = MessageKind::deleted;

constexpr std::string_view to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::text:
      return "text";
    case MessageKind::group_created:
      return "group_created";
    case MessageKind::member_added:
      return "member_added";
    case MessageKind::member_removed:
      return "member_removed";
    case MessageKind::member_left:
      return "member_left";
    case MessageKind::admin_changed:
      return "admin_changed";
    case MessageKind::edited:
      return "edited";
    case MessageKind::deleted:
      return "deleted";
  }
  return "unknown";
}
static_assert(covers_exactly(MessageKind::text, kLastMessageKind,
                             [](MessageKind k) { return to_string(k) != "unknown"; }),
              "message kinds run from text to kLastMessageKind: move kLastMessageKind");

enum class ContactState : std::uint8_t { contact = 1, blocked = 2 };
inline constexpr ContactState kLastContactState = ContactState::blocked;

constexpr std::string_view to_string(ContactState state) {
  switch (state) {
    case ContactState::contact:
      return "contact";
    case ContactState::blocked:
      return "blocked";
  }
  return "unknown";
}
static_assert(covers_exactly(ContactState::contact, kLastContactState,
                             [](ContactState s) { return to_string(s) != "unknown"; }),
              "contact states run from contact to kLastContactState: move kLastContactState");

// What a reply quotes (rule 21): the replied-to message as the reader may see it now,
// filled in each time the engine serves the reply (present, replies.cpp), never stored.
struct Quote {
  UserId sender = 0;         // 0 when unavailable
  std::string text;          // its latest text, at most limits::kQuoteCodePoints code points
  bool edited = false;       // it was edited (text is the newest version)
  bool deleted = false;      // deleted for everyone since; text is empty
  bool unavailable = false;  // outside the reader's membership windows; sender 0, no text
  friend bool operator==(const Quote&, const Quote&) = default;
};

struct MessageRecord {
  ChannelId channel = 0;
  Seq seq = 0;
  MessageKind kind = MessageKind::text;
  UserId sender = 0;
  DeviceId sender_device = 0;
  TimeUs server_time = 0;  // informational only: order is `seq`
  std::string client_msg_id;
  std::string text;
  std::vector<UserId> users;
  // Edits and deletes (docs/engine.md, rule 20). `target`: for an `edited` or `deleted`
  // entry, the seq of the text message it changes; 0 otherwise. `edited_seq`: for a text
  // message, the `edited` entry whose text it now holds (0: never edited); for an `edited`
  // entry, the newer edit that superseded it, whose text replaced its own (which is then
  // erased; 0 while it is the newest). `deleted`: the text message was deleted for
  // everyone, or the `edited` entry that held its text was; the text is gone from the store.
  Seq target = 0;
  Seq edited_seq = 0;
  bool deleted = false;
  // Replies and mentions (rule 21). `reply_to`: the seq of the text message of the same
  // channel this one replies to (0: none). `mentions`: for a group's text message or edit,
  // the active members it names as @name, ascending, never the sender; empty otherwise.
  // `quote`: only in what the engine serves, never stored (see Quote).
  Seq reply_to = 0;
  std::vector<UserId> mentions;
  Quote quote;
  friend bool operator==(const MessageRecord&, const MessageRecord&) = default;
};

}  // namespace parley::engine
