// Starts a real `parley serve` on 127.0.0.1 with a fresh data directory, for integration
// tests, and stops it (SIGTERM, or SIGKILL to test crash safety).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "net/client/client.hpp"
#include "tests/process.hpp"

namespace parley::testing {

// The port a server wrote to `path` once listening (0 if it never did within 5 s).
inline std::uint16_t wait_for_port_file(const std::string& path) {
  for (int i = 0; i < 500 && !std::filesystem::exists(path); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::uint16_t port = 0;
  std::ifstream(path) >> port;
  return port;
}

// The port the server `pid` wrote to `path` once listening; 0 if it exited first or did not
// listen within 60 s. A cluster node checks its store against etcd before it listens, which
// under ASan on a loaded 2-core machine has taken longer than 5 s; a node that fails exits,
// so a failure is still seen at once. Reaps `pid` (and sets it to -1) if it exited.
inline std::uint16_t wait_for_port_file(const std::string& path, pid_t& pid) {
  for (int i = 0; i < 6000 && !std::filesystem::exists(path); ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::uint16_t port = 0;
  std::ifstream(path) >> port;
  return port;
}

class NodeProcess {
 public:
  explicit NodeProcess(std::vector<std::string> extra = {}) : extra_(std::move(extra)) {
    char pattern[] = "/tmp/parley-node-XXXXXX";
    dir_ = mkdtemp(pattern);
    start();
  }
  ~NodeProcess() {
    if (pid_ > 0) stop(SIGKILL);
    std::filesystem::remove_all(dir_);
  }

  void start() {
    const std::string port_file = dir_ + "/port";
    std::filesystem::remove(port_file);
    std::vector<std::string> args{PARLEY_BINARY, "serve",        "--listen",    "127.0.0.1:0",
                                  "--data",      dir_ + "/data", "--port-file", port_file};
    // Cheap hashes unless the test asks for real ones.
    if (std::find(extra_.begin(), extra_.end(), "--argon2-opslimit") == extra_.end()) {
      args.insert(args.end(), {"--argon2-opslimit", "1", "--argon2-memlimit-kib", "8"});
    }
    // Tests log in many times from one address; the throttle has tests of its own.
    if (std::find(extra_.begin(), extra_.end(), "--login-attempts-per-minute") == extra_.end()) {
      args.insert(args.end(), {"--login-attempts-per-minute", "100000"});
    }
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = spawn_process(std::move(args), dir_ + "/node.log");
    port_ = wait_for_port_file(port_file, pid_);
    ASSERT_GT(port_, 0) << "the node did not start; log: " << log();
  }

  // Returns the exit status (or -signal).
  int stop(int signal) {
    if (pid_ <= 0) return -1000;  // never started, or already exited (kill(-1) signals all)
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

  // Starts the node again on the same data directory, with other flags.
  void restart_with(std::vector<std::string> extra) {
    extra_ = std::move(extra);
    start();
  }

  // The exit status once the node exits by itself within `timeout_ms` (-1000 if it did not).
  int wait_exit(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1000;
  }

  std::string log() const {
    std::ifstream in(dir_ + "/node.log");
    return {std::istreambuf_iterator<char>(in), {}};
  }

  std::uint16_t port() const { return port_; }
  const std::string& dir() const { return dir_; }  // --data is dir() + "/data"
  net::HttpClient http() const { return net::HttpClient("127.0.0.1", port_); }

 private:
  std::vector<std::string> extra_;
  std::string dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// The value of a counter or gauge on the node's /metrics; 0 when it is not there.
inline std::uint64_t metric(NodeProcess& node, const std::string& name) {
  const std::string text = node.http().request("GET", "/metrics").body;
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(text.substr(at + name.size() + 2));
}

inline boost::json::object parse(const std::string& text) {
  return boost::json::parse(text).as_object();
}

struct Account {
  engine::UserId user = 0;
  engine::DeviceId device = 0;
  std::string token;
};

inline engine::UserId sign_up(NodeProcess& node, const std::string& name) {
  const auto result = node.http().request(
      "POST", "/v1/signup", R"({"name":")" + name + R"(","password":"correct horse"})");
  EXPECT_EQ(result.status, 201) << result.body;
  return parse(result.body).at("user").to_number<engine::UserId>();
}

inline Account log_in(NodeProcess& node, const std::string& name, engine::DeviceId device = 0) {
  std::string body = R"({"name":")" + name + R"(","password":"correct horse")";
  if (device != 0) body += R"(,"device":)" + std::to_string(device);
  body += "}";
  const auto result = node.http().request("POST", "/v1/login", body);
  EXPECT_EQ(result.status, 200) << result.body;
  const auto json = parse(result.body);
  return {json.at("user").to_number<engine::UserId>(),
          json.at("device").to_number<engine::DeviceId>(),
          std::string(json.at("token").as_string())};
}

inline void befriend(NodeProcess& node, const Account& a, const Account& b) {
  EXPECT_EQ(node.http()
                .request("POST", "/v1/contacts",
                         R"({"user":)" + std::to_string(b.user) + R"(,"action":"add"})", a.token)
                .status,
            200);
  EXPECT_EQ(node.http()
                .request("POST", "/v1/contacts",
                         R"({"user":)" + std::to_string(a.user) + R"(,"action":"add"})", b.token)
                .status,
            200);
}

// A connected device: connect, hello, and a Welcome back.
class Device {
 public:
  Device(NodeProcess& node, const Account& account, engine::InboxSeq cursor = 0,
         net::Encoding encoding = net::Encoding::json)
      : client_("127.0.0.1", node.port()), encoding_(encoding) {
    client_.connect(account.token);
    send(net::Hello{1, cursor});
    welcome_ = wait_for<engine::server::Welcome>();
  }

  void send(const net::ClientFrame& frame) { client_.send(frame, encoding_); }

  // Waits for the next event of type T, keeping the others (deliveries are collected).
  template <typename T>
  T wait_for(int timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto event = client_.receive(50);
      if (!event) continue;
      collect(*event);
      if (auto* typed = std::get_if<T>(&*event)) return *typed;
    }
    ADD_FAILURE() << "timed out waiting for an event";
    return T{};
  }

  // Receives for a while, acking deliveries, until `count` entries arrived in total.
  void receive_until(std::size_t count, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (entries.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto event = client_.receive(50);
      if (event) collect(*event);
    }
  }

  // Drains what arrives within `quiet_ms`.
  void settle(int quiet_ms = 300) {
    while (auto event = client_.receive(quiet_ms))
      collect(*event);
  }

  // Waits for the answer to request `id` (anything carrying that request id).
  engine::server::Event reply(engine::RequestId id, int timeout_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      for (const auto& event : others) {
        const engine::RequestId answered = std::visit(
            [](const auto& e) -> engine::RequestId {
              if constexpr (requires { e.request; }) {
                return e.request;
              } else {
                return 0;
              }
            },
            event);
        if (answered == id) return event;
      }
      if (std::chrono::steady_clock::now() >= deadline) break;
      if (auto event = client_.receive(50)) collect(*event);
    }
    ADD_FAILURE() << "no reply to request " << id;
    return engine::server::Failure{id, engine::ErrorCode::bad_request, "no reply"};
  }

  // Sends a message and waits for its SendAck.
  engine::server::SendAck send_message(engine::ChannelId channel, engine::UserId peer,
                                       const std::string& client_msg_id, const std::string& text) {
    const engine::RequestId id = next_request();
    send(engine::client::Send{id, channel, peer, client_msg_id, text});
    const auto answer = reply(id);
    const auto* ack = std::get_if<engine::server::SendAck>(&answer);
    EXPECT_NE(ack, nullptr) << "send " << client_msg_id << " was not acked";
    return ack ? *ack : engine::server::SendAck{};
  }

  engine::RequestId next_request() { return ++requests_; }
  net::WsClient& client() { return client_; }
  const engine::server::Welcome& welcome() const { return welcome_; }

  std::vector<engine::InboxEntry> entries;
  std::vector<engine::server::Event> others;

 private:
  void collect(const engine::server::Event& event) {
    if (const auto* deliver = std::get_if<engine::server::Deliver>(&event)) {
      entries.insert(entries.end(), deliver->entries.begin(), deliver->entries.end());
      send(engine::client::Ack{deliver->entries.back().inbox_seq});
    } else {
      others.push_back(event);
    }
  }

  net::WsClient client_;
  net::Encoding encoding_;
  engine::server::Welcome welcome_;
  engine::RequestId requests_ = 100;
};

}  // namespace parley::testing
