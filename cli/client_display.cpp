// `parley client`: interactive output (cli/client_impl.hpp).
#include <algorithm>
#include <ctime>
#include <string>
#include <utility>
#include <variant>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

std::string local_time(engine::TimeUs at_us) {
  const auto at = static_cast<std::time_t>(at_us / 1'000'000);
  const std::time_t now = std::time(nullptr);
  std::tm when{};
  std::tm today{};
  localtime_r(&at, &when);
  localtime_r(&now, &today);
  const bool same_day = when.tm_year == today.tm_year && when.tm_yday == today.tm_yday;
  char text[32];
  std::strftime(text, sizeof text, same_day ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &when);
  return text;
}

// ---- Interactive output ------------------------------------------------------------------

// Shows an event now, or holds it (and every later one, to keep the order) until a name
// lookup answers.
void TerminalClient::present(const server::Event& event) {
  if (held_.empty() && name_requests_.empty() && !mentions_unknown(event)) return show(event);
  if (held_.empty()) held_since_ = Clock::now();
  held_.push_back(event);
  if (name_requests_.empty() && mentions_unknown(event)) request_names();
}

void TerminalClient::request_names() {
  name_requests_.insert(request(client::ListContacts{}));
  name_requests_.insert(request(client::ListChannels{}));
}

void TerminalClient::show_held_events(bool listed) {
  // Whatever is still unknown after a lookup will stay so: do not ask for it again.
  for (const auto& event : held_) {
    const auto note_nameless = [&](const engine::Message& message) {
      if (!names_.contains(message.sender)) nameless_users_.insert(message.sender);
      for (const auto user : message.users)
        if (!names_.contains(user)) nameless_users_.insert(user);
      if (!channel_labels_.contains(message.channel) && !direct_peers_.contains(message.channel)) {
        nameless_channels_.insert(message.channel);
        if (listed) {
          engine::Seq& upto = cleared_[message.channel];
          upto = std::max(upto, message.target != 0 ? message.target : message.seq);
        }
      }
    };
    if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      for (const auto& entry : deliver->entries)
        note_nameless(entry.message);
    } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
      for (const auto& message : page->messages)
        note_nameless(message);
    } else if (const auto* presence = std::get_if<server::Presence>(&event)) {
      if (!names_.contains(presence->entry.user)) nameless_users_.insert(presence->entry.user);
    } else if (const auto* typing = std::get_if<server::Typing>(&event)) {
      if (!names_.contains(typing->user)) nameless_users_.insert(typing->user);
    } else if (const auto* list = std::get_if<server::PresenceList>(&event)) {
      for (const auto& entry : list->entries)
        if (!names_.contains(entry.user)) nameless_users_.insert(entry.user);
    }
  }
  auto events = std::move(held_);
  held_.clear();
  for (const auto& event : events)
    show(event);
}

bool TerminalClient::mentions_unknown(const server::Event& event) const {
  const auto unknown_user = [&](engine::UserId user) {
    return !names_.contains(user) && !nameless_users_.contains(user);
  };
  const auto unknown_in = [&](const engine::Message& message) {
    const bool unknown_channel = !channel_labels_.contains(message.channel) &&
                                 !direct_peers_.contains(message.channel) &&
                                 !nameless_channels_.contains(message.channel);
    return unknown_channel || unknown_user(message.sender) ||
           std::any_of(message.users.begin(), message.users.end(), unknown_user);
  };
  if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    return std::any_of(deliver->entries.begin(), deliver->entries.end(),
                       [&](const auto& entry) { return unknown_in(entry.message); });
  }
  if (const auto* page = std::get_if<server::HistoryPage>(&event))
    return std::any_of(page->messages.begin(), page->messages.end(), unknown_in);
  if (const auto* presence = std::get_if<server::Presence>(&event))
    return unknown_user(presence->entry.user);
  if (const auto* typing = std::get_if<server::Typing>(&event)) return unknown_user(typing->user);
  if (const auto* list = std::get_if<server::PresenceList>(&event)) {
    return std::any_of(list->entries.begin(), list->entries.end(),
                       [&](const auto& entry) { return unknown_user(entry.user); });
  }
  return false;
}

