// The HTTP routes: a table from path and method to handler, and static files for every other
// path. No sockets here: answer() is a function of the request, and answers through `reply`
// (the HTTP session's, or InProcessNode's for fuzzing and tests).
#include "net/node/routes.hpp"

#include "net/node/snapshot.hpp"

#include <cstdio>
#include <map>
#include <mutex>
#include <utility>
#include <variant>

#include "cluster/replica.hpp"
#include "net/node/accounts.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/engine_loop.hpp"
#include "net/node/static_files.hpp"

namespace parley::net {

using namespace parley::engine;

namespace {

namespace beast = boost::beast;

constexpr std::string_view kUsersPrefix = "/v1/users/";

json::value render_contacts(const server::Event& event) {
  json::array contacts;
  if (const auto* list = std::get_if<server::ContactList>(&event)) {
    for (const auto& contact : list->contacts) {
      contacts.push_back({{"user", contact.user},
                          {"name", contact.name},
                          {"state", contact.state == ContactState::blocked ? "blocked" : "contact"},
                          {"mutual", contact.mutual}});
    }
  }
  return {{"contacts", contacts}};
}

// POST /v1/contacts {"user" or "name", "action"}
void change_contact(Shared& shared, const Request& request, Reply reply) {
  auto body = parse_body(shared, request, reply);
  if (!body) return;
  const auto action = string_field(*body, "action");
  const std::map<std::string, client::ContactAction> actions{
      {"add", client::ContactAction::add},
      {"remove", client::ContactAction::remove},
      {"block", client::ContactAction::block},
      {"unblock", client::ContactAction::unblock}};
  const auto chosen = actions.find(action.value.value_or(action.present ? "" : "add"));
  const auto user = id_field(*body, "user");
  const auto name = string_field(*body, "name");
  if (chosen == actions.end() || user.invalid() || name.invalid() || (!user.value && !name.value)) {
    return reply(bad_field(shared, request,
                           "send {\"user\": ID or \"name\": NAME, \"action\": "
                           "\"add|remove|block|unblock\"}"));
  }
  if (name.value && !valid_user_name(*name.value)) return reply(invalid_name(shared, request));
  const client::ContactAction contact_action = chosen->second;
  with_token(shared, request, reply,
             [&shared, request, reply, user = user.value, name = name.value, contact_action](
                 Txn& txn, const TokenRecord& token) {
               const auto target = user ? user : txn.engine().user_by_name(*name);
               if (!target) {
                 txn.after_commit.push_back([&shared, request, reply] {
                   reply(error_response(shared, request, http::status::not_found,
                                        ErrorCode::unknown_user, "no such user"));
                 });
                 return;
               }
               const auto answer =
                   handle_for_caller(txn, token, client::ChangeContact{1, contact_action, *target});
               std::optional<server::Failure> failure;
               if (answer) {
                 if (const auto* f = std::get_if<server::Failure>(&*answer)) failure = *f;
               }
               const UserId target_id = *target;
               txn.after_commit.push_back([&shared, request, reply, failure, target_id] {
                 if (failure) {
                   return reply(error_response(shared, request, status_for(failure->code),
                                               failure->code, failure->message));
                 }
                 reply(json_response(request, http::status::ok, {{"user", target_id}}));
               });
             });
}

// GET /v1/users/NAME
void find_user(Shared& shared, const Request& request, Reply reply) {
  const std::string name = path_of(request.target()).substr(kUsersPrefix.size());
  if (!valid_user_name(name)) {
    return reply(error_response(shared, request, http::status::not_found, ErrorCode::unknown_user,
                                "no user with that name"));
  }
  with_token(shared, request, reply, [&shared, request, reply, name](Txn& txn, const TokenRecord&) {
    const auto user = txn.engine().user_by_name(name);
    const auto record = user ? txn.engine().user(*user) : std::nullopt;
    txn.after_commit.push_back([&shared, request, reply, user, record, name] {
      if (!user) {
        return reply(error_response(shared, request, http::status::not_found,
                                    ErrorCode::unknown_user, "no user named '" + name + "'"));
      }
      // The spelling the user chose, whatever case the lookup used.
      reply(json_response(request, http::status::ok,
                          {{"user", *user}, {"name", record ? record->name : name}}));
    });
  });
}

// The page at "/" when the node runs without a web client (--web-root).
Response placeholder_page(const Request& request) {
  Response response{http::status::ok, request.version()};
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.body() =
      "<!doctype html><title>parley</title><h1>parley node</h1><p>The web client is not "
      "installed (--web-root). API: <code>POST /v1/signup</code>, <code>POST /v1/login"
      "</code>, <code>GET /v1/discover</code>, WebSocket <code>/v1/ws</code>; see "
      "docs/protocol.md.</p>";
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

// GET or HEAD of a path outside the API: a file under the web root (static_files.hpp),
// streamed from its descriptor, never read whole into memory.
std::variant<Response, FileResponse> static_response(Shared& shared, const Request& request,
                                                     const std::string& path) {
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    Response refused = error_response(shared, request, http::status::method_not_allowed,
                                      ErrorCode::bad_request, "use GET or HEAD for " + path);
    refused.set(http::field::allow, "GET, HEAD");
    return refused;
  }
  StaticFile file = open_static_file(shared.config.web_root, path);
  if (file.fd < 0) {
    if (path == "/") return placeholder_page(request);
    return error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                          "no route " + path);
  }
  beast::file handle;
  handle.native_handle(file.fd);  // owns it from here: closed with the response
  FileResponse response{http::status::ok, request.version()};
  beast::error_code ec;
  response.body().reset(std::move(handle), ec);
  if (ec) {
    return error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                          "no route " + path);
  }
  response.set(http::field::content_type, file.content_type);
  response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::cache_control, "no-cache");
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

