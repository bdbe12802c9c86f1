#include "cli/client_command.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "net/client/client.hpp"

namespace parley::cli {
namespace {

namespace json = boost::json;
namespace client = engine::client;
namespace server = engine::server;
using Clock = std::chrono::steady_clock;

// Exit statuses (docs/client.md).
constexpr int kExitOk = 0;
constexpr int kExitConnectionLost = 1;  // also: requests unanswered after stdin ended
constexpr int kExitRefused = 2;         // bad flags, sign-up or login refused, no connection

// After stdin ends, how long the client waits for the answers to what it sent.
constexpr auto kAnswerTimeout = std::chrono::seconds(10);
// Events held back to learn the names they mention are shown anyway after this long.
constexpr auto kNameLookupTimeout = std::chrono::seconds(2);
// How long one poll of the WebSocket may block before stdin and timers get their turn.
constexpr int kPollMs = 20;
constexpr std::uint32_t kDefaultHistoryLimit = 20;

struct ClientOptions {
  std::string server = "127.0.0.1:8080";
  std::string name;
  std::string password;
  std::string password_env;
  bool signup = false;
  engine::DeviceId device = 0;
  engine::InboxSeq cursor = 0;
  bool script = false;
  int linger_ms = 500;
  std::string encoding = "json";
};

struct ServerAddress {
  std::string host;  // an IP address: the client library connects to addresses only
  std::uint16_t port = 0;
};

// ---- Small helpers -----------------------------------------------------------------------

// Resolves a host name, preferring IPv4: a node listening on 127.0.0.1 is not reachable at
// ::1, which "localhost" often resolves to first.
std::optional<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return std::nullopt;
  const addrinfo* chosen = found;
  for (const addrinfo* item = found; item != nullptr; item = item->ai_next) {
    if (item->ai_family == AF_INET) {
      chosen = item;
      break;
    }
  }
  std::optional<std::string> address;
  char text[INET6_ADDRSTRLEN] = {};
  if (chosen != nullptr && chosen->ai_family == AF_INET) {
    const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(chosen->ai_addr);
    if (inet_ntop(AF_INET, &ipv4->sin_addr, text, sizeof text) != nullptr) address = text;
  } else if (chosen != nullptr && chosen->ai_family == AF_INET6) {
    const auto* ipv6 = reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr);
    if (inet_ntop(AF_INET6, &ipv6->sin6_addr, text, sizeof text) != nullptr) address = text;
  }
  freeaddrinfo(found);
  return address;
}

// "HOST:PORT" or "[IPV6]:PORT".
std::optional<ServerAddress> parse_server(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0)
    return std::nullopt;
  const auto address = resolve_host(host);
  if (!address) return std::nullopt;
  return ServerAddress{*address, port};
}

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

// Local wall-clock time of a node timestamp (microseconds since the Unix epoch): the time
// alone for today, with the date otherwise.
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

// "code: message" from an HTTP error body, or the raw body when it has another shape.
std::string http_error_text(const net::HttpResult& result) {
  try {
    const json::value body = json::parse(result.body);  // kept alive: `error` points into it
    const auto& error = body.as_object().at("error").as_object();
    return std::string(error.at("code").as_string()) + ": " +
           std::string(error.at("message").as_string()) + " (HTTP " +
           std::to_string(result.status) + ")";
  } catch (const std::exception&) {
    return "HTTP " + std::to_string(result.status) + " " + result.body;
  }
}

engine::RequestId answered_request(const server::Event& event) {
  return std::visit(
      [](const auto& typed) -> engine::RequestId {
        if constexpr (requires { typed.request; }) {
          return typed.request;
        } else {
          return 0;
        }
      },
      event);
}

