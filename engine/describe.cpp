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
  std::string operator()(const server::Presence& e) const { return "presence " + entry(e.entry); }
  std::string operator()(const server::PresenceList& e) const {
    std::string text = "presence_list req=" + n(e.request);
    for (const auto& item : e.entries)
      text += " [" + entry(item) + "]";
    return text;
  }
  std::string operator()(const server::ContactList& e) const {
    std::string text = "contacts req=" + n(e.request);
    for (const auto& contact : e.contacts) {
      text += " [" + n(contact.user) + " " + contact.name +
              (contact.state == ContactState::blocked ? " blocked" : "") +
              (contact.mutual ? " mutual" : "") + "]";
    }
    return text;
  }
  std::string operator()(const server::UnreadCounts& e) const {
    std::string text = "unread req=" + n(e.request) + " total=" + n(e.total);
    for (const auto& [channel, count] : e.channels)
      text += " " + n(channel) + ":" + n(count);
    if (e.more) text += " more";
    return text;
  }
  std::string operator()(const server::ChannelList& e) const {
    std::string text = "channels req=" + n(e.request);
    for (const auto& channel : e.channels) {
      text +=
          " [" + n(channel.channel) +
          (channel.kind == ChannelKind::group ? " group " + channel.name : " direct") +
          " last=" + n(channel.last_seq) + (channel.active ? "" : " left") +
          (channel.read_seq != 0 ? " read=" + n(channel.read_seq) : "") +
          (channel.muted_forever ? " muted=forever" : "") +
          (channel.muted_until != 0 ? " muted=" + n(static_cast<std::uint64_t>(channel.muted_until))
                                    : "") +
          (channel.request ? " request" : "") +
          (channel.cleared_seq != 0 ? " cleared=" + n(channel.cleared_seq) : "");
      for (const auto& member : channel.members)
        text += " " + n(member.user);
      text += "]";
    }
    if (e.more) text += " more";
    return text;
  }
  static std::string entry(const server::PresenceEntry& e) {
    return "user=" + n(e.user) + (e.online ? " online" : " offline") +
           " last_active=" + std::to_string(e.last_active_at);
  }
  std::string operator()(const server::Typing& e) const {
    return "typing channel=" + n(e.channel) + " user=" + n(e.user) +
           (e.typing ? " started ttl_ms=" + n(static_cast<std::uint64_t>(e.ttl_us / 1000))
                     : " stopped");
  }
  std::string operator()(const server::Receipt& e) const {
    return "receipt channel=" + n(e.channel) + " " + receipt(e.entry);
  }
  std::string operator()(const server::Receipts& e) const {
    std::string text = "receipts req=" + n(e.request) + " channel=" + n(e.channel);
    for (const auto& item : e.entries)
      text += " [" + receipt(item) + "]";
    return text;
  }
  std::string operator()(const server::Settings& e) const {
    return "settings req=" + n(e.request) + " read_receipts=" + (e.read_receipts ? "on" : "off");
  }
  std::string operator()(const server::RequestAnswered& e) const {
    return "request-answered req=" + n(e.request) + " channel=" + n(e.channel) +
           (e.answer == client::RequestAnswer::accept ? " accept" : " delete") +
           (e.cleared_seq != 0 ? " cleared=" + n(e.cleared_seq) : "");
  }
  std::string operator()(const server::SearchResults& e) const {
    std::string text = "search-results req=" + n(e.request) + (e.more ? " more" : "");
    for (const auto& hit : e.hits) {
      text += " [" + n(hit.channel) + "/" + n(hit.seq) + " from=" + n(hit.sender) + " ";
      for (const auto& part : hit.snippet)
        text += part.match ? "*" + part.text + "*" : part.text;
      text += "]";
    }
    return text;
  }
  std::string operator()(const server::ChannelMute& e) const {
    return "mute req=" + n(e.request) + " channel=" + n(e.channel) +
           (e.forever ? " forever" : " until=" + n(static_cast<std::uint64_t>(e.muted_until)));
  }
  static std::string receipt(const server::ReceiptEntry& e) {
    return "user=" + n(e.user) + " delivered=" + n(e.delivered_seq) + " read=" + n(e.read_seq);
  }
  std::string operator()(const server::Failure& e) const {
    return "error req=" + n(e.request) + " code=" + std::string(to_string(e.code)) + " (" +
           e.message + ")";
  }
};

}  // namespace