// The API's paths; every other path is a static file.
bool is_api_path(const std::string& path) {
  return path == "/healthz" || path == "/metrics" || path.rfind("/v1/", 0) == 0 || path == "/v1";
}

// ---- The route table ---------------------------------------------------------------------
Response text_response(const Request& request, std::string content_type, std::string body) {
  Response response{http::status::ok, request.version()};
  response.set(http::field::content_type, content_type);
  response.body() = std::move(body);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

void healthz(Shared&, const Request& request, Reply reply) {
  reply(json_response(request, http::status::ok, {{"status", "ok"}}));
}

void metrics_page(Shared& shared, const Request& request, Reply reply) {
  reply(text_response(request, "text/plain; version=0.0.4", shared.metrics.render()));
}

Response not_leader(Shared& shared, const Request& request) {
  const std::string leader = shared.cluster->leader_url();
  shared.metrics.count_error("not_leader");
  return json_response(
      request, http::status::service_unavailable,
      {{"error",
        {{"code", "not_leader"},
         {"message", leader.empty() ? "no node leads the cluster now; retry /v1/discover shortly"
                                    : "this node does not lead the cluster; use /v1/discover"},
         {"leader", leader}}}});
}

// A single node names itself; a cluster node names the leader (any node answers).
void discover(Shared& shared, const Request& request, Reply reply) {
  if (shared.cluster == nullptr) {
    return reply(json_response(request, http::status::ok, {{"websocket", shared.discover_url}}));
  }
  const std::string best = shared.cluster->best_gateway_url();
  if (best.empty()) return reply(not_leader(shared, request));
  json::array gateways;
  for (const std::string& url : shared.cluster->gateway_urls())
    gateways.emplace_back(url);
  reply(json_response(request, http::status::ok,
                      {{"websocket", best},
                       {"leader", shared.cluster->leader_url()},
                       {"gateways", std::move(gateways)}}));
}

// GET /v1/cluster: this node's view, and a digest of its store for comparing replicas. The
// digest reads the whole store on the engine thread, so it is computed at most once a
// second; callers in between get the last one (with the applied index it was taken at).
void cluster_state(Shared& shared, const Request& request, Reply reply) {
  if (shared.cluster == nullptr) {
    return reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                                "this node runs alone (no --etcd)"));
  }
  static std::mutex mutex;
  static std::int64_t computed_at_us = -1'000'000'000;
  static std::uint64_t applied = 0;
  static std::string digest;
  const std::string serve_role(host::to_string(shared.cluster->role()));
  if (shared.loop == nullptr) {  // a gateway: no replica to describe
    return reply(json_response(request, http::status::ok,
                               {{"node", shared.cluster->name()},
                                {"role", "gateway"},
                                {"serve_role", serve_role},
                                {"leader", shared.cluster->leader_name()}}));
  }
  const auto answer = [&shared, request, reply, serve_role](std::uint64_t index,
                                                            const std::string& hash) {
    reply(json_response(request, http::status::ok,
                        {{"node", shared.cluster->name()},
                         {"role", shared.serving ? "leader" : "follower"},
                         {"serve_role", serve_role},
                         {"leader", shared.cluster->leader_name()},
                         {"applied_index", index},
                         {"state_digest", hash}}));
  };
  {
    std::lock_guard lock(mutex);
    if (steady_now_us() - computed_at_us < 1'000'000) return answer(applied, digest);
    computed_at_us = steady_now_us();
  }
  shared.loop->post_read([answer](const Engine&, Store& store) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(cluster::state_digest(store)));
    std::lock_guard lock(mutex);
    applied = cluster::applied_index_of(store);
    digest = hex;
    answer(applied, digest);
  });
}