// Lines from stdin, read on their own thread so the socket is served while nobody types.
class StdinLines {
 public:
  StdinLines()
      : reader_([this] {
          std::string line;
          while (std::getline(std::cin, line)) {
            const std::lock_guard lock(mutex_);
            lines_.push_back(line);
          }
          const std::lock_guard lock(mutex_);
          eof_ = true;
        }) {
    reader_.detach();  // it may sit in getline forever; the process exits around it
  }
  std::optional<std::string> next() {
    const std::lock_guard lock(mutex_);
    if (lines_.empty()) return std::nullopt;
    auto line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }
  // Stdin ended and every line was taken.
  bool finished() {
    const std::lock_guard lock(mutex_);
    return eof_ && lines_.empty();
  }

 private:
  std::mutex mutex_;
  std::deque<std::string> lines_;
  bool eof_ = false;
  std::thread reader_;
};

// ---- The client --------------------------------------------------------------------------

class TerminalClient {
 public:
  TerminalClient(const ClientOptions& options, const ServerAddress& address)
      : options_(options),
        http_(address.host, address.port),
        ws_(address.host, address.port),
        encoding_(options.encoding == "binary" ? net::Encoding::binary : net::Encoding::json) {}

  int run();

 private:
  // Account and connection.
  int log_in();
  int connect();
  int serve(StdinLines& input);

  // Commands.
  void run_ready_commands(StdinLines& input);
  void command(const std::string& line);
  void open_direct_chat(const std::string& name);
  void open_group(const std::string& name);
  void create_group(const std::vector<std::string>& args);
  void add_contact(const std::string& name);
  void show_history(const std::vector<std::string>& args);
  void send_text(const std::string& text);
  std::optional<engine::UserId> resolve(const std::string& name);
  engine::RequestId request(client::Request request);

  // Events.
  void on_event(const server::Event& event);
  void react(const server::Event& event);
  void on_send_ack(const server::SendAck& ack);
  void on_group_created(const server::GroupCreated& created);
  void on_channel_list(const server::ChannelList& list);
  void on_contact_list(const server::ContactList& contacts);
  void learn_channel_labels(const server::ChannelList& list);

  // Interactive output.
  void present(const server::Event& event);
  bool mentions_unknown(const server::Event& event) const;
  void request_names();
  void show_held_events();
  void show(const server::Event& event);
  void show_message(const engine::Message& message);
  void show_who_presence(const server::PresenceList& list);
  void show_unread(const server::UnreadCounts& unread);
  std::string message_text(const engine::Message& message) const;
  std::string name_of(engine::UserId user) const;
  std::string channel_label(engine::ChannelId channel) const;
  void say(const std::string& line) const {
    if (!options_.script) std::cout << line << std::endl;
  }
  void client_error(const std::string& message) const;

  void heartbeat_if_due();

  const ClientOptions& options_;
  net::HttpClient http_;
  net::WsClient ws_;
  net::Encoding encoding_;
  std::string token_;
  engine::UserId me_ = 0;
  engine::DeviceId device_ = 0;
  engine::RequestId next_request_ = 2;  // 1 is the hello
  std::set<engine::RequestId> unanswered_;
  Clock::time_point last_heartbeat_ = Clock::now();
  engine::TimeUs heartbeat_us_ = 5'000'000;
  std::string msg_id_prefix_;
  std::uint64_t messages_sent_ = 0;
  bool quit_ = false;

  // The open chat: a channel, or a peer whose 1:1 channel the first sendAck will name.
  engine::ChannelId channel_ = 0;
  engine::UserId peer_ = 0;
  // A request whose answer decides the open chat (/to, /group, /create). The next line
  // waits for it, so that `/create x bob` followed by a message goes to the new group.
  std::optional<engine::RequestId> chat_decider_;

  // What each request was for, to act on its answer.
  std::map<engine::RequestId, engine::UserId> peer_sends_;
  std::map<engine::RequestId, engine::UserId> direct_lookups_;
  std::map<engine::RequestId, std::string> group_lookups_;
  std::map<engine::RequestId, std::string> group_creates_;
  std::set<engine::RequestId> who_contact_lists_;
  std::set<engine::RequestId> who_presence_queries_;
  std::map<engine::RequestId, std::string> ok_notes_;  // interactive: what an `ok` means

