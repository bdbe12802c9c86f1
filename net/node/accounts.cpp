// The account handlers: sign-up, login, logout, password change and the caller's profile
// (docs/protocol.md, "Accounts"). Passwords are hashed and checked on the hashing thread,
// never on an I/O or engine thread; what reads the store runs as an engine task, every
// write is an engine input (SignUp, IssueToken, SignOut, ChangePassword: engine/engine.hpp)
// whose AccountResult the task reads, and every answer goes out after its batch commits.
#include "net/node/accounts.hpp"

#include "net/node/cluster_member.hpp"

#include <utility>
#include <variant>
#include <vector>

#include "net/node/auth.hpp"

namespace parley::net {

using namespace parley::engine;

namespace {

// Password lengths in bytes (docs/protocol.md, "Accounts").
constexpr std::size_t kMinPasswordBytes = 8;
constexpr std::size_t kMaxPasswordBytes = 1024;

// Stores a password hash for `token`'s user and signs every other device out, if the token
// is still live when the engine gets to it.
void store_new_password(Shared& shared, const Request& request, const Reply& reply,
                        const TokenRecord& caller, const std::string& hash) {
  const bool posted = shared.loop->post([&shared, request, reply, caller, hash](Txn& txn) {
    const auto live = txn.engine().token(token_hash(bearer_token(request)));
    if (!live || live->user != caller.user || live->device != caller.device ||
        live->expires_at <= txn.now) {
      txn.after_commit.push_back([&shared, request, reply] {
        reply(error_response(shared, request, http::status::unauthorized, ErrorCode::unauthorized,
                             "the token is unknown or expired; log in"));
      });
      return;
    }
    const AccountResult result =
        account_result(txn.run(ChangePassword{caller.user, caller.device, hash}));
    if (result.error) {
      txn.after_commit.push_back([&shared, request, reply, failure = *result.error] {
        reply(engine_error(shared, request, failure));
      });
      return;
    }
    const std::size_t signed_out = result.signed_out;
    txn.after_commit.push_back([request, reply, signed_out] {
      reply(json_response(request, http::status::ok, {{"devices_signed_out", signed_out}}));
    });
  });
  if (!posted) reply(overloaded(shared, request));
}

// Refuses the attempt when the caller's address or the account is throttled (429 with
// Retry-After, net/node/login_guard.hpp).
bool throttled(Shared& shared, const Request& request, const Reply& reply,
               const std::string& account) {
  const auto wait_s = shared.throttle.admit(reply.address(), account, steady_now_us());
  if (!wait_s) return false;
  ++shared.metrics.logins_throttled;
  Response refused =
      error_response(shared, request, http::status::too_many_requests, ErrorCode::rate_limited,
                     "too many attempts; retry in " + std::to_string(*wait_s) + " s");
  refused.set(http::field::retry_after, std::to_string(*wait_s));
  reply(std::move(refused));
  return true;
}

// Runs `job` on the hashing thread unless its queue is full (503 with Retry-After). The job
// is skipped when the caller hung up while it waited: argon2 only for clients still there.
// `account` is the throttle slot the attempt holds (empty: none), given back if no verdict
// comes.
void hash_for(Shared& shared, const Request& request, const Reply& reply,
              const std::string& account, std::function<void()> job) {
  const bool queued = shared.hashing.try_post([&shared, reply, account, job = std::move(job)] {
    if (reply.caller_gone()) {
      ++shared.metrics.hash_jobs_skipped;
      shared.throttle.released(account);
      return;
    }
    job();
  });
  if (queued) return;
  shared.throttle.released(account);
  ++shared.metrics.hash_queue_rejections;
  Response refused = error_response(shared, request, http::status::service_unavailable,
                                    ErrorCode::overloaded, "too many logins at once; retry later");
  refused.set(http::field::retry_after, "1");
  reply(std::move(refused));
}

struct Credentials {
  std::string name;
  std::string password;
};

// {"name", "password"} of a sign-up or login, validated before anything is looked up.
std::optional<Credentials> read_credentials(Shared& shared, const Request& request,
                                            const Reply& reply, const json::object& body) {
  const auto name = string_field(body, "name");
  const auto password = string_field(body, "password");
  if (!name.value || !password.value) {
    reply(bad_field(shared, request, "send {\"name\": ..., \"password\": ...} as strings"));
    return std::nullopt;
  }
  if (!valid_user_name(*name.value)) {
    reply(invalid_name(shared, request));
    return std::nullopt;
  }
  if (password.value->size() > kMaxPasswordBytes) {
    reply(error_response(shared, request, http::status::bad_request, ErrorCode::weak_password,
                         "a password is 8 to 1024 bytes"));
    return std::nullopt;
  }
  return Credentials{*name.value, *password.value};
}

// Issues a token for a device (an existing one of the user's, or a new one). An existing
// device's older tokens stop working and its open socket closes: one live token per device.
//
// `verified_hash` is the credential the password was checked against, off the engine thread:
// if it changed since (a password change won the race), no token is issued.
void issue_token(Shared& shared, const Request& request, Reply reply, UserId user,
                 std::optional<std::uint64_t> device, std::string label,
                 std::string verified_hash) {
  const bool posted = shared.loop->post([&shared, request, reply, user, device, label,
                                         verified_hash](Txn& txn) {
    // The token stays in the node; only its hash enters the input (and the store).
    const std::string token = new_token();
    const TimeUs expires = txn.now + shared.config.token_ttl_hours * 3'600'000'000LL;
    const AccountResult result = account_result(txn.run(
        IssueToken{user, device.value_or(0), label, verified_hash, token_hash(token), expires}));
    if (result.error) {
      txn.after_commit.push_back([&shared, request, reply, failure = *result.error] {
        switch (failure.code) {
          case ErrorCode::unauthorized:
            return reply(error_response(shared, request, http::status::unauthorized,
                                        ErrorCode::unauthorized, "wrong name or password"));
          default:
            return reply(engine_error(shared, request, failure));
        }
      });
      return;
    }
    txn.after_commit.push_back([&shared, request, reply, user, id = result.device, token, expires] {
      // Where to open the WebSocket: this node, or the cluster's best gateway.
      std::string websocket = shared.discover_url;
      if (shared.cluster != nullptr) {
        const std::string best = shared.cluster->best_gateway_url();
        if (!best.empty()) websocket = best;
      }
      reply(json_response(request, http::status::ok,
                          {{"user", user},
                           {"device", id},
                           {"token", token},
                           {"expires_at_us", expires},
                           {"websocket", websocket}}));
    });
  });
  if (!posted) reply(overloaded(shared, request));
}

}  // namespace

void sign_up(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto credentials = read_credentials(shared, request, reply, *body);
  if (!credentials) return;
  if (credentials->password.size() < kMinPasswordBytes) {
    return reply(error_response(shared, request, http::status::bad_request,
                                ErrorCode::weak_password, "a password is 8 to 1024 bytes"));
  }
  if (throttled(shared, request, reply, "")) return;  // only the address's bucket
  hash_for(shared, request, reply, "", [&shared, request, reply, credentials = *credentials] {
    const std::string hash = hash_password(credentials.password, shared.config.password);
    const std::string name = credentials.name;
    const bool posted = shared.loop->post([&shared, request, reply, name, hash](Txn& txn) {
      const AccountResult result = account_result(txn.run(SignUp{name, hash}));
      if (result.error) {
        txn.after_commit.push_back([&shared, request, reply, failure = *result.error] {
          reply(engine_error(shared, request, failure));
        });
        return;
      }
      const UserId user = result.user;
      txn.after_commit.push_back([request, reply, user, name] {
        reply(json_response(request, http::status::created, {{"user", user}, {"name", name}}));
      });
    });
    if (!posted) reply(overloaded(shared, request));
  });
}

void log_in(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto credentials = read_credentials(shared, request, reply, *body);
  if (!credentials) return;
  const auto device = id_field(*body, "device");
  const auto label = string_field(*body, "device_label");
  if (device.invalid() || label.invalid()) {
    return reply(bad_field(shared, request,
                           "\"device\" is a decimal id string or number, \"device_label\" a "
                           "string"));
  }
  const std::string account = fold_user_name(credentials->name);
  if (throttled(shared, request, reply, account)) return;
  const bool posted = shared.loop->post([&shared, request, reply, credentials = *credentials,
                                         device = device.value, account,
                                         label = label.value.value_or("web")](Txn& txn) {
    const auto user = txn.engine().user_by_name(credentials.name);
    const auto hash = user ? txn.engine().credential(*user) : std::nullopt;
    txn.after_commit.push_back([&shared, request, reply, user, hash, credentials, device, label,
                                account] {
      hash_for(shared, request, reply, account,
               [&shared, request, reply, user, hash, credentials, device, label, account] {
                 // Unknown names cost a hash too, so timing does not tell which names exist.
                 const bool matches =
                     verify_password(hash.value_or(shared.dummy_hash), credentials.password);
                 if (!hash || !matches) {
                   shared.throttle.failed(account, steady_now_us());
                   return reply(error_response(shared, request, http::status::unauthorized,
                                               ErrorCode::unauthorized, "wrong name or password"));
                 }
                 shared.throttle.succeeded(account);
                 issue_token(shared, request, reply, *user, device, label, *hash);
               });
    });
  });
  if (!posted) {
    shared.throttle.released(account);
    reply(overloaded(shared, request));
  }
}

// POST /v1/logout: this token's device is signed out; POST /v1/logout/all: every device of
// the user. Either way the tokens stop working and their sockets close at once.
void log_out(Shared& shared, const Request& request, Reply reply, bool everywhere) {
  with_token(shared, request, reply,
             [request, reply, everywhere](Txn& txn, const TokenRecord& token) {
               SignOut input{token.user, {}, everywhere};
               if (!everywhere) input.devices.push_back(token.device);
               const AccountResult result = account_result(txn.run(input));
               // The token's device is its user's: a SignOut of it is never refused.
               const std::size_t count = result.signed_out;
               txn.after_commit.push_back([request, reply, count] {
                 reply(json_response(request, http::status::ok, {{"devices_signed_out", count}}));
               });
             });
}

// POST /v1/password {"old_password", "new_password"}: every other device is signed out; the
// caller's token keeps working.
void change_password(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto old_password = string_field(*body, "old_password");
  const auto new_password = string_field(*body, "new_password");
  if (!old_password.value || !new_password.value) {
    return reply(bad_field(shared, request,
                           "send {\"old_password\": ..., \"new_password\": ...} as strings"));
  }
  if (new_password.value->size() < kMinPasswordBytes ||
      new_password.value->size() > kMaxPasswordBytes ||
      old_password.value->size() > kMaxPasswordBytes) {
    return reply(error_response(shared, request, http::status::bad_request,
                                ErrorCode::weak_password, "a password is 8 to 1024 bytes"));
  }
  with_token(
      shared, request, reply,
      [&shared, request, reply, old_password = *old_password.value,
       new_password = *new_password.value](Txn& txn, const TokenRecord& token) {
        const auto hash = txn.engine().credential(token.user);
        const auto user = txn.engine().user(token.user);
        const std::string account = fold_user_name(user ? user->name : "");
        txn.after_commit.push_back(
            [&shared, request, reply, hash, token, account, old_password, new_password] {
              if (throttled(shared, request, reply, account)) return;
              hash_for(shared, request, reply, account,
                       [&shared, request, reply, hash, token, account, old_password, new_password] {
                         if (!hash || !verify_password(*hash, old_password)) {
                           shared.throttle.failed(account, steady_now_us());
                           return reply(error_response(shared, request, http::status::unauthorized,
                                                       ErrorCode::unauthorized, "wrong password"));
                         }
                         shared.throttle.succeeded(account);
                         store_new_password(shared, request, reply, token,
                                            hash_password(new_password, shared.config.password));
                       });
            });
      });
}

void profile(Shared& shared, const Request& request, Reply reply) {
  with_token(shared, request, reply, [request, reply](Txn& txn, const TokenRecord& token) {
    const auto user = txn.engine().user(token.user);
    json::array devices;
    for (DeviceId id : txn.engine().devices_of(token.user)) {
      const auto device = txn.engine().device(id);
      devices.push_back({{"device", id}, {"label", device ? device->label : ""}});
    }
    json::value body = {{"user", token.user},
                        {"name", user ? user->name : ""},
                        {"created_at_us", user ? user->created_at : 0},
                        {"device", token.device},
                        {"devices", devices}};
    txn.after_commit.push_back(
        [request, reply, body] { reply(json_response(request, http::status::ok, body)); });
  });
}

}  // namespace parley::net
