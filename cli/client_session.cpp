// `parley client`: account and connection (cli/client_impl.hpp).
#include <boost/json.hpp>
#include <chrono>
#include <exception>
#include <iostream>
#include <optional>
#include <random>
#include <string>

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

}  // namespace parley::cli::detail