  // Interactive mode shows names, not ids. Events that mention a user or channel it cannot
  // name are held while one listContacts + listChannels pair fetches the names.
  std::map<engine::UserId, std::string> names_;
  std::map<engine::ChannelId, std::string> channel_labels_;
  std::set<engine::ChannelId> direct_channels_;
  std::map<engine::ChannelId, engine::UserId> direct_peers_;
  std::set<engine::RequestId> name_requests_;
  std::vector<server::Event> held_;
  Clock::time_point held_since_;
  std::set<engine::UserId> nameless_users_;  // still unknown after a lookup: not asked again
  std::set<engine::ChannelId> nameless_channels_;
};

// ---- Account and connection --------------------------------------------------------------

int TerminalClient::log_in() {
  const json::object credentials{{"name", options_.name}, {"password", options_.password}};
  if (options_.signup) {
    const auto result = http_.request("POST", "/v1/signup", json::serialize(credentials));
    // 409 name_taken: the account may be ours already; the login below decides.
    if (result.status == 201) {
      say("* signed up as " + options_.name);
    } else if (result.status != 409) {
      std::cerr << "parley client: sign-up failed: " << http_error_text(result) << "\n";
      return kExitRefused;
    }
  }
  json::object login = credentials;
  login["device_label"] = "cli";
  if (options_.device != 0) login["device"] = options_.device;
  const auto result = http_.request("POST", "/v1/login", json::serialize(login));
  if (result.status != 200) {
    std::cerr << "parley client: login failed: " << http_error_text(result) << "\n";
    return kExitRefused;
  }
  const auto body = json::parse(result.body).as_object();
  token_ = std::string(body.at("token").as_string());
  me_ = body.at("user").to_number<engine::UserId>();
  device_ = body.at("device").to_number<engine::DeviceId>();
  names_[me_] = options_.name;
  // The random part keeps ids of two runs on one device (same counter) from colliding,
  // which the node would otherwise take for a resend and drop as a duplicate.
  std::random_device random;
  msg_id_prefix_ = "cli-" + std::to_string(device_) + "-" + std::to_string(random()) + "-";
  return kExitOk;
}

int TerminalClient::connect() {
  try {
    ws_.connect(token_);
  } catch (const std::exception& error) {
    std::cerr << "parley client: cannot open the WebSocket: " << error.what() << "\n";
    return kExitRefused;
  }
  ws_.send(net::Hello{1, options_.cursor}, encoding_);
  unanswered_.insert(1);
  last_heartbeat_ = Clock::now();
  return kExitOk;
}

int TerminalClient::run() {
  try {
    if (const int status = log_in(); status != kExitOk) return status;
  } catch (const std::exception& error) {
    std::cerr << "parley client: cannot reach " << options_.server << ": " << error.what() << "\n";
    return kExitRefused;
  }
  if (const int status = connect(); status != kExitOk) return status;
  StdinLines input;
  try {
    return serve(input);
  } catch (const net::ConnectionClosed& closed) {
    std::cerr << "parley client: the node closed the connection (" << closed.code << " "
              << closed.reason << ")\n";
  } catch (const std::exception& error) {
    std::cerr << "parley client: connection lost: " << error.what() << "\n";
  }
  return kExitConnectionLost;
}

