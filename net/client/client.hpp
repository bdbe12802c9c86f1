// A small synchronous client for parley nodes: HTTP calls and one WebSocket per device.
// Used by the integration tests, and by `parley client` and `parley load` later. Beast
// stays in client.cpp.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "net/wire/codec.hpp"

namespace parley::net {

struct HttpResult {
  int status = 0;
  std::string body;  // JSON text
};

class HttpClient {
 public:
  HttpClient(std::string host, std::uint16_t port);
  // One request on a fresh connection. Throws std::runtime_error when it cannot connect, and
  // when the node sends or takes nothing for 30 s.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& token = "");

 private:
  std::string host_;
  std::uint16_t port_;
};

// The server closed the WebSocket (or refused the upgrade, with the HTTP status as code).
class ConnectionClosed : public std::runtime_error {
 public:
  ConnectionClosed(int close_code, const std::string& close_reason)
      : std::runtime_error("connection closed (" + std::to_string(close_code) +
                           "): " + close_reason),
        code(close_code),
        reason(close_reason) {}
  int code;
  std::string reason;
};

class WsClient {
 public:
  WsClient(std::string host, std::uint16_t port);
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // Opens /v1/ws with `token`. Throws ConnectionClosed(401, ...) for a refused token.
  void connect(const std::string& token);
  void send(const ClientFrame& frame, Encoding encoding = Encoding::json);
  void send_raw(const std::string& bytes, bool text);
  // The next event, or nothing after `timeout_ms`. Throws ConnectionClosed once closed.
  std::optional<engine::server::Event> receive(int timeout_ms);
  // The raw bytes of the next frame (for tests of the encodings).
  std::optional<std::string> receive_raw(int timeout_ms, bool* was_text = nullptr);
  void close();
  // For `parley load`: kills the TCP connection without a close handshake.
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
