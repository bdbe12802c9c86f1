// Users, their names and devices, credentials and login tokens (engine/records.hpp).
#include <algorithm>
#include <map>

#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {
namespace {

using namespace codec;

// The key of a pre-folding name kept for an account whose name collided when folded: a 0x01
// byte (never in a name) and the exact spelling.
std::string legacy_name_key(std::string_view name) {
  return "\x01" + std::string(name);
}

}  // namespace

std::optional<UserRecord> Records::user(UserId id) const {
  return read_record(store_, Table::users, encode_u64_key(id), decode_user);
}

std::optional<UserId> Records::user_by_name(std::string_view name) const {
  // A name outside the rule names nobody, and never reaches the store as a key (LMDB refuses
  // an empty one, and that must not look like a disk failure).
  if (!valid_user_name(name)) return std::nullopt;
  const auto decode = [](std::string_view bytes) {
    return decode_counter(bytes, Table::user_names);
  };
  // A migrated store may hold an exact-spelling key for an account whose name collided with
  // an older one's when folded (see fold_name_keys): that spelling still reaches it.
  if (auto legacy = read_record(store_, Table::user_names, legacy_name_key(name), decode)) {
    return legacy;
  }
  return read_record(store_, Table::user_names, fold_user_name(name), decode);
}

void Records::put_user(const UserRecord& user) {
  store_.put(Table::users, encode_u64_key(user.id), checked(encode_user(user), user, decode_user));
  store_.put(Table::user_names, fold_user_name(user.name), encode_counter(user.id));
}

// Stores written before names were folded keyed user_names by the exact spelling. Re-key
// every name by its folded form; when two names fold alike ("Bob", "bob"), the older account
// (lower id) gets the folded key and the younger keeps a legacy key with its exact spelling,
// so both still log in, and nobody can take either name again.
void Records::fold_name_keys() {
  std::vector<std::pair<std::string, std::string>> names;
  store_.scan(Table::user_names, "", "", false, [&](std::string_view key, std::string_view value) {
    names.emplace_back(key, value);
    return true;
  });
  std::map<std::string, std::pair<UserId, std::string>> winners;  // folded -> (id, spelling)
  for (const auto& [name, value] : names) {
    store_.erase(Table::user_names, name);
    const UserId id = decode_counter(value, Table::user_names);
    auto [it, fresh] = winners.try_emplace(fold_user_name(name), id, name);
    if (fresh) continue;
    auto& [winner, spelling] = it->second;
    const std::string& younger = id > winner ? name : spelling;
    store_.put(Table::user_names, legacy_name_key(younger), encode_counter(std::max(id, winner)));
    if (id < winner) it->second = {id, name};
  }
  for (const auto& [folded, winner] : winners)
    store_.put(Table::user_names, folded, encode_counter(winner.first));
}

std::optional<DeviceRecord> Records::device(DeviceId id) const {
  return read_record(store_, Table::devices, encode_u64_key(id), decode_device);
}

void Records::put_device(const DeviceRecord& device) {
  store_.put(Table::devices, encode_u64_key(device.id),
             checked(encode_device(device), device, decode_device));
  store_.put(Table::user_devices, encode_pair_key(device.user, device.id), "");
}

std::vector<DeviceId> Records::devices_of(UserId user) const {
  std::vector<DeviceId> devices;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_devices, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                devices.push_back(decode_u64_key(key.substr(8)));
                return true;
              });
  return devices;
}

std::optional<std::string> Records::credential(UserId user) const {
  return read_record(store_, Table::credentials, encode_u64_key(user), decode_credential);
}

void Records::put_credential(UserId user, std::string_view password_hash) {
  store_.put(
      Table::credentials, encode_u64_key(user),
      checked(encode_credential(password_hash), std::string(password_hash), decode_credential));
}

std::optional<TokenRecord> Records::token(std::string_view token_hash) const {
  return read_record(store_, Table::tokens, token_hash, decode_token);
}

void Records::put_token(std::string_view token_hash, const TokenRecord& token) {
  store_.put(Table::tokens, token_hash, checked(encode_token(token), token, decode_token));
  store_.put(Table::device_tokens,
             encode_pair_key(token.user, token.device) + std::string(token_hash), "");
}

void Records::erase_token(std::string_view token_hash) {
  const auto record = token(token_hash);
  if (!record) return;
  store_.erase(Table::tokens, token_hash);
  store_.erase(Table::device_tokens,
               encode_pair_key(record->user, record->device) + std::string(token_hash));
}

std::vector<std::string> Records::device_token_hashes(UserId user, DeviceId device) const {
  std::vector<std::string> hashes;
  const std::string prefix = encode_pair_key(user, device);
  store_.scan(Table::device_tokens, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                hashes.emplace_back(key.substr(prefix.size()));
                return true;
              });
  return hashes;
}

void Records::erase_device_tokens(UserId user, DeviceId device) {
  for (const std::string& hash : device_token_hashes(user, device))
    erase_token(hash);
}

// Stores written before a device's tokens were indexed: index every live token once, so
// re-login, logout and a password change revoke tokens issued before the upgrade too.
void Records::build_device_token_index() {
  std::vector<std::string> hashes;
  store_.scan(Table::tokens, "", "", false, [&](std::string_view key, std::string_view) {
    hashes.emplace_back(key);
    return true;
  });
  for (const std::string& hash : hashes) {
    const auto record = token(hash);
    if (record) put_token(hash, *record);
  }
}

}  // namespace parley::engine