// GET /v1/contacts
void list_contacts(Shared& shared, const Request& request, Reply reply) {
  engine_request(shared, request, std::move(reply), client::ListContacts{1}, render_contacts);
}

using Handler = void (*)(Shared&, const Request&, Reply);

struct Route {
  std::string_view path;
  bool prefix;      // `path` is a prefix of the request's (/v1/users/NAME)
  http::verb verb;  // http::verb::unknown: any method; GET also answers HEAD
  Handler handle;
};

// Every API route. A path outside these under /v1/ is a 404; a known path with a method it
// does not take is a 405 listing the methods it does.
const Route kRoutes[] = {
    {"/healthz", false, http::verb::unknown, healthz},
    {"/metrics", false, http::verb::unknown, metrics_page},
    {"/v1/discover", false, http::verb::unknown, discover},
    {"/v1/cluster", false, http::verb::get, cluster_state},
    {"/v1/signup", false, http::verb::post, sign_up},
    {"/v1/login", false, http::verb::post, log_in},
    {"/v1/logout", false, http::verb::post,
     [](Shared& shared, const Request& request, Reply reply) {
       log_out(shared, request, std::move(reply), false);
     }},
    {"/v1/logout/all", false, http::verb::post,
     [](Shared& shared, const Request& request, Reply reply) {
       log_out(shared, request, std::move(reply), true);
     }},
    {"/v1/password", false, http::verb::post, change_password},
    {"/v1/profile", false, http::verb::get, profile},
    {"/v1/contacts", false, http::verb::get, list_contacts},
    {"/v1/contacts", false, http::verb::post, change_contact},
    {kUsersPrefix, true, http::verb::get, find_user},
};

bool takes(http::verb verb, http::verb method) {
  return verb == http::verb::unknown || method == verb ||
         (verb == http::verb::get && method == http::verb::head);
}

// What a cluster node answers whether or not it serves clients.
bool answered_by_any_node(const std::string& path) {
  return path == "/healthz" || path == "/metrics" || path == "/v1/discover" ||
         path == "/v1/cluster";
}

void route(Shared& shared, const Request& request, const Reply& reply) {
  ++shared.metrics.http_requests;
  const std::string path = path_of(request.target());
  if (!answered_by_any_node(path) && shared.cluster != nullptr && !shared.serving) {
    // A replica-only node is no gateway: clients are pointed at discovery instead.
    if (shared.cluster->role() == host::NodeRole::replica) {
      return reply(not_leader(shared, request));
    }
    return forward_to_leader(shared, request, reply);
  }
  const auto method = request.method();
  std::string verbs;  // "GET or POST", for a 405
  std::string allow;  // "GET, HEAD, POST"
  for (const Route& entry : kRoutes) {
    const bool matches = entry.prefix ? path.rfind(entry.path, 0) == 0 : path == entry.path;
    if (!matches) continue;
    if (takes(entry.verb, method)) return entry.handle(shared, request, reply);
    const std::string verb(http::to_string(entry.verb));
    verbs += (verbs.empty() ? "" : " or ") + verb;
    allow += (allow.empty() ? "" : ", ") + verb + (entry.verb == http::verb::get ? ", HEAD" : "");
  }
  if (!allow.empty()) {
    Response refused = error_response(shared, request, http::status::method_not_allowed,
                                      ErrorCode::bad_request, "use " + verbs + " for " + path);
    refused.set(http::field::allow, allow);
    return reply(std::move(refused));
  }
  reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                       "no route " + path));
}

}  // namespace

Response not_leader_response(Shared& shared, const Request& request) {
  return not_leader(shared, request);
}

void answer(Shared& shared, const Request& request, const Reply& reply,
            const std::function<void(FileResponse)>& reply_file) {
  const std::string path = path_of(request.target());
  if (path == "/v1/cluster/snapshot" && request.method() == http::verb::get) {
    ++shared.metrics.http_requests;
    if (shared.snapshots == nullptr) {
      return reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                                  shared.cluster != nullptr ? "a gateway holds no store"
                                                            : "this node runs alone (no --etcd)"));
    }
    return shared.snapshots->serve(shared, request, reply, reply_file);
  }
  if (is_api_path(path)) return route(shared, request, reply);
  ++shared.metrics.http_requests;
  auto response = static_response(shared, request, path);
  if (auto* file = std::get_if<FileResponse>(&response)) {
    if (request.method() != http::verb::head) return reply_file(std::move(*file));
    Response headers{std::move(file->base())};  // the descriptor closes with `response`
    return reply(std::move(headers));
  }
  reply(std::move(std::get<Response>(response)));
}

}  // namespace parley::net