namespace {

std::string quote(const Quote& q) {
  if (q.unavailable) return "(unavailable)";
  if (q.deleted) return "(" + n(q.sender) + " deleted)";
  constexpr std::size_t kShown = 20;
  const auto shown = utf8_prefix(q.text, kShown);
  return "(" + n(q.sender) + (q.edited ? " edited" : "") + " \"" + std::string(shown) +
         (shown.size() < q.text.size() ? "...\")" : "\")");
}

}  // namespace

std::string describe(const Message& message) {
  std::string text = n(message.channel) + "/" + n(message.seq) + " " +
                     std::string(to_string(message.kind)) + " from=" + n(message.sender);
  for (UserId user : message.users)
    text += " user=" + n(user);
  if (message.target != 0) text += " target=" + n(message.target);
  if (message.edited_seq != 0) text += " edited=" + n(message.edited_seq);
  if (message.deleted) text += " deleted";
  for (UserId user : message.mentions)
    text += " mention=" + n(user);
  if (message.reply_to != 0)
    text += " reply=" + n(message.reply_to) + " quote=" + quote(message.quote);
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
  if (const auto* push = std::get_if<PushNotification>(&effect)) {
    const PushIntent& intent = push->intent;
    return "push " + n(intent.id) + " user=" + n(intent.user) + " device=" + n(intent.device) +
           " " + intent.platform + " channel=" + n(intent.channel) + " seq=" + n(intent.seq) +
           " unread=" + n(intent.unread_in_channel) + "/" + n(intent.unread_total) +
           (intent.mentions_you ? " mention" : "") + " \"" + intent.preview + "\"";
  }
  if (const auto* dropped = std::get_if<PushDropped>(&effect)) {
    return "push_dropped user=" + n(dropped->user) + " channel=" + n(dropped->channel) +
           " seq=" + n(dropped->seq) + " (outbox full)";
  }
  if (const auto* change = std::get_if<PresenceChange>(&effect)) {
    return "presence_change user=" + n(change->user) + (change->online ? " online" : " offline") +
           " last_active=" + std::to_string(change->last_active_at);
  }
  if (const auto* result = std::get_if<AccountResult>(&effect)) {
    if (result->error) {
      return "account error user=" + n(result->user) +
             " code=" + std::string(to_string(result->error->code)) + " (" +
             result->error->message + ")";
    }
    return "account user=" + n(result->user) + " device=" + n(result->device) +
           " signed_out=" + n(result->signed_out);
  }
  if (const auto* text = std::get_if<IndexText>(&effect)) {
    return "index " + n(text->channel) + "/" + n(text->seq) + " from=" + n(text->sender) + " \"" +
           text->text + "\"";
  }
  if (const auto* gone = std::get_if<UnindexText>(&effect)) {
    return "unindex " + n(gone->channel) + "/" + n(gone->seq);
  }
  if (const auto* asked = std::get_if<SearchRequested>(&effect)) {
    std::string text = "search conn " + n(asked->connection) + " req=" + n(asked->request) + " \"" +
                       asked->query + "\" offset=" + n(asked->offset) +
                       " limit=" + n(asked->limit) + " windows=";
    for (const SearchWindow& window : asked->windows)
      text += " " + n(window.channel) + ":" + n(window.from) + "-" + n(window.to);
    return text;
  }
  const auto& close = std::get<CloseConnection>(effect);
  return "conn " + n(close.connection) + " closed: " + std::string(to_string(close.reason));
}

}  // namespace parley::engine
