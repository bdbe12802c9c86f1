// The load generator's accounts: one user and one device per connection, signed up and
// logged in over keep-alive HTTP by a few threads at once, backing off while the node
// answers 503.
#include "net/client/load_accounts.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

class KeepAliveHttp {
 public:
  KeepAliveHttp(std::string host, std::uint16_t port) : host_(std::move(host)), port_(port) {}

  // POSTs a JSON body; returns the status and the parsed body. Reconnects once if the node
  // closed the kept-alive connection.
  std::pair<int, json::value> post(const std::string& target, const json::object& body) {
    for (int attempt = 0;; ++attempt) {
      try {
        return post_once(target, body);
      } catch (const std::exception&) {
        stream_.reset();
        if (attempt == 3) throw;
      }
    }
  }

 private:
  std::pair<int, json::value> post_once(const std::string& target, const json::object& body) {
    if (!stream_) {
      stream_ = std::make_unique<beast::tcp_stream>(io_);
      stream_->connect(tcp::endpoint(asio::ip::make_address(host_), port_));
    }
    http::request<http::string_body> request{http::verb::post, target, 11};
    request.set(http::field::host, host_);
    request.set(http::field::content_type, "application/json");
    request.keep_alive(true);
    request.body() = json::serialize(body);
    request.prepare_payload();
    http::write(*stream_, request);
    http::response<http::string_body> response;
    http::read(*stream_, buffer_, response);
    if (!response.keep_alive()) stream_.reset();
    return {static_cast<int>(response.result_int()), json::parse(response.body())};
  }

  std::string host_;
  std::uint16_t port_;
  asio::io_context io_;
  std::unique_ptr<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

LoadAccount set_up_account(KeepAliveHttp& http, const std::string& name,
                           const std::string& password) {
  const json::object credentials{{"name", name}, {"password", password}};
  for (int attempt = 0;; ++attempt) {
    const auto [status, body] = http.post("/v1/signup", credentials);
    if (status == 201 || status == 409) break;  // 409: a rerun with the same prefix
    if (status != 503 || attempt == 50) {
      throw std::runtime_error("sign-up of " + name + " failed with HTTP " +
                               std::to_string(status) + ": " + json::serialize(body));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // overloaded: back off
  }
  json::object login = credentials;
  login["device_label"] = "load";
  for (int attempt = 0;; ++attempt) {
    const auto [status, body] = http.post("/v1/login", login);
    if (status == 200) {
      return LoadAccount{std::string(body.at("token").as_string()),
                         static_cast<engine::UserId>(body.at("user").to_number<std::uint64_t>())};
    }
    if (status != 503 || attempt == 50) {
      throw std::runtime_error("login of " + name + " failed with HTTP " + std::to_string(status) +
                               ": " + json::serialize(body));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

std::vector<LoadAccount> set_up_accounts(const LoadConfig& config, const std::string& prefix,
                                         const std::function<void(std::size_t)>& on_done) {
  std::vector<LoadAccount> accounts(config.connections);
  std::atomic<std::size_t> next{0};
  std::atomic<std::size_t> done{0};
  std::exception_ptr failure;
  std::mutex failure_mutex;
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::max<std::size_t>(1, config.setup_threads); ++t) {
    threads.emplace_back([&] {
      try {
        KeepAliveHttp http(config.host, config.port);
        for (std::size_t i = next++; i < accounts.size(); i = next++) {
          accounts[i] = set_up_account(http, prefix + std::to_string(i), config.password);
          ++done;
        }
      } catch (...) {
        const std::lock_guard lock(failure_mutex);
        failure = std::current_exception();
        next = accounts.size();
      }
    });
  }
  std::thread reporter([&] {
    while (done < accounts.size() && next <= accounts.size() && !failure) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      on_done(done);
    }
  });
  for (auto& thread : threads)
    thread.join();
  next = accounts.size() + 1;
  reporter.join();
  if (failure) std::rethrow_exception(failure);
  return accounts;
}

std::string random_prefix() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> digit(0, 35);
  std::string prefix = "load-";
  for (int i = 0; i < 6; ++i) {
    const unsigned d = digit(device);
    prefix += static_cast<char>(d < 10 ? '0' + d : 'a' + (d - 10));
  }
  return prefix + "-";
}

}  // namespace parley::net
