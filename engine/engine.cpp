// The dispatch: each input to its handler, each client request to its domain's handle()
// (engine/context.hpp lists them and the files they live in).
#include "engine/engine.hpp"

#include <algorithm>

#include "engine/context.hpp"

namespace parley::engine {

std::string_view to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::logged_out:
      return "logged_out";
    case CloseReason::replaced:
      return "replaced by a newer connection of the same device";
    case CloseReason::unknown_device:
      return "unknown_device";
    case CloseReason::invalid_cursor:
      return "invalid_cursor";
  }
  return "unknown";
}

namespace detail {

State::State(Store& the_store, EngineConfig the_config)
    : store(the_store),
      config(the_config),
      records(the_store, the_config.check_invariants),
      presence(the_config.presence_timeout_us),
      away(the_store) {
  presence.note_changes(the_config.durable_sessions);
}

namespace {

// Runs `request` in `context`: one handle() overload per request type, so a request type
// without a handler fails to compile here.
void dispatch(Context& context, const client::Request& request) {
  std::visit([&](const auto& typed) { handle(context, typed); }, request);
}

Effects on_received(State& state, const Received& input, TimeUs now) {
  Effects out;
  const auto found = state.connections.find(input.connection);
  if (found == state.connections.end()) {
    out.push_back(SendEvent{input.connection,
                            server::Failure{request_id(input.request), ErrorCode::not_authenticated,
                                            "this connection is not bound to a device"}});
    return out;
  }
  Connection& connection = found->second;
  // Any request is a sign of life.
  if (auto change = state.presence.alive(connection.user, connection.device, now)) {
    announce(state, *change, now, out);
  }
  Context context{state, state.records, input.connection, connection, now, out};
  dispatch(context, input.request);
  return out;
}

// A request outside any WebSocket (Stateless): the answer goes to
// connection 0.
Effects on_stateless(State& state, const Stateless& input, TimeUs now) {
  Effects out;
  const client::Request& request = input.request;
  const bool needs_connection = std::holds_alternative<client::Ack>(request) ||
                                std::holds_alternative<client::Logout>(request) ||
                                std::holds_alternative<client::Heartbeat>(request) ||
                                std::holds_alternative<client::Typing>(request) ||
                                // Answered by the host's index, on the connection that asked.
                                std::holds_alternative<client::Search>(request);
  if (needs_connection) {
    out.push_back(SendEvent{0, server::Failure{request_id(request), ErrorCode::bad_request,
                                               "this request needs a WebSocket connection"}});
    return out;
  }
  // A connection that exists only for this request: never registered, never delivered to.
  Connection stateless{input.device, input.user, 0, 0, {}, 0};
  Context context{state, state.records, 0, stateless, now, out};
  dispatch(context, request);
  return out;
}

}  // namespace
}  // namespace detail

Engine::Engine(Store& store, EngineConfig config)
    : state_(std::make_unique<detail::State>(store, config)) {
  PARLEY_ASSERT(config.delivery_batch > 0);
  PARLEY_ASSERT(config.delivery_window >= config.delivery_batch);
}

Engine::~Engine() = default;

void Engine::open() {
  detail::State& state = *state_;
  PARLEY_ASSERT(state.store.in_transaction());
  state.records.ensure_format();
  if (state.config.durable_sessions) {
    // Exactly what the store says, whatever the time: every replica at one log index
    // must hold the same memory (docs/cluster.md).
    detail::restore_memory(state);
    state.presence_restored = true;
    return;
  }
  state.presence_restored = false;
}

void Engine::open(TimeUs now) {
  open();
  if (!state_->presence_restored) detail::restore_presence(*state_, now);
}

Effects Engine::handle(const Input& input, TimeUs now) {
  detail::State& state = *state_;
  PARLEY_ASSERT(state.store.in_transaction());
  if (!state.presence_restored) detail::restore_presence(state, now);
  Effects out = std::visit(
      [&](const auto& typed) -> Effects {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, Connected>) return detail::on_connected(state, typed, now);
        if constexpr (std::is_same_v<T, Received>) return detail::on_received(state, typed, now);
        if constexpr (std::is_same_v<T, Disconnected>) return detail::on_disconnected(state, typed);
        if constexpr (std::is_same_v<T, Tick>) return detail::on_tick(state, now);
        if constexpr (std::is_same_v<T, PushResult>) return detail::on_push_result(state, typed);
        if constexpr (std::is_same_v<T, SignUp>) return detail::on_sign_up(state, typed, now);
        if constexpr (std::is_same_v<T, IssueToken>)
          return detail::on_issue_token(state, typed, now);
        if constexpr (std::is_same_v<T, SignOut>) return detail::on_sign_out(state, typed, now);
        if constexpr (std::is_same_v<T, ChangePassword>)
          return detail::on_change_password(state, typed, now);
        if constexpr (std::is_same_v<T, Stateless>) return detail::on_stateless(state, typed, now);
      },
      input);
  detail::persist_memory(state);
  return out;
}

const EngineConfig& Engine::config() const {
  return state_->config;
}

std::size_t Engine::connection_count() const {
  return state_->connections.size();
}

std::vector<ConnectionId> Engine::connection_ids() const {
  std::vector<ConnectionId> ids;
  ids.reserve(state_->connections.size());
  for (const auto& [id, connection] : state_->connections)
    ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace parley::engine
