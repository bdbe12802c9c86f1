#include "cli/client_command.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "engine/describe.hpp"
#include "net/client.hpp"

namespace parley::cli {
namespace {

namespace json = boost::json;
namespace client = engine::client;
namespace server = engine::server;
using Clock = std::chrono::steady_clock;

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

std::string clock_now() {
  const std::time_t now = std::time(nullptr);
  char text[16];
  std::strftime(text, sizeof text, "%H:%M:%S", std::localtime(&now));
  return text;
}

class TerminalClient {
 public:
  TerminalClient(const ClientOptions& options, std::string host, std::uint16_t port)
      : options_(options),
        http_(host, port),
        ws_(host, port),
        encoding_(options.encoding == "binary" ? net::Encoding::binary : net::Encoding::json) {}

  int run();

 private:
  // ---- Output ------------------------------------------------------------------------------
  void client_error(const std::string& message) {
    if (options_.script) {
      std::cout << json::serialize(json::object{{"clientError", {{"message", message}}}})
                << std::endl;
    } else {
      std::cout << "! " << message << std::endl;
    }
  }
  void say(const std::string& line) {
    if (!options_.script) std::cout << line << std::endl;
  }
  std::string name_of(engine::UserId user) const {
    if (user == me_) return "you";
    const auto found = names_.find(user);
    return found != names_.end() ? found->second : "user " + std::to_string(user);
  }

  // ---- Account ---------------------------------------------------------------------------
  bool log_in();
  std::optional<engine::UserId> resolve(const std::string& name);

  // ---- Requests ---------------------------------------------------------------------------
  engine::RequestId request(client::Request request) {
    const engine::RequestId id = next_request_++;
    std::visit(
        [&](auto& typed) {
          if constexpr (requires { typed.request; }) typed.request = id;
        },
        request);
    if (engine::request_id(request) != 0) pending_.insert(id);
    ws_.send(request, encoding_);
    return id;
  }

  void command(const std::string& line);
  void send_text(const std::string& text);
  void on_event(const server::Event& event);
  void show(const server::Event& event);
  void show_message(const engine::Message& message);
  engine::ChannelId direct_channel_with(const server::ChannelList& list, engine::UserId peer) const;

