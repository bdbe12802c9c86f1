// `parley client`: the commands, one line of stdin each (cli/client_impl.hpp).
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace json = boost::json;

namespace {

constexpr std::uint32_t kDefaultHistoryLimit = 20;

// The node's name rule; checked before a name goes into a URL path.
bool valid_user_name(const std::string& name) {
  const auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  };
  return !name.empty() && name.size() <= 32 && std::isalnum(static_cast<unsigned char>(name[0])) &&
         std::all_of(name.begin(), name.end(), allowed);
}

std::optional<std::uint32_t> parse_limit(const std::string& text) {
  std::uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

// ---- Commands ----------------------------------------------------------------------------

void TerminalClient::run_ready_commands(StdinLines& input) {
  while (!chat_decider_ && !quit_) {
    const auto line = input.next();
    if (!line) return;
    command(*line);
  }
}

engine::RequestId TerminalClient::request(client::Request request) {
  const engine::RequestId id = next_request_++;
  std::visit(
      [&](auto& typed) {
        if constexpr (requires { typed.request; }) typed.request = id;
      },
      request);
  // A typing indicator has no answer unless it is refused: nothing to wait for or resend.
  if (engine::request_id(request) != 0 && !std::holds_alternative<client::Typing>(request)) {
    unanswered_.insert(id);
    in_flight_.emplace(id, request);
  }
  ws_->send(request, encoding_);
  return id;
}

void TerminalClient::command(const std::string& line) {
  if (line.empty()) return;
  if (line[0] != '/') return send_text(line);
  if (line.rfind("//", 0) == 0) return send_text(line.substr(1));
  std::istringstream words(line);
  std::string verb;
  words >> verb;
  std::vector<std::string> args;
  for (std::string word; words >> word;)
    args.push_back(word);
  if (verb == "/quit") {
    quit_ = true;
  } else if (verb == "/to") {
    if (args.size() != 1) return client_error("usage: /to USER");
    open_direct_chat(args[0]);
  } else if (verb == "/group") {
    if (args.empty()) return client_error("usage: /group NAME");
    // A group name may contain spaces: it is the rest of the line.
    std::string name = line.substr(verb.size());
    name.erase(0, name.find_first_not_of(" \t"));
    name.erase(name.find_last_not_of(" \t") + 1);
    open_group(name);
  } else if (verb == "/create") {
    if (args.empty()) return client_error("usage: /create NAME USER...");
    create_group(args);
  } else if (verb == "/add") {
    if (args.size() != 1) return client_error("usage: /add USER");
    add_contact(args[0]);
  } else if (verb == "/history") {
    show_history(args);
  } else if (verb == "/who") {
    who_contact_lists_.insert(request(client::ListContacts{}));
  } else if (verb == "/unread") {
    request(client::QueryUnread{});
  } else if (verb == "/typing") {
    send_typing(args);
  } else if (verb == "/read") {
    mark_read(args);
  } else if (verb == "/receipts") {
    query_receipts(args);
  } else if (verb == "/readreceipts") {
    change_read_receipts(args);
  } else if (verb == "/edit" || verb == "/delete") {
    // The text is the rest of the line, spaces kept.
    std::string rest = line.substr(verb.size());
    rest.erase(0, rest.find_first_not_of(" \t"));
    verb == "/edit" ? edit_message(rest) : delete_message(rest);
  } else if (verb == "/reply") {
    std::string rest = line.substr(verb.size());
    rest.erase(0, rest.find_first_not_of(" \t"));
    reply(rest);
  } else if (verb == "/mute") {
    mute(args);
  } else if (verb == "/requests") {
    list_requests();
  } else if (verb == "/accept" || verb == "/decline") {
    if (!args.empty()) return client_error("usage: " + verb + " (answers the open chat)");
    answer_request(verb == "/accept" ? client::RequestAnswer::accept
                                     : client::RequestAnswer::delete_);
  } else if (verb == "/search") {
    std::string rest = line.substr(verb.size());
    rest.erase(0, rest.find_first_not_of(" \t"));
    search(rest);
  } else if (verb == "/more") {
    search_more();
  } else if (verb == "/block" || verb == "/unblock") {
    if (args.size() != 1) return client_error("usage: " + verb + " USER");
    block(args[0], verb == "/unblock");
  } else {
    client_error("unknown command '" + verb +
                 "' (try /to, /group, /create, /add, /history, /who, /unread, /typing, /read, "
                 "/receipts, /readreceipts, /edit, /delete, /reply, /mute, /requests, /accept, "
                 "/decline, /block, /unblock, /search, /more, /quit)");
  }
}

// The others in the open chat see "NAME is typing…" for 6 s (docs/protocol.md, "Typing
// indicators"); `/typing stop` takes it back. A terminal cannot see keystrokes, so this is
// by hand.
void TerminalClient::send_typing(const std::vector<std::string>& args) {
  const bool stop = args.size() == 1 && args[0] == "stop";
  if (args.size() > 1 || (args.size() == 1 && !stop)) {
    return client_error("usage: /typing [stop]");
  }
  if (!require_channel()) return;
  request(client::Typing{0, channel_, !stop});
}

void TerminalClient::open_direct_chat(const std::string& name) {
  const auto user = resolve(name);
  if (!user) return;
  peer_ = *user;
  channel_ = 0;
  say("* chatting with " + name);
  // The 1:1 channel may exist already; /history needs its id, which listChannels has.
  const auto id = request(client::ListChannels{});
  direct_lookups_[id] = *user;
  chat_decider_ = id;
}

void TerminalClient::open_group(const std::string& name) {
  const auto id = request(client::ListChannels{});
  group_lookups_[id] = name;
  chat_decider_ = id;
}

void TerminalClient::create_group(const std::vector<std::string>& args) {
  client::CreateGroup create{.request = 0, .name = args[0], .members = {}};
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto user = resolve(args[i]);
    if (!user) return;
    create.members.push_back(*user);
  }
  const auto id = request(std::move(create));
  group_creates_[id] = args[0];
  chat_decider_ = id;
}

