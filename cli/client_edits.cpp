// `parley client`: editing and deleting messages for everyone (/edit, /delete) and how the
// `edited` and `deleted` entries read (cli/client_impl.hpp; docs/protocol.md, "Editing and
// deleting").
#include <string>
#include <vector>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace {

// "#12" -> 12; anything else -> 0.
engine::Seq seq_argument(const std::string& word) {
  if (word.size() < 2 || word[0] != '#') return 0;
  if (word.find_first_not_of("0123456789", 1) != std::string::npos) return 0;
  try {
    return std::stoull(word.substr(1));
  } catch (const std::out_of_range&) {
    return 0;
  }
}

}  // namespace

// The message a /edit or /delete names: `#N` as its first word, else this client's newest
// message in the open chat. 0 (with the error said) when there is none.
engine::Seq TerminalClient::edit_target(const std::string& rest, std::string& after) const {
  const auto space = rest.find(' ');
  const engine::Seq named = seq_argument(rest.substr(0, space));
  if (named != 0) {
    after = space == std::string::npos ? "" : rest.substr(space + 1);
    return named;
  }
  after = rest;
  const auto sent = last_sent_.find(channel_);
  if (sent != last_sent_.end()) return sent->second;
  client_error("you have sent nothing in this chat from here: name the message, /edit #N TEXT");
  return 0;
}

// `/edit [#N] TEXT`: everyone in the chat sees the new text, marked edited.
void TerminalClient::edit_message(const std::string& rest) {
  if (!require_channel()) return;
  std::string text;
  const engine::Seq seq = edit_target(rest, text);
  if (seq == 0) return;
  if (text.empty()) return client_error("usage: /edit [#N] TEXT");
  const auto id = request(client::EditMessage{0, channel_, seq, text});
  ok_notes_[id] = "* edited #" + std::to_string(seq);
}

// `/delete [#N]`: the message is replaced by "deleted" for everyone, its text gone.
void TerminalClient::delete_message(const std::string& rest) {
  if (!require_channel()) return;
  std::string extra;
  const engine::Seq seq = edit_target(rest, extra);
  if (seq == 0) return;
  if (!extra.empty()) return client_error("usage: /delete [#N]");
  const auto id = request(client::DeleteMessage{0, channel_, seq});
  ok_notes_[id] = "* deleted #" + std::to_string(seq);
}

// An `edited` or `deleted` entry in words; empty for a superseded edit (a newer one follows).
std::string TerminalClient::edit_text(const engine::Message& message) const {
  const std::string who = name_of(message.sender);
  const std::string target = "#" + std::to_string(message.target);
  if (message.kind == engine::MessageKind::deleted) return who + " deleted " + target;
  if (message.edited_seq != 0) return "";
  if (message.deleted) return who + " edited " + target + " (since deleted)";
  return who + " edited " + target + ": " + message.text;
}

}  // namespace parley::cli::detail
