// `parley client`: the subcommand, its flags and the --server address. The client itself is
// TerminalClient (cli/client_impl.hpp).
#include "cli/client_command.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "cli/client_impl.hpp"

namespace parley::cli {
namespace {

using detail::ClientOptions;
using detail::kExitRefused;
using detail::ServerAddress;
using detail::TerminalClient;

// Resolves a host name, preferring IPv4: a node listening on 127.0.0.1 is not reachable at
// ::1, which "localhost" often resolves to first.
std::optional<std::string> resolve_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) return std::nullopt;
  const addrinfo* chosen = found;
  for (const addrinfo* item = found; item != nullptr; item = item->ai_next) {
    if (item->ai_family == AF_INET) {
      chosen = item;
      break;
    }
  }
  std::optional<std::string> address;
  char text[INET6_ADDRSTRLEN] = {};
  if (chosen != nullptr && chosen->ai_family == AF_INET) {
    const auto* ipv4 = reinterpret_cast<const sockaddr_in*>(chosen->ai_addr);
    if (inet_ntop(AF_INET, &ipv4->sin_addr, text, sizeof text) != nullptr) address = text;
  } else if (chosen != nullptr && chosen->ai_family == AF_INET6) {
    const auto* ipv6 = reinterpret_cast<const sockaddr_in6*>(chosen->ai_addr);
    if (inet_ntop(AF_INET6, &ipv6->sin6_addr, text, sizeof text) != nullptr) address = text;
  }
  freeaddrinfo(found);
  return address;
}

// "HOST:PORT" or "[IPV6]:PORT".
std::optional<ServerAddress> parse_server(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  std::uint16_t port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0)
    return std::nullopt;
  const auto address = resolve_host(host);
  if (!address) return std::nullopt;
  return ServerAddress{*address, port};
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
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  command->add_option("--encoding", options->encoding, "Frame encoding")
      ->check(CLI::IsMember({"json", "binary"}))
      ->capture_default_str();
  command->callback([options] {
    if (!options->password_env.empty()) {
      const char* value = std::getenv(options->password_env.c_str());
      if (value == nullptr) {
        std::cerr << "parley client: $" << options->password_env << " is not set\n";
        std::exit(kExitRefused);
      }
      options->password = value;
    }
    if (options->password.empty()) {
      std::cerr << "parley client: give --password or --password-env\n";
      std::exit(kExitRefused);
    }
    const auto address = parse_server(options->server);
    if (!address) {
      std::cerr << "parley client: --server takes HOST:PORT with a host that resolves, not '"
                << options->server << "'\n";
      std::exit(kExitRefused);
    }
    TerminalClient client(*options, *address);
    std::exit(client.run());
  });
}

}  // namespace parley::cli