void TerminalClient::add_contact(const std::string& name) {
  const auto user = resolve(name);
  if (!user) return;
  const auto id = request(
      client::ChangeContact{.request = 0, .action = client::ContactAction::add, .user = *user});
  ok_notes_[id] = "* " + name + " is now one of your contacts";
}

void TerminalClient::show_history(const std::vector<std::string>& args) {
  std::uint32_t limit = kDefaultHistoryLimit;
  if (!args.empty()) {
    const auto parsed = parse_limit(args[0]);
    if (!parsed || args.size() > 1) return client_error("usage: /history [N]");
    limit = *parsed;  // the node refuses a limit outside 1-100 with invalid_limit
  }
  if (channel_ == 0) {
    return client_error(peer_ != 0 ? "no messages in this chat yet"
                                   : "no chat is open: use /to USER or /group NAME");
  }
  request(client::History{.request = 0, .channel = channel_, .before_seq = 0, .limit = limit});
}

void TerminalClient::send_text(const std::string& text) {
  if (channel_ == 0 && peer_ == 0)
    return client_error("no chat is open: use /to USER or /group NAME");
  const auto id =
      request(client::Send{.request = 0,
                           .channel = channel_,
                           .peer = channel_ == 0 ? peer_ : 0,
                           .client_msg_id = msg_id_prefix_ + std::to_string(++messages_sent_),
                           .text = text});
  if (channel_ == 0) peer_sends_[id] = peer_;
}

std::optional<engine::UserId> TerminalClient::resolve(const std::string& name) {
  if (!valid_user_name(name)) {
    client_error("no user named '" + name + "'");
    return std::nullopt;
  }
  const auto result = http_->request("GET", "/v1/users/" + name, "", token_);
  if (result.status == 404) {
    client_error("no user named '" + name + "'");
    return std::nullopt;
  }
  if (result.status != 200) {
    client_error("cannot look up '" + name + "': " + http_error_text(result));
    return std::nullopt;
  }
  const auto user = json::parse(result.body).as_object().at("user").to_number<engine::UserId>();
  names_[user] = name;
  return user;
}

void TerminalClient::client_error(const std::string& message) const {
  if (options_.script) {
    std::cout << json::serialize(json::object{{"clientError", {{"message", message}}}})
              << std::endl;
  } else {
    std::cout << "! " << message << std::endl;
  }
}

}  // namespace parley::cli::detail
