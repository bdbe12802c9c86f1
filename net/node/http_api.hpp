// The HTTP API's vocabulary, shared by the routes, the account handlers and the sessions:
// request and response types, where an answer goes (Reply), JSON bodies and error answers,
// request fields, bearer tokens, and the calls that reach the engine thread on behalf of an
// HTTP caller (with_token, engine_request).
#pragma once

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "engine/engine.hpp"
#include "net/node/engine_loop.hpp"
#include "net/node/shared.hpp"

namespace parley::net {

namespace http = boost::beast::http;
namespace json = boost::json;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;
using FileResponse = http::response<http::file_body>;

// Where an HTTP answer goes, and what a handler may ask about the caller: its address (for
// per-address limits) and whether it hung up (slow work is skipped for callers who left).
class Reply {
 public:
  template <typename F>
  requires(std::is_invocable_v<F&, Response> && !std::is_same_v<std::decay_t<F>, Reply>)
      Reply(F send)  // NOLINT(google-explicit-constructor): handlers pass lambdas
      : send_(std::make_shared<std::function<void(Response)>>(std::move(send))) {}
  Reply(std::function<void(Response)> send, std::string address, std::function<bool()> gone)
      : send_(std::make_shared<std::function<void(Response)>>(std::move(send))),
        address_(std::move(address)),
        gone_(std::move(gone)) {}

  void operator()(Response response) const { (*send_)(std::move(response)); }
  const std::string& address() const { return address_; }
  bool caller_gone() const { return gone_ && gone_(); }

 private:
  std::shared_ptr<std::function<void(Response)>> send_;
  std::string address_;
  std::function<bool()> gone_;
};

// ---- Answers -----------------------------------------------------------------------------
Response json_response(const Request& request, http::status status, const json::value& body);
// {"error": {"code", "message"}}, counted in the error metrics.
Response error_response(Shared& shared, const Request& request, http::status status,
                        engine::ErrorCode code, const std::string& message);
Response overloaded(Shared& shared, const Request& request);
Response bad_field(Shared& shared, const Request& request, const std::string& what);
Response invalid_name(Shared& shared, const Request& request);
Response engine_error(Shared& shared, const Request& request, const engine::Error& failure);
http::status status_for(engine::ErrorCode code);

// ---- Requests ----------------------------------------------------------------------------
std::string query_param(std::string_view target, std::string_view name);
std::string path_of(std::string_view target);
// From "Authorization: Bearer TOKEN", else the `token` query parameter (browsers cannot set
// headers on a WebSocket upgrade).
std::string bearer_token(const Request& request);

// The body as a JSON object, or nothing after answering 400.
std::optional<json::object> parse_body(Shared& shared, const Request& request, Reply& reply);

// A field of a request body: absent, present with the expected type, or present with another
// (which the caller refuses: a wrong type is never read as "absent").
template <typename T>
struct Field {
  bool present = false;
  std::optional<T> value;  // empty when present with the wrong type or shape
  bool invalid() const { return present && !value; }
};

Field<std::string> string_field(const json::object& body, const char* key);
// A decimal string of digits only ("7", not " 7", "+7", "7abc", "-1" or "0x7"), or a JSON
// integer in 0..2^64-1. The same rule as the WebSocket JSON frames (docs/protocol.md).
std::optional<std::uint64_t> parse_id(std::string_view text);
Field<std::uint64_t> id_field(const json::object& body, const char* key);

// ---- The engine, for an HTTP caller --------------------------------------------------------
// Resolves a bearer token on the engine thread; `then` runs there, inside the transaction,
// with the token's record, or `reply` gets 401.
void with_token(Shared& shared, const Request& request, Reply reply,
                std::function<void(Txn&, const engine::TokenRecord&)> then);

// Runs `op` for an HTTP caller as a Stateless input in the open batch. Returns the engine's
// answer to the caller (the event for connection 0, which the release skips); every other
// effect is released after the commit.
std::optional<engine::server::Event> handle_for_caller(Txn& txn, const engine::TokenRecord& token,
                                                       const engine::client::Request& op);

// The AccountResult an account input ended with, from the effects Txn::run returned.
engine::AccountResult account_result(std::span<const engine::Effect> effects);

// Runs a client request for an HTTP caller through the engine; replies with `render(event)`
// after the commit.
void engine_request(Shared& shared, const Request& request, Reply reply, engine::client::Request op,
                    std::function<json::value(const engine::server::Event&)> render);

}  // namespace parley::net
