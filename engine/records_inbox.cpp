// Inboxes, device cursors, send idempotency, unread counts and read positions
// (engine/records.hpp).
#include <algorithm>

#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

namespace {

std::string idempotency_key(UserId user, std::string_view client_msg_id) {
  std::string key = encode_u64_key(user);
  key.append(client_msg_id);
  return key;
}

}  // namespace

InboxSeq Records::inbox_head(UserId user) const {
  return read_counter(store_, Table::inbox_heads, encode_u64_key(user));
}

InboxSeq Records::append_inbox(UserId user, MessageId message, bool counts_unread) {
  const InboxSeq seq = inbox_head(user) + 1;
  const InboxRef entry{seq, message, counts_unread};
  store_.put(Table::inboxes, encode_pair_key(user, seq),
             checked(encode_inbox_ref(entry), entry,
                     [seq](std::string_view bytes) { return decode_inbox_ref(bytes, seq); }));
  store_.put(Table::inbox_heads, encode_u64_key(user), encode_counter(seq));
  return seq;
}

std::vector<InboxRef> Records::inbox_after(UserId user, InboxSeq after, std::size_t limit) const {
  std::vector<InboxRef> entries;
  if (limit == 0 || after == UINT64_MAX) return entries;
  store_.scan(Table::inboxes, encode_pair_key(user, after + 1), prefix_end(encode_u64_key(user)),
              false, [&](std::string_view key, std::string_view value) {
                entries.push_back(decode_inbox_ref(value, decode_u64_key(key.substr(8))));
                return entries.size() < limit;
              });
  return entries;
}

InboxSeq Records::device_cursor(DeviceId device) const {
  return read_counter(store_, Table::device_cursors, encode_u64_key(device));
}

void Records::put_device_cursor(DeviceId device, InboxSeq cursor) {
  store_.put(Table::device_cursors, encode_u64_key(device), encode_counter(cursor));
}

std::optional<MessageId> Records::idempotent_send(UserId user,
                                                  std::string_view client_msg_id) const {
  return read_record(
      store_, Table::idempotency, idempotency_key(user, client_msg_id),
      [](std::string_view bytes) { return decode_message_id(bytes, Table::idempotency); });
}

void Records::put_idempotent_send(UserId user, std::string_view client_msg_id, MessageId message) {
  store_.put(Table::idempotency, idempotency_key(user, client_msg_id), encode_message_id(message));
}

std::uint64_t Records::unread(UserId user, ChannelId channel) const {
  return read_counter(store_, Table::unread, encode_pair_key(user, channel));
}

void Records::add_unread(UserId user, ChannelId channel, std::int64_t delta) {
  const std::int64_t updated = static_cast<std::int64_t>(unread(user, channel)) + delta;
  PARLEY_ASSERT(updated >= 0);
  const std::string key = encode_pair_key(user, channel);
  if (updated == 0) {
    store_.erase(Table::unread, key);  // keeps the per-user scan as short as the unread list
  } else {
    store_.put(Table::unread, key, encode_counter(static_cast<std::uint64_t>(updated)));
  }
}

std::vector<std::pair<ChannelId, std::uint64_t>> Records::unread_channels(UserId user,
                                                                          ChannelId after,
                                                                          std::size_t limit) const {
  std::vector<std::pair<ChannelId, std::uint64_t>> counts;
  if (limit == 0 || after == UINT64_MAX) return counts;
  store_.scan(
      Table::unread, encode_pair_key(user, std::max<ChannelId>(after + 1, 1)),
      prefix_end(encode_u64_key(user)), false, [&](std::string_view key, std::string_view value) {
        counts.emplace_back(decode_u64_key(key.substr(8)), decode_counter(value, Table::unread));
        return counts.size() < limit;
      });
  return counts;
}

InboxSeq Records::read_position(UserId user) const {
  return read_counter(store_, Table::read_positions, encode_u64_key(user));
}

void Records::put_read_position(UserId user, InboxSeq position) {
  store_.put(Table::read_positions, encode_u64_key(user), encode_counter(position));
}

}  // namespace parley::engine