  const ClientOptions& options_;
  net::HttpClient http_;
  net::WsClient ws_;
  net::Encoding encoding_;
  std::string token_;
  engine::UserId me_ = 0;
  engine::DeviceId device_ = 0;
  engine::RequestId next_request_ = 2;  // 1 is the hello
  std::set<engine::RequestId> pending_;
  std::map<engine::UserId, std::string> names_;
  // The open chat: a channel, or a peer whose 1:1 channel the first sendAck will name.
  engine::ChannelId channel_ = 0;
  engine::UserId peer_ = 0;
  std::map<engine::RequestId, engine::UserId> peer_sends_;
  std::map<engine::RequestId, std::string> group_lookups_;
  std::map<engine::RequestId, engine::UserId> direct_lookups_;
  std::set<engine::RequestId> who_requests_;
  std::int64_t heartbeat_us_ = 5'000'000;
  std::uint64_t sent_ = 0;
  std::string msg_id_prefix_;
  bool quit_ = false;
};

bool TerminalClient::log_in() {
  const json::object credentials{{"name", options_.name}, {"password", options_.password}};
  if (options_.signup) {
    const auto result = http_.request("POST", "/v1/signup", json::serialize(credentials));
    if (result.status != 201 && result.status != 409) {
      std::cerr << "parley client: sign-up failed (" << result.status << "): " << result.body
                << "\n";
      return false;
    }
  }
  json::object login = credentials;
  login["device_label"] = "cli";
  if (options_.device != 0) login["device"] = options_.device;
  const auto result = http_.request("POST", "/v1/login", json::serialize(login));
  if (result.status != 200) {
    std::cerr << "parley client: login failed (" << result.status << "): " << result.body << "\n";
    return false;
  }
  const auto body = json::parse(result.body).as_object();
  token_ = std::string(body.at("token").as_string());
  me_ = body.at("user").to_number<engine::UserId>();
  device_ = body.at("device").to_number<engine::DeviceId>();
  names_[me_] = options_.name;
  std::random_device random;
  msg_id_prefix_ = "cli-" + std::to_string(device_) + "-" + std::to_string(random()) + "-";
  return true;
}

std::optional<engine::UserId> TerminalClient::resolve(const std::string& name) {
  const auto result = http_.request("GET", "/v1/users/" + name, "", token_);
  if (result.status != 200) {
    client_error("no user named '" + name + "'");
    return std::nullopt;
  }
  const auto user = json::parse(result.body).as_object().at("user").to_number<engine::UserId>();
  names_[user] = name;
  return user;
}

void TerminalClient::send_text(const std::string& text) {
  if (channel_ == 0 && peer_ == 0)
    return client_error("no chat is open: use /to USER or /group NAME");
  const auto id = request(client::Send{0, channel_, channel_ == 0 ? peer_ : 0,
                                       msg_id_prefix_ + std::to_string(++sent_), text});
  if (channel_ == 0) peer_sends_[id] = peer_;
}

void TerminalClient::command(const std::string& line) {
  if (line.empty()) return;
  if (line[0] != '/' || line.rfind("//", 0) == 0)
    return send_text(line[0] == '/' ? line.substr(1) : line);
  std::istringstream words(line);
  std::string verb;
  words >> verb;
  std::vector<std::string> args;
  for (std::string word; words >> word;)
    args.push_back(word);
  if (verb == "/quit") {
    quit_ = true;
  } else if (verb == "/to" && args.size() == 1) {
    if (const auto user = resolve(args[0])) {
      peer_ = *user;
      channel_ = 0;
      // The 1:1 channel may exist already; its id is needed for /history.
      direct_lookups_[request(client::ListChannels{})] = *user;
      say("* chatting with " + args[0]);
    }
  } else if (verb == "/group" && args.size() >= 1) {
    std::string name = line.substr(line.find(' ') + 1);
    group_lookups_[request(client::ListChannels{})] = name;
  } else if (verb == "/create" && args.size() >= 1) {
    client::CreateGroup create{0, args[0], {}};
    for (std::size_t i = 1; i < args.size(); ++i) {
      const auto user = resolve(args[i]);
      if (!user) return;
      create.members.push_back(*user);
    }
    request(std::move(create));
  } else if (verb == "/add" && args.size() == 1) {
    if (const auto user = resolve(args[0]))
      request(client::ChangeContact{0, client::ContactAction::add, *user});
  } else if (verb == "/history") {
    if (channel_ == 0) return client_error("no channel yet: send a message or open a group first");
    const std::uint32_t limit = args.empty() ? 20 : static_cast<std::uint32_t>(std::stoul(args[0]));
    request(client::History{0, channel_, 0, limit});
  } else if (verb == "/who") {
    who_requests_.insert(request(client::ListContacts{}));
  } else if (verb == "/unread") {
    request(client::QueryUnread{});
  } else {
    client_error("unknown command '" + line +
                 "' (try /to, /group, /create, /add, /history, /who, /unread, /quit)");
  }
}

void TerminalClient::on_event(const server::Event& event) {
  const engine::RequestId answered = std::visit(
      [](const auto& e) -> engine::RequestId {
        if constexpr (requires { e.request; }) return e.request;
        return 0;
      },
      event);
  pending_.erase(answered);
  if (options_.script) {
    std::cout << net::encode_server_event(event, net::Encoding::json) << std::endl;
  } else {
    show(event);
  }
  if (const auto* welcome = std::get_if<server::Welcome>(&event)) {
    heartbeat_us_ = welcome->heartbeat_interval_us;
  } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    if (!deliver->entries.empty())
      ws_.send(client::Request{client::Ack{deliver->entries.back().inbox_seq}}, encoding_);
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    const auto peer = peer_sends_.find(ack->request);
    if (peer != peer_sends_.end() && peer->second == peer_ && channel_ == 0)
      channel_ = ack->channel;
    if (peer != peer_sends_.end()) peer_sends_.erase(peer);
  } else if (const auto* created = std::get_if<server::GroupCreated>(&event)) {
    channel_ = created->channel;
    peer_ = 0;
  } else if (const auto* list = std::get_if<server::ChannelList>(&event)) {
    for (const auto& summary : list->channels)
      for (const auto& member : summary.members)
        names_[member.user] = member.name;
    if (const auto direct = direct_lookups_.find(list->request); direct != direct_lookups_.end()) {
      const engine::UserId peer = direct->second;
      direct_lookups_.erase(direct);
      if (peer == peer_ && channel_ == 0) channel_ = direct_channel_with(*list, peer);
      return;
    }
    const auto lookup = group_lookups_.find(list->request);
    if (lookup == group_lookups_.end()) return;
    const std::string wanted = lookup->second;
    group_lookups_.erase(lookup);
    for (const auto& summary : list->channels) {
      if (summary.kind == engine::ChannelKind::group && summary.name == wanted && summary.active) {
        channel_ = summary.channel;
        peer_ = 0;
        return say("* chatting in group \"" + wanted + "\"");
      }
    }
    client_error("you are in no group named '" + wanted + "'");
  } else if (const auto* contacts = std::get_if<server::ContactList>(&event)) {
    client::QueryPresence query;
    for (const auto& contact : contacts->contacts) {
      names_[contact.user] = contact.name;
      if (contact.mutual) query.users.push_back(contact.user);
    }
    if (who_requests_.erase(contacts->request) && !query.users.empty()) request(std::move(query));
  }
}

engine::ChannelId TerminalClient::direct_channel_with(const server::ChannelList& list,
                                                      engine::UserId peer) const {
  for (const auto& summary : list.channels) {
    if (summary.kind != engine::ChannelKind::direct) continue;
    const bool with_self = summary.members.size() == 1 && peer == me_;
    const bool with_peer = std::any_of(summary.members.begin(), summary.members.end(),
                                       [&](const auto& member) { return member.user == peer; });
    if (with_self || (with_peer && peer != me_)) return summary.channel;
  }
  return 0;
}

void TerminalClient::show_message(const engine::Message& message) {
  const std::string where =
      message.channel == channel_ ? "" : " (chat " + std::to_string(message.channel) + ")";
  if (message.kind == engine::MessageKind::text) {
    say("[" + clock_now() + "] " + name_of(message.sender) + where + ": " + message.text);
  } else {
    say("* " + engine::describe(message) + where);
  }
}

void TerminalClient::show(const server::Event& event) {
  if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    for (const auto& entry : deliver->entries)
      show_message(entry.message);
  } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
    for (const auto& message : page->messages)
      show_message(message);
    if (page->has_more) say("* (older messages exist)");
  } else if (const auto* presence = std::get_if<server::Presence>(&event)) {
    say("* " + name_of(presence->entry.user) +
        (presence->entry.online ? " is online" : " is offline"));
  } else if (const auto* list = std::get_if<server::PresenceList>(&event)) {
    for (const auto& entry : list->entries)
      say("* " + name_of(entry.user) + (entry.online ? " is online" : " is offline"));
  } else if (const auto* failure = std::get_if<server::Failure>(&event)) {
    say("! " + std::string(engine::to_string(failure->code)) + ": " + failure->message);
  } else if (std::holds_alternative<server::Welcome>(event)) {
    say("* connected as " + options_.name + " (device " + std::to_string(device_) +
        "); /to USER to start");
  } else if (const auto* unread = std::get_if<server::UnreadCounts>(&event)) {
    say("* " + std::to_string(unread->total) + " unread");
  }
}

