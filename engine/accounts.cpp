// Accounts (docs/engine.md, rule 1): users, devices, credentials and login tokens, which the
// node's HTTP side changes through the account inputs (SignUp, IssueToken, SignOut,
// ChangePassword), and signing devices out.
#include <algorithm>

#include "engine/context.hpp"
#include "engine/utf8.hpp"

namespace parley::engine {

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxUserNameBytes) return false;
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  };
  const bool starts_alphanumeric = name[0] != '_' && name[0] != '-' && name[0] != '.';
  return starts_alphanumeric && std::all_of(name.begin(), name.end(), allowed);
}

std::string fold_user_name(std::string_view name) {
  std::string folded(name);
  for (char& c : folded) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return folded;
}

namespace detail {

Error unknown_user(UserId user) {
  return {ErrorCode::unknown_user, "no user " + std::to_string(user)};
}

void handle(Context& context, const client::Logout& logout) {
  context.reply(server::Ok{logout.request});
  // Closes this very connection: `context.connection` is gone once this returns.
  const Effects signed_out =
      sign_out_devices(context.state, context.user(), {context.device()}, context.now);
  context.out.insert(context.out.end(), signed_out.begin(), signed_out.end());
}

Effects sign_out_devices(State& state, UserId user, const std::vector<DeviceId>& devices,
                         TimeUs now) {
  PARLEY_ASSERT(state.store.in_transaction());
  // Every push token goes first: a signed-out device must not be woken by pushes meant for
  // its user, not even by those a presence change below releases.
  for (const DeviceId device : devices)
    state.records.erase_push_token(user, device);
  Effects out;
  for (const DeviceId device : devices) {
    state.records.erase_device_tokens(user, device);
    close_device_connection(state, device, CloseReason::logged_out, out);
    if (auto change = state.presence.logged_out(device, now)) announce(state, *change, now, out);
  }
  return out;
}

Outcome<UserId> create_user(State& state, std::string_view name, TimeUs now) {
  Records& records = state.records;
  PARLEY_ASSERT(state.store.in_transaction());
  if (!valid_user_name(name)) {
    return Error{ErrorCode::invalid_name,
                 "a user name is 1 to " + std::to_string(limits::kMaxUserNameBytes) +
                     " of a-z A-Z 0-9 _ - ., starting with a letter or digit"};
  }
  if (records.user_by_name(name)) {
    return Error{ErrorCode::name_taken, "the name '" + std::string(name) + "' is taken"};
  }
  const UserRecord user{records.allocate_id("user"), std::string(name), now};
  records.put_user(user);
  return user.id;
}

Outcome<DeviceId> add_device(State& state, UserId user, std::string_view label, TimeUs now) {
  Records& records = state.records;
  PARLEY_ASSERT(state.store.in_transaction());
  if (!records.user(user)) return unknown_user(user);
  const auto code_points = utf8_code_points(label);
  if (!code_points || *code_points > limits::kMaxDeviceLabelCodePoints) {
    return Error{ErrorCode::invalid_name, "a device label is at most " +
                                              std::to_string(limits::kMaxDeviceLabelCodePoints) +
                                              " code points of UTF-8"};
  }
  if (records.devices_of(user).size() >= limits::kMaxDevicesPerUser) {
    return Error{ErrorCode::too_many_devices,
                 "a user has at most " + std::to_string(limits::kMaxDevicesPerUser) +
                     " devices; log in again with an existing device id"};
  }
  const DeviceRecord device{records.allocate_id("device"), user, std::string(label), now};
  records.put_device(device);
  return device.id;
}

Effects revoke_device_tokens(State& state, UserId user, DeviceId device) {
  PARLEY_ASSERT(state.store.in_transaction());
  Effects out;
  state.records.erase_device_tokens(user, device);
  close_device_connection(state, device, CloseReason::replaced, out);
  return out;
}

namespace {

// `out` with the input's result appended: an account input's last effect.
Effects with_result(Effects out, AccountResult result) {
  out.push_back(std::move(result));
  return out;
}

Effects refused(UserId user, Error error) {
  return with_result({}, AccountResult{std::move(error), user, 0, 0});
}

}  // namespace

Effects on_sign_up(State& state, const SignUp& input, TimeUs now) {
  const Outcome<UserId> created = create_user(state, input.name, now);
  if (const auto* error = std::get_if<Error>(&created)) return refused(0, *error);
  const UserId user = std::get<UserId>(created);
  state.records.put_credential(user, input.password_hash);
  return with_result({}, AccountResult{std::nullopt, user, 0, 0});
}

Effects on_issue_token(State& state, const IssueToken& input, TimeUs now) {
  PARLEY_ASSERT(state.store.in_transaction());
  Records& records = state.records;
  if (!storable_key(input.token_hash)) {
    return refused(input.user,
                   Error{ErrorCode::bad_request,
                         "a token hash is 1 to " + std::to_string(kMaxKeyBytes) + " bytes"});
  }
  // The password was checked off the engine thread against `verified_hash`; if the
  // credential changed since (a password change won the race), no token is issued.
  if (records.credential(input.user) != input.verified_hash) {
    return refused(input.user,
                   Error{ErrorCode::unauthorized, "the password changed since it was checked"});
  }
  DeviceId device = input.device;
  Effects out;
  if (device != 0) {
    const auto existing = records.device(device);
    if (!existing || existing->user != input.user) {
      return refused(input.user, Error{ErrorCode::unknown_device, "that device is not yours"});
    }
    // One live token per device: the older ones stop working, the live socket closes.
    out = revoke_device_tokens(state, input.user, device);
  } else {
    const Outcome<DeviceId> added = add_device(state, input.user, input.label, now);
    if (const auto* error = std::get_if<Error>(&added)) return refused(input.user, *error);
    device = std::get<DeviceId>(added);
  }
  records.put_token(input.token_hash, TokenRecord{input.user, device, input.expires_at});
  return with_result(std::move(out), AccountResult{std::nullopt, input.user, device, 0});
}

Effects on_sign_out(State& state, const SignOut& input, TimeUs now) {
  PARLEY_ASSERT(state.store.in_transaction());
  std::vector<DeviceId> devices =
      input.all_devices ? state.records.devices_of(input.user) : input.devices;
  if (!input.all_devices) {
    for (const DeviceId device : devices) {
      const auto record = state.records.device(device);
      if (!record || record->user != input.user) {
        return refused(input.user, Error{ErrorCode::unknown_device,
                                         "device " + std::to_string(device) + " is not user " +
                                             std::to_string(input.user) + "'s"});
      }
    }
  }
  const auto count = static_cast<std::uint32_t>(devices.size());
  return with_result(sign_out_devices(state, input.user, devices, now),
                     AccountResult{std::nullopt, input.user, 0, count});
}

Effects on_change_password(State& state, const ChangePassword& input, TimeUs now) {
  PARLEY_ASSERT(state.store.in_transaction());
  if (!state.records.user(input.user)) return refused(input.user, unknown_user(input.user));
  state.records.put_credential(input.user, input.new_hash);
  std::vector<DeviceId> others = state.records.devices_of(input.user);
  std::erase(others, input.keep_device);
  const auto count = static_cast<std::uint32_t>(others.size());
  return with_result(sign_out_devices(state, input.user, others, now),
                     AccountResult{std::nullopt, input.user, input.keep_device, count});
}

}  // namespace detail

Outcome<UserId> Engine::create_user(std::string_view name, TimeUs now) {
  return detail::create_user(*state_, name, now);
}

Outcome<DeviceId> Engine::add_device(UserId user, std::string_view label, TimeUs now) {
  return detail::add_device(*state_, user, label, now);
}

Effects Engine::sign_out_device(UserId user, DeviceId device, TimeUs now) {
  Effects out = detail::sign_out_devices(*state_, user, {device}, now);
  detail::persist_memory(*state_);
  return out;
}

std::optional<UserRecord> Engine::user(UserId id) const {
  return state_->records.user(id);
}

std::optional<UserId> Engine::user_by_name(std::string_view name) const {
  return state_->records.user_by_name(name);
}

std::optional<DeviceRecord> Engine::device(DeviceId id) const {
  return state_->records.device(id);
}

std::vector<DeviceId> Engine::devices_of(UserId user) const {
  return state_->records.devices_of(user);
}

std::optional<std::string> Engine::credential(UserId user) const {
  return state_->records.credential(user);
}

std::optional<TokenRecord> Engine::token(std::string_view token_hash) const {
  return state_->records.token(token_hash);
}

}  // namespace parley::engine
