// `parley client`: editing and deleting messages for everyone (/edit, /delete) and how the
// `edited` and `deleted` entries read (cli/client_impl.hpp; docs/protocol.md, "Editing and
// deleting").
#include <string>
#include <vector>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

engine::Seq seq_argument(const std::string& word) {
  if (word.size() < 2 || word.find_first_not_of("0123456789", 1) != std::string::npos) return 0;
  try {
    return std::stoull(word.substr(1));
  } catch (const std::out_of_range&) {
    return 0;
  }
}

// The message a /edit or /delete names: `#N` as its first word, else the newest message this
// client sent in the open chat that the node acked. 0 (with the error said) when there is
// none, or when the first word starts with '#' but is no seq: a typo must not edit the
// wrong message.
engine::Seq TerminalClient::edit_target(const std::string& verb, const std::string& rest,
                                        std::string& after) const {
  const auto space = rest.find(' ');
  const std::string first = rest.substr(0, space);
  const std::string usage = verb == "/edit" ? "/edit [#N] TEXT" : "/delete [#N]";
  if (!first.empty() && first[0] == '#') {
    const engine::Seq named = seq_argument(first);
    if (named == 0) client_error("usage: " + usage + " (#N is a message's seq: 1 or more)");
    after = space == std::string::npos ? "" : rest.substr(space + 1);
    return named;
  }
  after = rest;
  const auto sent = last_sent_.find(channel_);
  if (sent != last_sent_.end()) return sent->second;
  client_error("no message of yours acked in this chat from here yet: name one, " + usage);
  return 0;
}

// `/edit [#N] TEXT`: everyone in the chat sees the new text, marked edited. The `edited`
// entry the node delivers says so (no separate line for the `ok`).
void TerminalClient::edit_message(const std::string& rest) {
  if (!require_channel()) return;
  std::string text;
  const engine::Seq seq = edit_target("/edit", rest, text);
  if (seq == 0) return;
  if (text.empty()) return client_error("usage: /edit [#N] TEXT");
  request(client::EditMessage{0, channel_, seq, text});
}

// `/delete [#N]`: the message is replaced by "deleted" for everyone, its text gone.
void TerminalClient::delete_message(const std::string& rest) {
  if (!require_channel()) return;
  std::string extra;
  const engine::Seq seq = edit_target("/delete", rest, extra);
  if (seq == 0) return;
  if (!extra.empty()) return client_error("usage: /delete [#N]");
  request(client::DeleteMessage{0, channel_, seq});
}

std::string TerminalClient::edit_text(const engine::Message& message,
                                      const std::string& where) const {
  const std::string who = name_of(message.sender);
  const std::string target = "#" + std::to_string(message.target);
  const auto shown = shown_edits_.find({message.channel, message.target});
  if (shown != shown_edits_.end() && shown->second == kShownDeleted) return "";  // printed so
  if (message.kind == engine::MessageKind::deleted) return who + " deleted " + target + where;
  if (message.edited_seq != 0) return "";  // superseded: the newer edit follows
  if (shown != shown_edits_.end() && shown->second >= message.seq) return "";  // printed so
  if (message.deleted) return who + " edited " + target + where + " (since deleted)";
  return who + " edited " + target + where + ": " + message.text;
}

}  // namespace parley::cli::detail
