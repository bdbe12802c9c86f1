// `parley client`: replies (/reply), mentions and mute (/mute), and how they read
// (cli/client_impl.hpp; docs/protocol.md, "Replies and mentions" and "Muting").
#include <algorithm>
#include <string>
#include <vector>

#include "cli/client_impl.hpp"
#include "engine/utf8.hpp"

namespace parley::cli::detail {

namespace {

constexpr engine::TimeUs kSecond = 1'000'000;

// "90s", "30m", "8h", "7d" -> microseconds; 0 for anything else.
engine::TimeUs duration_argument(const std::string& word) {
  if (word.size() < 2 || word.find_first_not_of("0123456789", 0) != word.size() - 1) return 0;
  const char unit = word.back();
  const engine::TimeUs per = unit == 's'   ? kSecond
                             : unit == 'm' ? 60 * kSecond
                             : unit == 'h' ? 3'600 * kSecond
                             : unit == 'd' ? 86'400 * kSecond
                                           : 0;
  if (per == 0) return 0;
  try {
    const long long count = std::stoll(word.substr(0, word.size() - 1));
    if (count <= 0 || count > engine::limits::kMaxMuteUs / per) return 0;
    return count * per;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

// `/reply #N TEXT`: a message in the open chat quoting message N.
void TerminalClient::reply(const std::string& rest) {
  if (!require_channel()) return;
  const auto space = rest.find(' ');
  const engine::Seq seq = seq_argument(rest.substr(0, space));
  const std::string text = space == std::string::npos ? "" : rest.substr(space + 1);
  if (seq == 0 || text.empty()) return client_error("usage: /reply #N TEXT");
  request(client::Send{.request = 0,
                       .channel = channel_,
                       .peer = 0,
                       .client_msg_id = msg_id_prefix_ + std::to_string(++messages_sent_),
                       .text = text,
                       .reply_to = seq});
}

// `/mute 1h | 30m | 7d | forever | off`: the open chat's pushes, mentions of you aside.
void TerminalClient::mute(const std::vector<std::string>& args) {
  if (!require_channel()) return;
  const std::string usage =
      "usage: /mute DURATION (90s, 30m, 8h, 7d; at most 366d) | forever | off";
  if (args.size() != 1) return client_error(usage);
  client::MuteChannel mute{0, channel_, 0, false};
  if (args[0] == "forever") {
    mute.forever = true;
  } else if (args[0] != "off") {
    mute.for_us = duration_argument(args[0]);
    if (mute.for_us == 0) return client_error(usage);
  }
  request(mute);
}

void TerminalClient::show_mute(const server::ChannelMute& mute) {
  const std::string where = channel_label(mute.channel);
  const std::string elsewhere = mute.request == 0 ? " (on another of your devices)" : "";
  if (mute.forever) return say("* muted " + where + " until you unmute it" + elsewhere);
  if (mute.muted_until != 0) {
    return say("* muted " + where + " until " + local_time(mute.muted_until) + elsewhere);
  }
  say("* unmuted " + where + elsewhere);
}

std::string TerminalClient::reply_text(const engine::Message& message) const {
  if (message.reply_to == 0) return "";
  const std::string target = " (re #" + std::to_string(message.reply_to);
  const engine::Quote& quote = message.quote;
  if (quote.unavailable) return target + ", not visible to you)";
  if (quote.deleted) return target + " " + name_of(quote.sender) + ": deleted)";
  constexpr std::size_t kShown = 40;
  const auto shown = engine::utf8_prefix(quote.text, kShown);
  return target + " " + name_of(quote.sender) + ": " + std::string(shown) +
         (shown.size() < quote.text.size() ? "...)" : ")");
}

std::string TerminalClient::mention_text(const engine::Message& message) const {
  const bool me =
      std::find(message.mentions.begin(), message.mentions.end(), me_) != message.mentions.end();
  return me ? " [mentions you]" : "";
}

}  // namespace parley::cli::detail