int TerminalClient::run() {
  if (!log_in()) return 2;
  try {
    ws_.connect(token_);
  } catch (const std::exception& error) {
    std::cerr << "parley client: cannot connect: " << error.what() << "\n";
    return 2;
  }
  ws_.send(net::Hello{1, options_.cursor}, encoding_);
  pending_.insert(1);
  StdinLines input;
  auto last_heartbeat = Clock::now();
  std::optional<Clock::time_point> drained_at;
  std::optional<Clock::time_point> eof_at;
  try {
    while (!quit_) {
      if (auto event = ws_.receive(20)) {
        // Welcome answers the hello (request 1) but carries no request id.
        if (std::holds_alternative<server::Welcome>(*event)) pending_.erase(1);
        on_event(*event);
        continue;
      }
      // A command that opens a chat waits for its lookup, so the next one (/history, a
      // message) goes to that chat.
      while (direct_lookups_.empty() && group_lookups_.empty()) {
        const auto line = input.next();
        if (!line) break;
        command(*line);
      }
      if (Clock::now() - last_heartbeat > std::chrono::microseconds(heartbeat_us_)) {
        ws_.send(client::Request{client::Heartbeat{}}, encoding_);
        last_heartbeat = Clock::now();
      }
      if (!options_.script || !input.finished()) continue;
      // Script mode, stdin done: wait for every answer, then linger for late deliveries.
      if (!eof_at) eof_at = Clock::now();
      if (!pending_.empty()) {
        if (Clock::now() - *eof_at > std::chrono::seconds(10)) {
          std::cerr << "parley client: " << pending_.size() << " requests never answered\n";
          return 1;
        }
        continue;
      }
      if (!drained_at) drained_at = Clock::now();
      if (Clock::now() - *drained_at > std::chrono::milliseconds(options_.linger_ms)) break;
    }
  } catch (const net::ConnectionClosed& closed) {
    std::cerr << "parley client: the node closed the connection (" << closed.code << " "
              << closed.reason << ")\n";
    return 1;
  }
  ws_.close();
  return 0;
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
      ->capture_default_str();
  command->add_option("--encoding", options->encoding, "Frame encoding")
      ->check(CLI::IsMember({"json", "binary"}))
      ->capture_default_str();
  command->callback([options] {
    if (!options->password_env.empty()) {
      const char* value = std::getenv(options->password_env.c_str());
      if (value == nullptr) {
        std::cerr << "parley client: $" << options->password_env << " is not set\n";
        std::exit(2);
      }
      options->password = value;
    }
    if (options->password.empty()) {
      std::cerr << "parley client: give --password or --password-env\n";
      std::exit(2);
    }
    const auto colon = options->server.rfind(':');
    if (colon == std::string::npos) {
      std::cerr << "parley client: --server takes HOST:PORT\n";
      std::exit(2);
    }
    std::string host = options->server.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    const auto port = static_cast<std::uint16_t>(std::stoul(options->server.substr(colon + 1)));
    try {
      TerminalClient client(*options, host, port);
      std::exit(client.run());
    } catch (const std::exception& error) {
      std::cerr << "parley client: " << error.what() << "\n";
      std::exit(2);
    }
  });
}

}  // namespace parley::cli
