#include "net/client/push_gateway.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace parley::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

struct Gateway {
  const PushGatewayServerOptions& options;
  std::ostream& log;
  std::uint64_t requests = 0;
  std::set<std::uint64_t> delivered_ids;

  http::response<http::string_body> answer(const http::request<http::string_body>& request) {
    ++requests;
    http::response<http::string_body> response{http::status::ok, request.version()};
    response.set(http::field::content_type, "application/json");
    boost::system::error_code ec;
    const json::value push = json::parse(request.body(), ec);
    const json::object* object = ec ? nullptr : push.if_object();
    int status = 200;
    std::string body = R"({"ok":true})";
    if (object == nullptr || !object->contains("id")) {
      status = 400;
      body = R"({"error":"bad_request"})";
    } else if (requests <= options.fail_first) {
      status = options.fail_status;
      body = R"({"error":"unavailable"})";
    } else if (object->contains("token") && object->at("token").is_string() &&
               options.dead_tokens.contains(std::string(object->at("token").as_string()))) {
      status = 410;
      body = R"({"error":"dead_token"})";
    }
    bool duplicate = false;
    if (status == 200)
      duplicate = !delivered_ids.insert(object->at("id").to_number<std::uint64_t>()).second;
    json::object line{{"request", requests}, {"status", status}, {"duplicate", duplicate}};
    line["push"] = ec ? json::value(request.body()) : push;
    log << json::serialize(line) << std::endl;
    response.result(static_cast<http::status>(status));
    response.body() = body;
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    return response;
  }
};

void serve_connection(tcp::socket socket, Gateway& gateway) {
  beast::flat_buffer buffer;
  beast::error_code ec;
  while (true) {
    http::request<http::string_body> request;
    http::read(socket, buffer, request, ec);
    if (ec) return;
    auto response = gateway.answer(request);
    http::write(socket, response, ec);
    if (ec || !response.keep_alive()) return;
  }
}

}  // namespace

int run_push_gateway(const PushGatewayServerOptions& options) {
  const auto colon = options.listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "push-gateway: --listen wants HOST:PORT\n");
    return 78;
  }
  asio::io_context io;
  tcp::acceptor acceptor(io);
  try {
    const tcp::endpoint endpoint(
        asio::ip::make_address(options.listen.substr(0, colon)),
        static_cast<std::uint16_t>(std::stoul(options.listen.substr(colon + 1))));
    acceptor.open(endpoint.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(endpoint);
    acceptor.listen();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "push-gateway: cannot listen on %s: %s\n", options.listen.c_str(),
                 error.what());
    return 78;
  }
  std::ofstream file;
  if (!options.log.empty()) file.open(options.log, std::ios::app);
  Gateway gateway{options, options.log.empty() ? std::cout : file, 0, {}};
  const auto port = acceptor.local_endpoint().port();
  if (!options.port_file.empty()) {
    std::ofstream(options.port_file + ".tmp") << port << "\n";
    std::filesystem::rename(options.port_file + ".tmp", options.port_file);
  }
  std::fprintf(stderr, "push-gateway: listening on http://%s:%u/\n",
               options.listen.substr(0, colon).c_str(), port);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](beast::error_code, int) {
    beast::error_code ignored;
    acceptor.close(ignored);
  });
  // One connection at a time is plenty for a development gateway.
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      serve_connection(std::move(socket), gateway);
      accept();
    });
  };
  accept();
  io.run();
  return 0;
}

}  // namespace parley::net
