// `parley client`: account and connection (cli/client_impl.hpp).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <exception>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace json = boost::json;

namespace {

// After stdin ends, how long the client waits for the answers to what it sent.
constexpr auto kAnswerTimeout = std::chrono::seconds(10);
// Events held back to learn the names they mention are shown anyway after this long.
constexpr auto kNameLookupTimeout = std::chrono::seconds(2);
// How long one poll of the WebSocket may block before stdin and timers get their turn.
constexpr int kPollMs = 20;

}  // namespace

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

// ---- Account and connection --------------------------------------------------------------

int TerminalClient::log_in() {
  const json::object credentials{{"name", options_.name}, {"password", options_.password}};
  if (options_.signup) {
    const auto result = http_->request("POST", "/v1/signup", json::serialize(credentials));
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
  const auto result = http_->request("POST", "/v1/login", json::serialize(login));
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

namespace {

// A close that says the session is over: reconnecting would only be refused again.
bool final_close(const net::ConnectionClosed& closed) {
  return closed.code == 1000 || closed.code == 1008 || closed.code == 401 || closed.code == 403;
}

// "ws://HOST:PORT/..." -> HOST and PORT (an IP address: the client connects to addresses).
std::optional<ServerAddress> address_of(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return std::nullopt;
  const std::string rest = url.substr(start + 3);
  const std::string authority = rest.substr(0, rest.find('/'));
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  try {
    const int port = std::stoi(authority.substr(colon + 1));
    if (port <= 0 || port > 65535) return std::nullopt;
    return ServerAddress{authority.substr(0, colon), static_cast<std::uint16_t>(port)};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

// In a cluster, discovery names every gateway: the ones to try when this node dies.
std::optional<ServerAddress> TerminalClient::learn_gateways(const std::string& discovery) {
  const auto body = json::parse(discovery).as_object();
  if (const auto* gateways = body.if_contains("gateways")) {
    gateways_.clear();
    for (const auto& url : gateways->as_array()) {
      if (const auto address = address_of(std::string(url.as_string())))
        gateways_.push_back(*address);
    }
  }
  const auto* websocket = body.if_contains("websocket");
  if (websocket == nullptr || !websocket->is_string()) return std::nullopt;
  return address_of(std::string(websocket->as_string()));
}

// Asks --server's node which gateways exist. A cluster without a leader yet answers 503:
// the main loop asks again a few seconds later.
void TerminalClient::discover_gateways() {
  last_discovery_ = Clock::now();
  try {
    const auto found = http_->request("GET", "/v1/discover");
    discovered_ = found.status == 200;
    if (discovered_) learn_gateways(found.body);
  } catch (const std::exception&) {
    discovered_ = true;  // unreachable now: the reconnect asks whoever answers
  }
}

int TerminalClient::connect() {
  discover_gateways();
  try {
    ws_->connect(token_);
  } catch (const std::exception& error) {
    std::cerr << "parley client: cannot open the WebSocket: " << error.what() << "\n";
    return kExitRefused;
  }
  cursor_ = options_.cursor;
  ws_->send(net::Hello{1, cursor_}, encoding_);
  unanswered_.insert(1);
  last_heartbeat_ = Clock::now();
  return kExitOk;
}

// Where discovery may be asked: --server, then every gateway it named before (the node
// the client was on may be the one that died).
std::vector<ServerAddress> TerminalClient::discovery_candidates() {
  std::vector<ServerAddress> candidates{server_};
  for (const ServerAddress& gateway : gateways_) {
    const bool known = std::any_of(candidates.begin(), candidates.end(), [&](const auto& c) {
      return c.host == gateway.host && c.port == gateway.port;
    });
    if (!known) candidates.push_back(gateway);
  }
  return candidates;
}

// After a reconnect: sends again (their client_msg_id makes a stored one a duplicate) and
// reads; any other request may have been applied before the node went away, and doing it
// twice could do it twice (a second group): its outcome is reported unknown instead.
void TerminalClient::resend_in_flight() {
  for (auto it = in_flight_.begin(); it != in_flight_.end();) {
    const bool safe = std::visit(
        [](const auto& typed) {
          using T = std::decay_t<decltype(typed)>;
          return std::is_same_v<T, client::Send> || std::is_same_v<T, client::History> ||
                 std::is_same_v<T, client::ListContacts> ||
                 std::is_same_v<T, client::QueryPresence> ||
                 std::is_same_v<T, client::QueryUnread> || std::is_same_v<T, client::ListChannels>;
        },
        it->second);
    if (safe) {
      ws_->send(it->second, encoding_);
      ++it;
      continue;
    }
    client_error("request " + std::to_string(it->first) +
                 " was not answered before the connection was lost; it may or may not have "
                 "been done");
    unanswered_.erase(it->first);
    it = in_flight_.erase(it);
  }
}

bool TerminalClient::reconnect() {
  const auto give_up_at = Clock::now() + std::chrono::seconds(60);
  auto backoff = std::chrono::milliseconds(200);
  while (Clock::now() < give_up_at) {
    for (const ServerAddress& asked : discovery_candidates()) {
      try {
        const auto answer = net::HttpClient(asked.host, asked.port).request("GET", "/v1/discover");
        if (answer.status != 200) continue;
        const auto target = learn_gateways(answer.body);
        if (!target) continue;
        auto ws = std::make_unique<net::WsClient>(target->host, target->port);
        ws->connect(token_);
        ws_ = std::move(ws);
        http_ = std::make_unique<net::HttpClient>(target->host, target->port);
        ws_->send(net::Hello{1, cursor_}, encoding_);
        unanswered_.insert(1);
        resend_in_flight();
        last_heartbeat_ = Clock::now();
        std::cerr << "parley client: reconnected to " << target->host << ":" << target->port
                  << "\n";
        return true;
      } catch (const net::ConnectionClosed& closed) {
        if (final_close(closed)) return false;  // the token was refused: log in again
      } catch (const std::exception&) {
        // this one is down too: the next candidate
      }
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  return false;
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
  for (;;) {
    try {
      return serve(input);
    } catch (const net::ConnectionClosed& closed) {
      std::cerr << "parley client: the node closed the connection (" << closed.code << " "
                << closed.reason << ")\n";
      if (final_close(closed)) return kExitConnectionLost;
    } catch (const std::exception& error) {
      std::cerr << "parley client: connection lost: " << error.what() << "\n";
    }
    // A node died or stopped serving (1001 going away, a broken socket): find another.
    say("* reconnecting…");
    if (!reconnect()) {
      std::cerr << "parley client: could not reconnect within a minute\n";
      return kExitConnectionLost;
    }
    say("* reconnected");
  }
}

// The main loop: one event at a time from the socket, then whatever commands can run.
// When stdin ends (in either mode) it waits for every answer; script mode then lingers
// for late events, such as deliveries of messages others send.
int TerminalClient::serve(StdinLines& input) {
  std::optional<Clock::time_point> input_ended_at;
  std::optional<Clock::time_point> answered_at;
  while (!quit_) {
    if (auto event = ws_->receive(kPollMs)) on_event(*event);
    if (!discovered_ && Clock::now() - last_discovery_ > std::chrono::seconds(3))
      discover_gateways();
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
    // This client's own messages come back as deliveries just after their acks: wait for
    // them too, so the last line typed is shown (a lost one gives up with the answers').
    if (!echoes_due_.empty() && Clock::now() - *input_ended_at <= kAnswerTimeout) continue;
    if (!answered_at) answered_at = Clock::now();
    const auto linger = std::chrono::milliseconds(options_.script ? options_.linger_ms : 0);
    if (Clock::now() - *answered_at >= linger) break;
  }
  show_held_events();
  ws_->close();
  return kExitOk;
}

// The node asks for a heartbeat at least every heartbeatIntervalUs; sending at 90% of it
// keeps the poll loop's granularity from making one late.
void TerminalClient::heartbeat_if_due() {
  if (Clock::now() - last_heartbeat_ < std::chrono::microseconds(heartbeat_us_ * 9 / 10)) return;
  ws_->send(client::Request{client::Heartbeat{}}, encoding_);
  last_heartbeat_ = Clock::now();
}

}  // namespace parley::cli::detail