void TerminalClient::show(const server::Event& event) {
  if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (const auto& entry : deliver->entries)
      show_message(entry.message);
  } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
    if (page->messages.empty()) say("* no messages yet");
    for (const auto& message : page->messages) {
      // A page holds each message in its latest state: its edits and deletes add nothing.
      if (message.target == 0) show_message(message);
    }
    if (page->has_more) say("* (older messages exist: /history N shows up to 100)");
  } else if (const auto* presence = std::get_if<server::Presence>(&event)) {
    say("* " + name_of(presence->entry.user) +
        (presence->entry.online ? " is online" : " is offline"));
  } else if (const auto* list = std::get_if<server::PresenceList>(&event)) {
    if (who_presence_queries_.erase(list->request)) return show_who_presence(*list);
    for (const auto& entry : list->entries)
      say("* " + name_of(entry.user) + (entry.online ? " is online" : " is offline"));
  } else if (const auto* failure = std::get_if<server::Failure>(&event)) {
    say("! " + std::string(engine::to_string(failure->code)) + ": " + failure->message);
  } else if (const auto* welcome = std::get_if<server::Welcome>(&event)) {
    say("* connected as " + options_.name + " (device " + std::to_string(welcome->device) +
        "); /to USER to start");
  } else if (const auto* unread = std::get_if<server::UnreadCounts>(&event)) {
    show_unread(*unread);
  } else if (const auto* typing = std::get_if<server::Typing>(&event)) {
    show_typing(*typing);
  } else if (const auto* answer = std::get_if<server::Receipts>(&event);
             answer != nullptr && answer->request != 0) {
    show_receipts(*answer);
  } else if (std::holds_alternative<server::Receipt>(event) ||
             std::holds_alternative<server::Receipts>(event)) {
    // A receipt, or one commit's coalesced (request 0): a line per member who moved.
    server::for_each_receipt(event, [&](engine::ChannelId channel, const auto& entry) {
      show_receipt(server::Receipt{channel, entry});
    });
  } else if (const auto* settings = std::get_if<server::Settings>(&event)) {
    show_settings(*settings);
  } else if (const auto* mute = std::get_if<server::ChannelMute>(&event)) {
    show_mute(*mute);
  } else if (const auto* answered = std::get_if<server::RequestAnswered>(&event)) {
    show_request_answered(*answered);
  } else if (const auto* results = std::get_if<server::SearchResults>(&event)) {
    show_search_results(*results);
  }
}

void TerminalClient::show_who_presence(const server::PresenceList& list) {
  for (const auto& entry : list.entries) {
    const std::string last_active = entry.last_active_at == 0
                                        ? "never seen"
                                        : "last active " + local_time(entry.last_active_at);
    say("* " + name_of(entry.user) + ": " + (entry.online ? "online" : "offline") + ", " +
        last_active);
  }
}

void TerminalClient::show_unread(const server::UnreadCounts& unread) {
  if (unread.total == 0) return say("* nothing unread");
  std::string line = "* " + std::to_string(unread.total) + " unread:";
  for (const auto& [channel, count] : unread.channels)
    line += " " + channel_label(channel) + " " + std::to_string(count) + ",";
  line.pop_back();
  if (unread.more) line += ", and in more chats";  // the counts of the first 500 chats
  say(line);
}

// "[12:01:05] bob: hello" in the open chat; elsewhere it says where.
// One line when someone starts typing; nothing for their refreshes (every 3 s while they
// type) nor for a stop: a line per stop would double the noise.
void TerminalClient::show_typing(const server::Typing& typing) {
  const auto key = std::make_pair(typing.channel, typing.user);
  if (!typing.typing) {
    typing_seen_.erase(key);
    return;
  }
  const auto now = Clock::now();
  const auto ttl = std::chrono::microseconds(typing.ttl_us);
  std::erase_if(typing_seen_, [&](const auto& entry) {
    return entry.first != key && now - entry.second >= ttl;  // stretches that ended quietly
  });
  const auto seen = typing_seen_.find(key);
  const bool ongoing = seen != typing_seen_.end() && now - seen->second < ttl;
  typing_seen_[key] = now;
  if (!ongoing) {
    say("* " + name_of(typing.user) + " is typing in " + channel_label(typing.channel) + "...");
  }
}

