#include "net/client/load_discovery.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <stdexcept>

#include "net/client/client.hpp"

namespace parley::net {

namespace {

// "ws://HOST:PORT/..." -> a loopback endpoint; throws for anything else (parley load
// only drives this machine).
GatewayDiscovery::Endpoint parse_gateway(const std::string& url) {
  char host[64] = {};
  unsigned port = 0;
  if (std::sscanf(url.c_str(), "ws://%63[^:/]:%u/", host, &port) != 2 || port == 0 ||
      port > 65535) {
    throw std::invalid_argument("discovery named a gateway that is not ws://HOST:PORT/...: " + url);
  }
  boost::system::error_code error;
  const auto address = boost::asio::ip::make_address(host, error);
  if (error || !address.is_loopback()) {
    throw std::invalid_argument("parley load only targets loopback addresses, not " + url);
  }
  return {address, static_cast<std::uint16_t>(port)};
}

}  // namespace

GatewayDiscovery::GatewayDiscovery(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port), thread_([this] { poll(); }) {}

GatewayDiscovery::~GatewayDiscovery() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

std::optional<std::vector<GatewayDiscovery::Endpoint>> GatewayDiscovery::ask(
    const std::string& host, std::uint16_t port) {
  HttpResult result;
  try {
    result = HttpClient(host, port).request("GET", "/v1/discover");
  } catch (const std::exception&) {
    return std::nullopt;  // not listening (killed, restarting)
  }
  if (result.status != 200) return std::nullopt;  // 503 not_leader: no leader yet
  const auto json = boost::json::parse(result.body).as_object();
  std::vector<Endpoint> gateways;
  if (const auto* listed = json.if_contains("gateways")) {
    for (const auto& url : listed->as_array())
      gateways.push_back(parse_gateway(std::string(url.as_string())));
  }
  if (gateways.empty())
    gateways.push_back(parse_gateway(std::string(json.at("websocket").as_string())));
  return gateways;
}

void GatewayDiscovery::poll() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::vector<std::pair<std::string, std::uint16_t>> nodes{{host_, port_}};
    for (const Endpoint& gateway : gateways_)
      nodes.emplace_back(gateway.address().to_string(), gateway.port());
    lock.unlock();
    std::optional<std::vector<Endpoint>> answer;
    for (const auto& [host, port] : nodes) {
      try {
        answer = ask(host, port);
      } catch (const std::exception& error) {
        std::fprintf(stderr, "parley load: discovery: %s\n", error.what());
      }
      if (answer) break;
    }
    lock.lock();
    if (answer) {
      gateways_ = std::move(*answer);
      ++answers_;
      changed_.notify_all();
    }
    changed_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
  }
}

bool GatewayDiscovery::wait_ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return !gateways_.empty(); });
}

std::optional<GatewayDiscovery::Endpoint> GatewayDiscovery::pick(
    const std::optional<Endpoint>& avoid) {
  std::lock_guard lock(mutex_);
  std::vector<Endpoint> choices;
  for (const Endpoint& gateway : gateways_)
    if (gateway != avoid) choices.push_back(gateway);
  if (choices.empty()) choices = gateways_;
  if (choices.empty()) return std::nullopt;
  return choices[next_pick_++ % choices.size()];  // round robin: an even spread
}

}  // namespace parley::net
