// Engine memory made durable (EngineConfig::durable_sessions): live connections, and the
// devices and users presence holds alive (engine/records.hpp; written by engine/sessions.cpp).
#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

namespace {

// Every entry of a table keyed by one u64, ascending, decoded by `decode`.
template <typename Decode>
auto scan_u64_table(const Store& store, Table table, Decode decode) {
  std::vector<std::pair<std::uint64_t, decltype(decode(std::string_view{}))>> entries;
  store.scan(table, "", "", false, [&](std::string_view key, std::string_view value) {
    entries.emplace_back(decode_u64_key(key), decode(value));
    return true;
  });
  return entries;
}

}  // namespace

void Records::put_session(ConnectionId connection, const SessionRecord& session) {
  store_.put(Table::sessions, encode_u64_key(connection),
             checked(encode_session(session), session, decode_session));
}

void Records::erase_session(ConnectionId connection) {
  store_.erase(Table::sessions, encode_u64_key(connection));
}

std::vector<std::pair<ConnectionId, SessionRecord>> Records::sessions() const {
  return scan_u64_table(store_, Table::sessions, decode_session);
}

void Records::put_live_device(DeviceId device, const LiveDeviceRecord& life) {
  store_.put(Table::live_devices, encode_u64_key(device),
             checked(encode_live_device(life), life, decode_live_device));
}

void Records::erase_live_device(DeviceId device) {
  store_.erase(Table::live_devices, encode_u64_key(device));
}

std::vector<std::pair<DeviceId, LiveDeviceRecord>> Records::live_devices() const {
  return scan_u64_table(store_, Table::live_devices, decode_live_device);
}

void Records::put_live_user(UserId user, TimeUs last_active) {
  store_.put(Table::live_users, encode_u64_key(user), encode_time(last_active));
}

void Records::erase_live_user(UserId user) {
  store_.erase(Table::live_users, encode_u64_key(user));
}

std::vector<std::pair<UserId, TimeUs>> Records::live_users() const {
  return scan_u64_table(store_, Table::live_users, [](std::string_view bytes) {
    return decode_time(bytes, Table::live_users);
  });
}

}  // namespace parley::engine
