#include "net/client/client.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <sys/socket.h>
#include <sys/time.h>

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

}  // namespace

HttpClient::HttpClient(std::string host, std::uint16_t port)
    : host_(std::move(host)), port_(port) {}

HttpResult HttpClient::request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& token) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(asio::ip::make_address(host_), port_));
  // The blocking reads and writes below ignore Beast's timers: the socket's own timeouts
  // keep a node that accepts and then stalls from holding the caller for ever.
  const timeval limit{30, 0};
  ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(stream.socket().native_handle(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, host_);
  if (!token.empty()) request.set(http::field::authorization, "Bearer " + token);
  if (!body.empty()) request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return HttpResult{static_cast<int>(response.result_int()), response.body()};
}

struct WsClient::Impl {
  Impl(std::string h, std::uint16_t p) : host(std::move(h)), port(p), ws(io) {}
  std::string host;
  std::uint16_t port;
  asio::io_context io;
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buffer;
  bool reading = false;  // an async_read is outstanding
  bool ready = false;    // it completed; `error` and `buffer` hold the result
  beast::error_code error;
  bool closed = false;
};

WsClient::WsClient(std::string host, std::uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(host), port)) {}

WsClient::~WsClient() {
  if (!impl_->closed) {
    beast::error_code ignored;
    impl_->ws.next_layer().close(ignored);
  }
}

void WsClient::connect(const std::string& token) {
  impl_->ws.next_layer().connect(tcp::endpoint(asio::ip::make_address(impl_->host), impl_->port));
  impl_->ws.next_layer().set_option(tcp::no_delay(true));  // small frames: no Nagle delay
  websocket::response_type response;
  beast::error_code ec;
  impl_->ws.handshake(response, impl_->host, "/v1/ws?token=" + token, ec);
  if (ec) {
    impl_->closed = true;
    throw ConnectionClosed(static_cast<int>(response.result_int()),
                           response.body().empty() ? ec.message() : response.body());
  }
  impl_->ws.read_message_max(64ull << 20);
}

void WsClient::send(const ClientFrame& frame, Encoding encoding) {
  send_raw(encode_client_frame(frame, encoding), encoding == Encoding::json);
}

void WsClient::send_raw(const std::string& bytes, bool text) {
  impl_->ws.text(text);
  beast::error_code ec;
  impl_->ws.write(asio::buffer(bytes), ec);
  if (ec) throw ConnectionClosed(0, "write failed: " + ec.message());
}

std::optional<std::string> WsClient::receive_raw(int timeout_ms, bool* was_text) {
  Impl& s = *impl_;
  if (s.closed)
    throw ConnectionClosed(static_cast<int>(s.ws.reason().code),
                           std::string(s.ws.reason().reason.data(), s.ws.reason().reason.size()));
  if (!s.reading) {
    s.reading = true;
    s.ready = false;
    s.ws.async_read(s.buffer, [&s](beast::error_code ec, std::size_t) {
      s.error = ec;
      s.ready = true;
    });
  }
  s.io.restart();
  s.io.run_for(std::chrono::milliseconds(timeout_ms));
  if (!s.ready) return std::nullopt;  // the read stays outstanding for the next call
  s.reading = false;
  if (s.error) {
    s.closed = true;
    const auto reason = s.ws.reason();
    throw ConnectionClosed(static_cast<int>(reason.code),
                           reason.reason.empty()
                               ? s.error.message()
                               : std::string(reason.reason.data(), reason.reason.size()));
  }
  if (was_text != nullptr) *was_text = s.ws.got_text();
  std::string bytes = beast::buffers_to_string(s.buffer.data());
  s.buffer.consume(s.buffer.size());
  return bytes;
}

std::optional<engine::server::Event> WsClient::receive(int timeout_ms) {
  bool text = true;
  auto bytes = receive_raw(timeout_ms, &text);
  if (!bytes) return std::nullopt;
  auto decoded = decode_server_event(*bytes, text ? Encoding::json : Encoding::binary);
  if (const auto* error = std::get_if<DecodeError>(&decoded)) {
    throw std::runtime_error("undecodable server frame: " + error->message);
  }
  return std::get<engine::server::Event>(std::move(decoded));
}

void WsClient::close() {
  if (impl_->closed) return;
  beast::error_code ec;
  impl_->ws.close(websocket::close_code::normal, ec);
  impl_->closed = true;
}

void WsClient::abort() {
  beast::error_code ignored;
  impl_->ws.next_layer().close(ignored);
  impl_->closed = true;
}

}  // namespace parley::net
