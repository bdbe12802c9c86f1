// Channels, their members, the index of a user's groups, and messages (engine/records.hpp).
#include <algorithm>

#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

std::optional<ChannelRecord> Records::channel(ChannelId id) const {
  return read_record(store_, Table::channels, encode_u64_key(id), decode_channel);
}

void Records::put_channel(const ChannelRecord& channel) {
  store_.put(Table::channels, encode_u64_key(channel.id),
             checked(encode_channel(channel), channel, decode_channel));
}

std::optional<ChannelId> Records::direct_channel(UserId a, UserId b) const {
  const auto bytes =
      store_.get(Table::direct_channels, encode_pair_key(std::min(a, b), std::max(a, b)));
  if (!bytes) return std::nullopt;
  return decode_counter(*bytes, Table::direct_channels);
}

void Records::put_direct_channel(UserId a, UserId b, ChannelId channel) {
  store_.put(Table::direct_channels, encode_pair_key(std::min(a, b), std::max(a, b)),
             encode_counter(channel));
}

std::optional<MemberRecord> Records::member(ChannelId channel, UserId user) const {
  return read_record(store_, Table::members, encode_pair_key(channel, user), decode_member);
}

void Records::put_member(ChannelId channel, UserId user, const MemberRecord& member) {
  store_.put(Table::members, encode_pair_key(channel, user),
             checked(encode_member(member), member, decode_member));
  store_.put(Table::user_channels, encode_pair_key(user, channel), "");
}

std::vector<std::pair<UserId, MemberRecord>> Records::all_members(ChannelId channel) const {
  std::vector<std::pair<UserId, MemberRecord>> members;
  const std::string prefix = encode_u64_key(channel);
  store_.scan(Table::members, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                members.emplace_back(decode_u64_key(key.substr(8)), decode_member(value));
                return true;
              });
  return members;
}

std::vector<UserId> Records::active_members(ChannelId channel) const {
  std::vector<UserId> active;
  for (const auto& [user, member] : all_members(channel)) {
    if (member.state == MemberState::active) active.push_back(user);
  }
  return active;
}

std::vector<ChannelId> Records::channels_of(UserId user) const {
  std::vector<ChannelId> channels;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_channels, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                channels.push_back(decode_u64_key(key.substr(8)));
                return true;
              });
  return channels;
}

std::vector<ChannelId> Records::channels_of(UserId user, ChannelId after, std::size_t limit) const {
  std::vector<ChannelId> channels;
  if (limit == 0 || after == UINT64_MAX) return channels;
  store_.scan(Table::user_channels, encode_pair_key(user, after + 1),
              prefix_end(encode_u64_key(user)), false, [&](std::string_view key, std::string_view) {
                channels.push_back(decode_u64_key(key.substr(8)));
                return channels.size() < limit;
              });
  return channels;
}

void Records::set_group_member(UserId user, ChannelId channel, bool active) {
  if (active) {
    store_.put(Table::user_groups, encode_pair_key(user, channel), "");
  } else {
    store_.erase(Table::user_groups, encode_pair_key(user, channel));
  }
}

std::vector<ChannelId> Records::active_groups(UserId user, std::size_t limit) const {
  std::vector<ChannelId> groups;
  if (limit == 0) return groups;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::user_groups, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view) {
                groups.push_back(decode_u64_key(key.substr(8)));
                return groups.size() < limit;
              });
  return groups;
}

void Records::build_group_index() {
  // Stores written before Table::user_groups existed: derive it once from the members table.
  std::optional<std::pair<ChannelId, bool>> last;  // (channel, is a group), members scan in order
  std::vector<std::pair<UserId, ChannelId>> found;
  store_.scan(Table::members, "", "", false, [&](std::string_view key, std::string_view value) {
    const ChannelId channel = decode_u64_key(key.substr(0, 8));
    if (!last || last->first != channel) {
      const auto record = this->channel(channel);
      last = {channel, record && record->kind == ChannelKind::group};
    }
    if (last->second && decode_member(value).state == MemberState::active) {
      found.emplace_back(decode_u64_key(key.substr(8)), channel);
    }
    return true;
  });
  for (const auto& [user, channel] : found)
    set_group_member(user, channel, true);
}

std::optional<MessageRecord> Records::message(MessageId id) const {
  return read_record(store_, Table::messages, encode_pair_key(id.channel, id.seq), decode_message);
}

void Records::put_message(const MessageRecord& message) {
  store_.put(Table::messages, encode_pair_key(message.channel, message.seq),
             checked(encode_message(message), message, decode_message));
}

std::vector<MessageRecord> Records::messages(ChannelId channel, Seq first, Seq last) const {
  std::vector<MessageRecord> found;
  if (first > last) return found;
  store_.scan(
      Table::messages, encode_pair_key(channel, first),
      last == UINT64_MAX ? prefix_end(encode_u64_key(channel)) : encode_pair_key(channel, last + 1),
      false, [&](std::string_view, std::string_view value) {
        found.push_back(decode_message(value));
        return true;
      });
  return found;
}

std::vector<MessageRecord> Records::messages_after(MessageId after, std::size_t limit) const {
  std::vector<MessageRecord> found;
  if (limit == 0) return found;
  const std::string from = encode_pair_key(after.channel, after.seq);
  store_.scan(Table::messages, from, "", false, [&](std::string_view key, std::string_view value) {
    if (key == from) return true;  // `after` itself
    found.push_back(decode_message(value));
    return found.size() < limit;
  });
  return found;
}

std::vector<MessageRecord> Records::messages_back(ChannelId channel, Seq first, Seq last,
                                                  std::size_t max_bytes) const {
  std::vector<MessageRecord> found;
  if (first > last) return found;
  std::size_t bytes = 0;
  store_.scan(
      Table::messages, encode_pair_key(channel, first),
      last == UINT64_MAX ? prefix_end(encode_u64_key(channel)) : encode_pair_key(channel, last + 1),
      true, [&](std::string_view, std::string_view value) {
        found.push_back(decode_message(value));
        bytes += found.back().text.size();
        return bytes < max_bytes;
      });
  std::reverse(found.begin(), found.end());
  return found;
}

}  // namespace parley::engine
