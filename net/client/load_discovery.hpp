// `parley load --discover` (docs/load.md): the gateways a cluster's /v1/discover names,
// polled on a thread of its own every 250 ms so that the load's I/O thread never waits on
// HTTP. Connections pick their gateway here at start and again after every reconnect.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace parley::net {

class GatewayDiscovery {
 public:
  using Endpoint = boost::asio::ip::tcp::endpoint;

  // Starts polling GET /v1/discover on host:port; when that node does not answer, on the
  // gateways it named before (their WebSocket URLs' host and port).
  GatewayDiscovery(std::string host, std::uint16_t port);
  ~GatewayDiscovery();
  GatewayDiscovery(const GatewayDiscovery&) = delete;
  GatewayDiscovery& operator=(const GatewayDiscovery&) = delete;

  // Waits up to `timeout` for a first answer naming a gateway; false when none came.
  bool wait_ready(std::chrono::milliseconds timeout);
  // A live gateway, round robin (clients spread evenly over them), other than `avoid` when
  // there is another; nothing before the first answer.
  std::optional<Endpoint> pick(const std::optional<Endpoint>& avoid = {});
  std::size_t answers() const { return answers_.load(); }

 private:
  void poll();
  // The gateways /v1/discover on host:port names; nothing when it does not answer 200.
  // Throws std::invalid_argument for a gateway that is not a loopback address.
  static std::optional<std::vector<Endpoint>> ask(const std::string& host, std::uint16_t port);

  std::string host_;
  std::uint16_t port_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Endpoint> gateways_;
  bool stopping_ = false;
  std::atomic<std::size_t> answers_{0};
  std::uint32_t next_pick_ = 0;
  std::thread thread_;
};

}  // namespace parley::net