void TerminalClient::show_message(const engine::Message& message) {
  if (cleared(message)) return;
  // A message ends its sender's typing; an edit or delete does not (rule 20).
  if (message.kind != engine::MessageKind::edited && message.kind != engine::MessageKind::deleted) {
    typing_seen_.erase({message.channel, message.sender});
  }
  std::string where;
  if (message.channel != channel_) {
    const auto peer = direct_peers_.find(message.channel);
    if (peer == direct_peers_.end()) {
      where = " in " + channel_label(message.channel);
    } else if (message.sender == me_) {
      where = " to " + (peer->second == me_ ? std::string("yourself") : name_of(peer->second));
    } else {
      where = " to you";
    }
  }
  const std::string stamp = "[" + local_time(message.server_time) + "] ";
  if (message.kind == engine::MessageKind::text) {
    if (message.edited_seq != 0 || message.deleted) {
      if (shown_edits_.size() >= kShownEditsMax) shown_edits_.clear();
      shown_edits_[{message.channel, message.seq}] =
          message.deleted ? kShownDeleted : message.edited_seq;
    }
    const std::string text = message.deleted           ? "(message deleted)"
                             : message.edited_seq != 0 ? message.text + " (edited)"
                                                       : message.text;
    // "#N": the seq /reply, /edit and /delete name the message by.
    say(stamp + "#" + std::to_string(message.seq) + " " + name_of(message.sender) + where +
        reply_text(message) + request_mark(message) + ": " + text + mention_text(message));
  } else if (message.kind == engine::MessageKind::edited ||
             message.kind == engine::MessageKind::deleted) {
    // A terminal cannot change a line it printed: the edit or delete gets a line of its own.
    if (const std::string text = edit_text(message, where); !text.empty()) {
      say(stamp + "* " + text);
    }
  } else {
    say(stamp + "* " + message_text(message) + where);
  }
}

// A membership event in words: `alice created group "x" with bob, carol`.
std::string TerminalClient::message_text(const engine::Message& message) const {
  const std::string sender = name_of(message.sender);
  const std::string subject = message.users.empty() ? "someone" : name_of(message.users[0]);
  switch (message.kind) {
    case engine::MessageKind::text:
      return sender + ": " + message.text;
    case engine::MessageKind::group_created: {
      std::string text = sender + " created group \"" + message.text + "\"";
      // users: the founding members, creator first.
      for (std::size_t i = 1; i < message.users.size(); ++i)
        text += (i == 1 ? " with " : ", ") + name_of(message.users[i]);
      return text;
    }
    case engine::MessageKind::member_added:
      return sender + " added " + subject;
    case engine::MessageKind::member_removed:
      return sender + " removed " + subject;
    case engine::MessageKind::member_left:
      return subject + " left";
    case engine::MessageKind::admin_changed:
      return subject + (subject == "you" ? " are" : " is") + " now the admin";
    case engine::MessageKind::edited:
    case engine::MessageKind::deleted:
      return edit_text(message, "");
  }
  return sender + ": (" + std::string(engine::to_string(message.kind)) + ")";
}

std::string TerminalClient::name_of(engine::UserId user) const {
  if (user == me_) return "you";
  const auto found = names_.find(user);
  return found != names_.end() ? found->second : "user " + std::to_string(user);
}

std::string TerminalClient::channel_label(engine::ChannelId channel) const {
  if (const auto label = channel_labels_.find(channel); label != channel_labels_.end())
    return label->second;
  if (const auto peer = direct_peers_.find(channel); peer != direct_peers_.end())
    return peer->second == me_ ? "notes to yourself" : "chat with " + name_of(peer->second);
  return "chat " + std::to_string(channel);
}

}  // namespace parley::cli::detail
