// `parley client`: receipts (/read, /receipts, /readreceipts) and what the node says of them
// (cli/client_impl.hpp; docs/protocol.md, "Receipts").
#include <algorithm>
#include <string>
#include <vector>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace {

std::string number(engine::Seq seq) {
  return "#" + std::to_string(seq);
}

}  // namespace

bool TerminalClient::require_channel() const {
  if (channel_ != 0) return true;
  client_error(peer_ == 0 ? "no chat is open: use /to USER or /group NAME"
                          : "send a first message: this chat has no channel yet");
  return false;
}

// Marks the open chat read up to the newest message this client has shown of it: the
// others see "read" (if both of you share read receipts), your other devices clear its
// unread count.
void TerminalClient::mark_read(const std::vector<std::string>& args) {
  if (!args.empty()) return client_error("usage: /read");
  if (!require_channel()) return;
  const auto seen = newest_seen_.find(channel_);
  if (seen == newest_seen_.end()) return client_error("nothing shown in this chat yet to read");
  const auto id = request(client::MarkRead{0, channel_, seen->second});
  ok_notes_[id] = "* read up to " + number(seen->second);
}

void TerminalClient::query_receipts(const std::vector<std::string>& args) {
  if (!args.empty()) return client_error("usage: /receipts");
  if (!require_channel()) return;
  receipt_queries_.insert(request(client::QueryReceipts{0, channel_}));
}

void TerminalClient::change_read_receipts(const std::vector<std::string>& args) {
  client::Settings settings;
  if (args.size() == 1 && (args[0] == "on" || args[0] == "off")) {
    settings.read_receipts = args[0] == "on";
  } else if (!args.empty()) {
    return client_error("usage: /readreceipts [on|off]");
  }
  request(settings);
}

void TerminalClient::note_seen(engine::ChannelId channel, engine::Seq seq) {
  engine::Seq& newest = newest_seen_[channel];
  newest = std::max(newest, seq);
}

// A member's positions moved past your messages. Your own (another device of yours read)
// need no line; elsewhere than the open chat they would be noise.
void TerminalClient::show_receipt(const server::Receipt& receipt) {
  if (receipt.entry.user == me_ || receipt.channel != channel_) return;
  const std::string who = name_of(receipt.entry.user);
  if (receipt.entry.read_seq != 0) {
    say("* read by " + who + " up to " + number(receipt.entry.read_seq));
  } else {
    say("* delivered to " + who + " up to " + number(receipt.entry.delivered_seq));
  }
}

// The answer to /receipts: one line per other member, then how far your last message here
// got: "read by 2 of 3".
void TerminalClient::show_receipts(const server::Receipts& receipts) {
  if (!receipt_queries_.erase(receipts.request)) return;
  std::size_t others = 0;
  std::size_t delivered = 0;
  std::vector<std::string> readers;
  const auto sent = last_sent_.find(receipts.channel);
  for (const auto& entry : receipts.entries) {
    if (entry.user == me_) continue;
    ++others;
    const std::string read = entry.read_seq == 0 ? "nothing read (or not shared)"
                                                 : "read up to " + number(entry.read_seq);
    say("* " + name_of(entry.user) + ": delivered up to " + number(entry.delivered_seq) + ", " +
        read);
    if (sent == last_sent_.end()) continue;
    if (entry.delivered_seq >= sent->second) ++delivered;
    if (entry.read_seq >= sent->second) readers.push_back(name_of(entry.user));
  }
  if (sent == last_sent_.end() || others == 0) return;
  std::string line = "* your last message (" + number(sent->second) + "): delivered to " +
                     std::to_string(delivered) + " of " + std::to_string(others) + ", read by " +
                     std::to_string(readers.size()) + " of " + std::to_string(others);
  for (std::size_t i = 0; i < readers.size(); ++i)
    line += (i == 0 ? " (" : ", ") + readers[i] + (i + 1 == readers.size() ? ")" : "");
  say(line);
}

void TerminalClient::show_settings(const server::Settings& settings) {
  say(settings.read_receipts
          ? "* read receipts are on: others see when you read, and you see when they do"
          : "* read receipts are off: no one sees when you read, and you see no one's reads");
}

}  // namespace parley::cli::detail