// The main loop: one event at a time from the socket, then whatever commands can run.
// When stdin ends (in either mode) it waits for every answer; script mode then lingers
// for late events, such as deliveries of messages others send.
int TerminalClient::serve(StdinLines& input) {
  std::optional<Clock::time_point> input_ended_at;
  std::optional<Clock::time_point> answered_at;
  while (!quit_) {
    if (auto event = ws_.receive(kPollMs)) on_event(*event);
    run_ready_commands(input);
    heartbeat_if_due();
    if (!held_.empty() && Clock::now() - held_since_ > kNameLookupTimeout) show_held_events();
    if (quit_ || !input.finished()) continue;
    if (!input_ended_at) input_ended_at = Clock::now();
    if (!unanswered_.empty()) {
      if (Clock::now() - *input_ended_at > kAnswerTimeout) {
        std::cerr << "parley client: " << unanswered_.size() << " requests never answered\n";
        return kExitConnectionLost;
      }
      continue;
    }
    if (!answered_at) answered_at = Clock::now();
    const auto linger = std::chrono::milliseconds(options_.script ? options_.linger_ms : 0);
    if (Clock::now() - *answered_at >= linger) break;
  }
  show_held_events();
  ws_.close();
  return kExitOk;
}

// The node asks for a heartbeat at least every heartbeatIntervalUs; sending at 90% of it
// keeps the poll loop's granularity from making one late.
void TerminalClient::heartbeat_if_due() {
  if (Clock::now() - last_heartbeat_ < std::chrono::microseconds(heartbeat_us_ * 9 / 10)) return;
  ws_.send(client::Request{client::Heartbeat{}}, encoding_);
  last_heartbeat_ = Clock::now();
}

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
  if (engine::request_id(request) != 0) unanswered_.insert(id);
  ws_.send(request, encoding_);
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
  } else {
    client_error("unknown command '" + verb +
                 "' (try /to, /group, /create, /add, /history, /who, /unread, /quit)");
  }
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
  const auto result = http_.request("GET", "/v1/users/" + name, "", token_);
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

// ---- Events ------------------------------------------------------------------------------

void TerminalClient::on_event(const server::Event& event) {
  // Welcome answers the hello (request 1) but carries no request id.
  const engine::RequestId answered =
      std::holds_alternative<server::Welcome>(event) ? 1 : answered_request(event);
  unanswered_.erase(answered);
  if (options_.script) {
    // The line goes out before react(), so that a clientError it causes comes after it.
    std::cout << net::encode_server_event(event, net::Encoding::json) << std::endl;
    react(event);
  } else {
    react(event);  // first, so that names it learns are there to show
    present(event);
  }
  if (chat_decider_ == answered && answered != 0) chat_decider_.reset();
  // A refused request has no other answer: forget what it was for.
  if (std::holds_alternative<server::Failure>(event)) {
    peer_sends_.erase(answered);
    direct_lookups_.erase(answered);
    group_lookups_.erase(answered);
    group_creates_.erase(answered);
    who_contact_lists_.erase(answered);
    who_presence_queries_.erase(answered);
    ok_notes_.erase(answered);
    if (name_requests_.erase(answered) && name_requests_.empty()) show_held_events();
  }
}

void TerminalClient::react(const server::Event& event) {
  if (const auto* welcome = std::get_if<server::Welcome>(&event)) {
    heartbeat_us_ = welcome->heartbeat_interval_us;
  } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    // One cumulative ack for the whole frame: entries come in inbox order.
    if (!deliver->entries.empty())
      ws_.send(client::Request{client::Ack{deliver->entries.back().inbox_seq}}, encoding_);
    for (const auto& entry : deliver->entries) {
      if (entry.message.kind == engine::MessageKind::group_created)
        channel_labels_[entry.message.channel] = "\"" + entry.message.text + "\"";
    }
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    on_send_ack(*ack);
  } else if (const auto* created = std::get_if<server::GroupCreated>(&event)) {
    on_group_created(*created);
  } else if (const auto* list = std::get_if<server::ChannelList>(&event)) {
    on_channel_list(*list);
  } else if (const auto* contacts = std::get_if<server::ContactList>(&event)) {
    on_contact_list(*contacts);
  } else if (const auto* ok = std::get_if<server::Ok>(&event)) {
    if (const auto note = ok_notes_.find(ok->request); note != ok_notes_.end()) {
      say(note->second);
      ok_notes_.erase(note);
    }
  }
}

