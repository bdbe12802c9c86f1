#include "engine/describe.hpp"

#include "engine/utf8.hpp"

namespace parley::engine {
namespace {

std::string n(std::uint64_t value) {
  return std::to_string(value);
}

struct EventText {
  std::string operator()(const server::Welcome& e) const {
    return "welcome user=" + n(e.user) + " device=" + n(e.device) + " cursor=" + n(e.cursor) +
           " head=" + n(e.inbox_head);
  }
  std::string operator()(const server::Deliver& e) const {
    std::string text = "deliver";
    for (const auto& entry : e.entries) {
      text += " [" + n(entry.inbox_seq) + " " + describe(entry.message) + "]";
    }
    return text;
  }
  std::string operator()(const server::SendAck& e) const {
    return "send_ack req=" + n(e.request) + " channel=" + n(e.channel) + " seq=" + n(e.seq) +
           (e.duplicate ? " duplicate" : "");
  }
  std::string operator()(const server::GroupCreated& e) const {
    return "group_created req=" + n(e.request) + " channel=" + n(e.channel);
  }
  std::string operator()(const server::HistoryPage& e) const {
    std::string text =
        "history req=" + n(e.request) + " channel=" + n(e.channel) + (e.has_more ? " more" : "");
    for (const auto& message : e.messages)
      text += " [" + describe(message) + "]";
    return text;
  }
  std::string operator()(const server::Ok& e) const { return "ok req=" + n(e.request); }
  std::string operator()(const server::Failure& e) const {
    return "error req=" + n(e.request) + " code=" + std::string(to_string(e.code)) + " (" +
           e.message + ")";
  }
};

}  // namespace

std::string describe(const Message& message) {
  std::string text = n(message.channel) + "/" + n(message.seq) + " " +
                     std::string(to_string(message.kind)) + " from=" + n(message.sender);
  for (UserId user : message.users)
    text += " user=" + n(user);
  if (!message.text.empty()) {
    constexpr std::size_t kShown = 40;
    const auto shown = utf8_prefix(message.text, kShown);
    text += " \"" + std::string(shown) + (shown.size() < message.text.size() ? "...\"" : "\"");
  }
  return text;
}

std::string describe(const server::Event& event) {
  return std::visit(EventText{}, event);
}

std::string describe(const Effect& effect) {
  if (const auto* send = std::get_if<SendEvent>(&effect)) {
    return "conn " + n(send->connection) + " <- " + describe(send->event);
  }
  const auto& close = std::get<CloseConnection>(effect);
  return "conn " + n(close.connection) + " closed: " + std::string(to_string(close.reason));
}

}  // namespace parley::engine
