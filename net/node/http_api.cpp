#include "net/node/http_api.hpp"

#include <charconv>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <variant>

#include "net/node/auth.hpp"

namespace parley::net {

using namespace parley::engine;

Response json_response(const Request& request, http::status status, const json::value& body) {
  Response response{status, request.version()};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.keep_alive(request.keep_alive());
  response.body() = json::serialize(body);
  response.prepare_payload();
  return response;
}

Response error_response(Shared& shared, const Request& request, http::status status, ErrorCode code,
                        const std::string& message) {
  shared.metrics.count_error(std::string(to_string(code)));
  return json_response(request, status,
                       {{"error", {{"code", to_string(code)}, {"message", message}}}});
}

Response overloaded(Shared& shared, const Request& request) {
  return error_response(shared, request, http::status::service_unavailable, ErrorCode::overloaded,
                        "the node is overloaded; retry later");
}

Response bad_field(Shared& shared, const Request& request, const std::string& what) {
  return error_response(shared, request, http::status::bad_request, ErrorCode::bad_request, what);
}

Response invalid_name(Shared& shared, const Request& request) {
  return error_response(shared, request, http::status::bad_request, ErrorCode::invalid_name,
                        "a user name is 1 to 32 of a-z A-Z 0-9 _ - ., starting with a letter "
                        "or digit");
}

Response engine_error(Shared& shared, const Request& request, const Error& failure) {
  return error_response(shared, request, status_for(failure.code), failure.code, failure.message);
}

http::status status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::name_taken:
    case ErrorCode::already_member:
      return http::status::conflict;
    case ErrorCode::unauthorized:
      return http::status::unauthorized;
    case ErrorCode::not_a_member:
    case ErrorCode::not_admin:
    case ErrorCode::blocked:
    case ErrorCode::not_visible:
    case ErrorCode::not_your_message:
      return http::status::forbidden;
    case ErrorCode::unknown_user:
    case ErrorCode::unknown_channel:
    case ErrorCode::unknown_message:
      return http::status::not_found;
    case ErrorCode::overloaded:
    case ErrorCode::not_leader:
      return http::status::service_unavailable;
    default:
      return http::status::bad_request;
  }
}

std::string query_param(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return "";
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto equals = pair.find('=');
    if (pair.substr(0, equals) == name && equals != std::string_view::npos) {
      return std::string(pair.substr(equals + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "";
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::string bearer_token(const Request& request) {
  const auto header = request[http::field::authorization];
  constexpr std::string_view kPrefix = "Bearer ";
  if (header.size() > kPrefix.size() && header.substr(0, kPrefix.size()) == kPrefix) {
    return std::string(header.substr(kPrefix.size()));
  }
  return query_param(request.target(), "token");
}

std::optional<json::object> parse_body(Shared& shared, const Request& request, Reply& reply) {
  boost::system::error_code ec;
  json::value body = json::parse(request.body(), ec);
  if (ec || !body.is_object()) {
    reply(error_response(shared, request, http::status::bad_request, ErrorCode::bad_request,
                         "the body must be a JSON object"));
    return std::nullopt;
  }
  return body.as_object();
}

Field<std::string> string_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr) return {};
  if (!value->is_string()) return {true, std::nullopt};
  return {true, std::string(value->as_string())};
}

std::optional<std::uint64_t> parse_id(std::string_view text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, 10);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Field<std::uint64_t> id_field(const json::object& body, const char* key) {
  const auto* value = body.if_contains(key);
  if (value == nullptr) return {};
  if (value->is_uint64()) return {true, value->as_uint64()};
  if (value->is_int64() && value->as_int64() >= 0)
    return {true, static_cast<std::uint64_t>(value->as_int64())};
  if (value->is_string()) return {true, parse_id(value->as_string())};
  return {true, std::nullopt};
}

void with_token(Shared& shared, const Request& request, Reply reply,
                std::function<void(Txn&, const TokenRecord&)> then) {
  const std::string token = bearer_token(request);
  if (token.empty()) {
    return reply(error_response(shared, request, http::status::unauthorized,
                                ErrorCode::unauthorized, "send Authorization: Bearer TOKEN"));
  }
  const std::string hash = token_hash(token);
  const bool posted = shared.loop->post([&shared, request, reply, then, hash](Txn& txn) {
    const auto record = txn.engine().token(hash);
    if (!record || record->expires_at <= txn.now) {
      txn.after_commit.push_back([&shared, request, reply] {
        reply(error_response(shared, request, http::status::unauthorized, ErrorCode::unauthorized,
                             "the token is unknown or expired; log in"));
      });
      return;
    }
    then(txn, *record);
  });
  if (!posted) {
    reply(error_response(shared, request, http::status::service_unavailable, ErrorCode::overloaded,
                         "the node is overloaded; retry later"));
  }
}

std::optional<server::Event> handle_for_caller(Txn& txn, const TokenRecord& token,
                                               const client::Request& op) {
  std::optional<server::Event> answer;
  for (Effect& effect : txn.run(Stateless{token.user, token.device, op})) {
    auto* send = std::get_if<SendEvent>(&effect);
    // The release skips connection 0 (engine_loop.cpp), so the answer can move out.
    if (send != nullptr && send->connection == 0) answer = std::move(send->event);
  }
  return answer;
}

AccountResult account_result(std::span<const Effect> effects) {
  for (auto effect = effects.rbegin(); effect != effects.rend(); ++effect) {
    if (const auto* result = std::get_if<AccountResult>(&*effect)) return *result;
  }
  throw std::logic_error("an account input ended without its AccountResult");
}

void engine_request(Shared& shared, const Request& request, Reply reply, client::Request op,
                    std::function<json::value(const server::Event&)> render) {
  with_token(shared, request, reply,
             [&shared, request, reply, op, render](Txn& txn, const TokenRecord& token) {
               const std::optional<server::Event> answer = handle_for_caller(txn, token, op);
               txn.after_commit.push_back([&shared, request, reply, answer, render] {
                 if (answer) {
                   if (const auto* failure = std::get_if<server::Failure>(&*answer)) {
                     return reply(error_response(shared, request, status_for(failure->code),
                                                 failure->code, failure->message));
                   }
                 }
                 reply(json_response(request, http::status::ok,
                                     answer ? render(*answer) : json::value(json::object{})));
               });
             });
}

}  // namespace parley::net
