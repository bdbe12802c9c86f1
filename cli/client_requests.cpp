// Message requests and blocking in `parley client` (docs/client.md): /requests lists the
// chats that are message requests for you, /accept and /decline answer the open one,
// /block and /unblock change a contact; messages in a request are marked [request].
#include "cli/client_impl.hpp"

namespace parley::cli::detail {

// `/requests`: every chat that is a message request, from listChannels, page by page.
void TerminalClient::list_requests() {
  const auto id = request(
      client::ListChannels{.request = 0, .after = 0, .limit = engine::limits::kMaxChannelPage});
  request_lists_[id] = {};
}

// `/accept` | `/decline`: the open chat's request (answerRequest).
void TerminalClient::answer_request(client::RequestAnswer answer) {
  if (!require_channel()) return;
  request(client::AnswerRequest{0, channel_, answer});
}

// `/block USER` | `/unblock USER` (changeContact).
void TerminalClient::block(const std::string& name, bool unblock) {
  const auto user = resolve(name);
  if (!user) return;
  const auto id = request(client::ChangeContact{
      .request = 0,
      .action = unblock ? client::ContactAction::unblock : client::ContactAction::block,
      .user = *user});
  ok_notes_[id] = unblock ? "* unblocked " + name
                          : "* blocked " + name + ": neither of you can message the other";
}

// One page of a /requests answer (the list goes on under the next page's request id).
void TerminalClient::collect_requests(const server::ChannelList& list,
                                      std::optional<engine::RequestId> next_page) {
  auto found = request_lists_.find(list.request);
  if (found == request_lists_.end()) return;
  std::vector<std::string> labels = std::move(found->second);
  request_lists_.erase(found);
  for (const auto& summary : list.channels) {
    if (summary.request && summary.active) labels.push_back(channel_label(summary.channel));
  }
  if (next_page) {
    request_lists_[*next_page] = std::move(labels);
    return;
  }
  if (labels.empty()) return say("* no message requests");
  std::string line = "* " + std::to_string(labels.size()) + " message request" +
                     (labels.size() == 1 ? "" : "s") + ":";
  for (std::size_t i = 0; i < labels.size(); ++i)
    line += (i == 0 ? " " : ", ") + labels[i];
  say(line + " (open one, then /accept or /decline)");
}

void TerminalClient::show_request_answered(const server::RequestAnswered& answered) {
  const std::string where = channel_label(answered.channel);
  const std::string elsewhere = answered.request == 0 ? " (on another of your devices)" : "";
  if (answered.answer == client::RequestAnswer::accept) {
    return say("* accepted " + where + elsewhere);
  }
  std::string cleared;
  if (answered.cleared_seq != 0) {
    cleared =
        ": its messages up to #" + std::to_string(answered.cleared_seq) + " are cleared for you";
  }
  say("* deleted the request " + where + cleared + elsewhere);
}

// What each answer and list tells of which chats are requests, for the [request] mark.
void TerminalClient::note_requests(const server::Event& event) {
  if (const auto* list = std::get_if<server::ChannelList>(&event)) {
    for (const auto& summary : list->channels) {
      if (summary.cleared_seq != 0) cleared_[summary.channel] = summary.cleared_seq;
      if (summary.request) {
        request_channels_.insert(summary.channel);
      } else {
        request_channels_.erase(summary.channel);
      }
    }
  } else if (const auto* answered = std::get_if<server::RequestAnswered>(&event)) {
    if (answered->answer == client::RequestAnswer::accept) {
      request_channels_.erase(answered->channel);
    } else if (answered->cleared_seq != 0) {
      cleared_[answered->channel] = answered->cleared_seq;
    }
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    request_channels_.erase(ack->channel);  // a message of your own accepts it
  }
}

bool TerminalClient::cleared(const engine::Message& message) const {
  const auto found = cleared_.find(message.channel);
  const engine::Seq seq = message.target != 0 ? message.target : message.seq;
  return found != cleared_.end() && seq <= found->second;
}

std::string TerminalClient::request_mark(const engine::Message& message) const {
  const bool request = message.sender != me_ && request_channels_.contains(message.channel);
  return request ? " [request]" : "";
}

}  // namespace parley::cli::detail