void TerminalClient::on_send_ack(const server::SendAck& ack) {
  const auto sent = peer_sends_.find(ack.request);
  if (sent == peer_sends_.end()) return;
  const engine::UserId peer = sent->second;
  peer_sends_.erase(sent);
  direct_channels_.insert(ack.channel);
  direct_peers_[ack.channel] = peer;
  // Later sends use the channel, unless the user has moved on to another chat meanwhile.
  if (peer == peer_ && channel_ == 0) channel_ = ack.channel;
}

void TerminalClient::on_group_created(const server::GroupCreated& created) {
  const auto create = group_creates_.find(created.request);
  if (create == group_creates_.end()) return;
  const std::string label = "\"" + create->second + "\"";
  group_creates_.erase(create);
  channel_labels_[created.channel] = label;
  channel_ = created.channel;
  peer_ = 0;
  say("* chatting in group " + label);
}

void TerminalClient::on_channel_list(const server::ChannelList& list) {
  learn_channel_labels(list);
  if (const auto lookup = group_lookups_.find(list.request); lookup != group_lookups_.end()) {
    for (const auto& summary : list.channels) {
      if (summary.kind == engine::ChannelKind::group && summary.name == lookup->second &&
          summary.active) {
        channel_ = summary.channel;
        peer_ = 0;
        say("* chatting in group \"" + lookup->second + "\"");
        group_lookups_.erase(lookup);
        break;
      }
    }
  }
  if (list.more && !list.channels.empty()) {
    // The list comes in pages: ask for the next one, which carries on what this one was for.
    const auto next = request(client::ListChannels{.request = 0,
                                                   .after = list.channels.back().channel,
                                                   .limit = engine::limits::kMaxChannelPage});
    const auto pass_on = [&](auto& lookups) {
      if (auto node = lookups.extract(list.request)) {
        node.key() = next;
        lookups.insert(std::move(node));
      }
    };
    pass_on(direct_lookups_);
    pass_on(group_lookups_);
    if (name_requests_.erase(list.request)) name_requests_.insert(next);
    if (chat_decider_ == list.request) chat_decider_ = next;
    return;
  }
  if (name_requests_.erase(list.request) && name_requests_.empty()) show_held_events();
  if (const auto direct = direct_lookups_.find(list.request); direct != direct_lookups_.end()) {
    const engine::UserId peer = direct->second;
    direct_lookups_.erase(direct);
    if (peer != peer_ || channel_ != 0) return;
    for (const auto& [channel, channel_peer] : direct_peers_) {
      if (channel_peer == peer) channel_ = channel;
    }
    return;
  }
  // A group lookup still open after the last page found nothing.
  const auto lookup = group_lookups_.find(list.request);
  if (lookup == group_lookups_.end()) return;
  const std::string wanted = lookup->second;
  group_lookups_.erase(lookup);
  client_error("you are in no group named '" + wanted + "'");
}

void TerminalClient::learn_channel_labels(const server::ChannelList& list) {
  for (const auto& summary : list.channels) {
    for (const auto& member : summary.members)
      names_[member.user] = member.name;
    if (summary.kind == engine::ChannelKind::group) {
      channel_labels_[summary.channel] = "\"" + summary.name + "\"";
      continue;
    }
    direct_channels_.insert(summary.channel);
    // A 1:1 channel lists both users, or only you when it is your own.
    engine::UserId peer = me_;
    for (const auto& member : summary.members) {
      if (member.user != me_) peer = member.user;
    }
    direct_peers_[summary.channel] = peer;
  }
}

