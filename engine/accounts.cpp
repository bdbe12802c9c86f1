// Accounts (docs/engine.md, rule 1): users, devices, credentials and login tokens, which the
// node's HTTP side manages through Engine's operations, and signing devices out.
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

}  // namespace detail

Outcome<UserId> Engine::create_user(std::string_view name, TimeUs now) {
  Records& records = state_->records;
  PARLEY_ASSERT(state_->store.in_transaction());
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

Outcome<DeviceId> Engine::add_device(UserId user, std::string_view label, TimeUs now) {
  Records& records = state_->records;
  PARLEY_ASSERT(state_->store.in_transaction());
  if (!records.user(user)) return detail::unknown_user(user);
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

Effects Engine::sign_out_devices(UserId user, const std::vector<DeviceId>& devices, TimeUs now) {
  return detail::sign_out_devices(*state_, user, devices, now);
}

Effects Engine::sign_out_device(UserId user, DeviceId device, TimeUs now) {
  return detail::sign_out_devices(*state_, user, {device}, now);
}

Effects Engine::revoke_device_tokens(UserId user, DeviceId device) {
  PARLEY_ASSERT(state_->store.in_transaction());
  Effects out;
  state_->records.erase_device_tokens(user, device);
  detail::close_device_connection(*state_, device, CloseReason::replaced, out);
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

void Engine::put_credential(UserId user, std::string_view password_hash) {
  PARLEY_ASSERT(state_->store.in_transaction());
  state_->records.put_credential(user, password_hash);
}

std::optional<TokenRecord> Engine::token(std::string_view token_hash) const {
  return state_->records.token(token_hash);
}

void Engine::put_token(std::string_view token_hash, const TokenRecord& token) {
  PARLEY_ASSERT(state_->store.in_transaction());
  state_->records.put_token(token_hash, token);
}

}  // namespace parley::engine