void TerminalClient::on_contact_list(const server::ContactList& contacts) {
  for (const auto& contact : contacts.contacts)
    names_[contact.user] = contact.name;
  if (name_requests_.erase(contacts.request) && name_requests_.empty()) show_held_events();
  if (!who_contact_lists_.erase(contacts.request)) return;
  // Presence flows between friends (mutual contacts) only: ask for theirs, and say why
  // the others have none.
  client::QueryPresence query;
  for (const auto& contact : contacts.contacts) {
    if (contact.state == engine::ContactState::blocked) {
      say("* " + contact.name + ": blocked");
    } else if (contact.mutual) {
      query.users.push_back(contact.user);
    } else {
      say("* " + contact.name + ": not a friend yet (they have not added you), no presence");
    }
  }
  if (contacts.contacts.empty()) say("* no contacts yet: /add USER");
  if (!query.users.empty()) who_presence_queries_.insert(request(std::move(query)));
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

void TerminalClient::show_held_events() {
  // Whatever is still unknown after a lookup will stay so: do not ask for it again.
  for (const auto& event : held_) {
    const auto note_nameless = [&](const engine::Message& message) {
      if (!names_.contains(message.sender)) nameless_users_.insert(message.sender);
      for (const auto user : message.users)
        if (!names_.contains(user)) nameless_users_.insert(user);
      if (!channel_labels_.contains(message.channel) && !direct_peers_.contains(message.channel))
        nameless_channels_.insert(message.channel);
    };
    if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
      for (const auto& entry : deliver->entries)
        note_nameless(entry.message);
    } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
      for (const auto& message : page->messages)
        note_nameless(message);
    } else if (const auto* presence = std::get_if<server::Presence>(&event)) {
      if (!names_.contains(presence->entry.user)) nameless_users_.insert(presence->entry.user);
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
    for (const auto& message : page->messages)
      show_message(message);
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
void TerminalClient::show_message(const engine::Message& message) {
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
    say(stamp + name_of(message.sender) + where + ": " + message.text);
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

}  // namespace

void add_client_command(CLI::App& app) {
  auto options = std::make_shared<ClientOptions>();
  auto* command = app.add_subcommand("client",
                                     "A terminal client: chat interactively, or script it with "
                                     "--script (one JSON line per server event; docs/client.md)");
  command->add_option("--server", options->server, "HOST:PORT of the node")->capture_default_str();
  command->add_option("--name", options->name, "Your user name")->required();
  auto* password = command->add_option("--password", options->password, "Your password");
  command
      ->add_option("--password-env", options->password_env,
                   "Read the password from this environment variable")
      ->excludes(password);
  command->add_flag("--signup", options->signup,
                    "Create the account first (an existing one with this name is fine)");
  command->add_option("--device", options->device, "Log in an existing device of yours again");
  command->add_option("--cursor", options->cursor, "The hello's cursor (0: the whole inbox)")
      ->capture_default_str();
  command->add_flag("--script", options->script, "Non-interactive: one JSON line per server event");
  command
      ->add_option(
          "--linger-ms", options->linger_ms,
          "Script mode: read events this long after stdin ends and every request is answered")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--encoding", options->encoding, "Frame encoding")
      ->check(CLI::IsMember({"json", "binary"}))
      ->capture_default_str();
  command->callback([options] {
    if (!options->password_env.empty()) {
      const char* value = std::getenv(options->password_env.c_str());
      if (value == nullptr) {
        std::cerr << "parley client: $" << options->password_env << " is not set\n";
        std::exit(kExitRefused);
      }
      options->password = value;
    }
    if (options->password.empty()) {
      std::cerr << "parley client: give --password or --password-env\n";
      std::exit(kExitRefused);
    }
    const auto address = parse_server(options->server);
    if (!address) {
      std::cerr << "parley client: --server takes HOST:PORT with a host that resolves, not '"
                << options->server << "'\n";
      std::exit(kExitRefused);
    }
    TerminalClient client(*options, *address);
    std::exit(client.run());
  });
}

}  // namespace parley::cli
