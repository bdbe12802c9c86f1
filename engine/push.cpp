// Push intents, now and later, and presence that survives a restart (engine/push.hpp).
#include "engine/push.hpp"

#include "engine/engine.hpp"
#include "engine/utf8.hpp"

namespace parley::engine {
namespace {

constexpr char kVersion = 1;

// Values: a version byte, then 8-byte big-endian fields.
std::string encode_fields(std::initializer_list<std::uint64_t> fields) {
  std::string value(1, kVersion);
  for (std::uint64_t field : fields)
    value += encode_u64_key(field);
  return value;
}

std::vector<std::uint64_t> decode_fields(std::string_view value, std::size_t count, Table table) {
  if (value.size() != 1 + 8 * count || value[0] != kVersion) {
    throw StoreError("corrupt record in table '" + std::string(table_name(table)) + "'");
  }
  std::vector<std::uint64_t> fields;
  for (std::size_t i = 0; i < count; ++i)
    fields.push_back(decode_u64_key(value.substr(1 + 8 * i, 8)));
  return fields;
}

}  // namespace

void AwayRecords::put_pending(UserId user, const PendingPush& pending) {
  store_.put(Table::pending_pushes, encode_pair_key(user, pending.channel),
             encode_fields({pending.seq, pending.inbox_seq}));
}

std::vector<PendingPush> AwayRecords::pending(UserId user) const {
  std::vector<PendingPush> found;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::pending_pushes, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                const auto fields = decode_fields(value, 2, Table::pending_pushes);
                found.push_back(PendingPush{decode_u64_key(key.substr(8)), fields[0], fields[1]});
                return true;
              });
  return found;
}

void AwayRecords::erase_pending(UserId user, ChannelId channel) {
  store_.erase(Table::pending_pushes, encode_pair_key(user, channel));
}

void AwayRecords::put_online(UserId user, TimeUs last_active) {
  store_.put(Table::online_users, encode_u64_key(user),
             encode_fields({static_cast<std::uint64_t>(last_active)}));
}

void AwayRecords::erase_online(UserId user) {
  store_.erase(Table::online_users, encode_u64_key(user));
}

std::vector<std::pair<UserId, TimeUs>> AwayRecords::online_users() const {
  std::vector<std::pair<UserId, TimeUs>> users;
  store_.scan(Table::online_users, encode_u64_key(0), "", false,
              [&](std::string_view key, std::string_view value) {
                const auto fields = decode_fields(value, 1, Table::online_users);
                users.emplace_back(decode_u64_key(key), static_cast<TimeUs>(fields[0]));
                return true;
              });
  return users;
}

// One intent per registered token of `user`, unless the user had one for this channel
// within the collapse window.
void Engine::push_message(UserId user, const MessageRecord& message, TimeUs now, Effects& out) {
  const auto last = records_.push_collapse(user, message.channel);
  if (last && now - *last < config_.push_collapse_window_us) return;
  const auto tokens = records_.push_tokens(user);
  if (tokens.empty()) return;
  if (records_.push_outbox_size() + tokens.size() > config_.push_outbox_max) {
    out.push_back(PushDropped{user, message.channel, message.seq});
    return;
  }
  records_.put_push_collapse(user, message.channel, now);
  for (const PushTokenRecord& token : tokens) {
    PushIntent intent;
    intent.id = records_.allocate_id("push");
    intent.user = user;
    intent.device = token.device;
    intent.platform = token.platform;
    intent.token = token.token;
    intent.channel = message.channel;
    intent.seq = message.seq;
    intent.sender = message.sender;
    intent.preview = std::string(utf8_prefix(message.text, limits::kPushPreviewCodePoints));
    intent.unread_in_channel = records_.unread(user, message.channel);
    intent.unread_total = records_.unread(user, 0);
    intent.created_at = now;
    records_.put_push_intent(intent);
    out.push_back(PushNotification{std::move(intent)});
  }
}

void Engine::defer_push(UserId user, const MessageRecord& message, InboxSeq inbox_seq) {
  away_.put_pending(user, PendingPush{message.channel, message.seq, inbox_seq});
}

void Engine::push_pending(UserId user, TimeUs now, Effects& out) {
  for (const PendingPush& pending : away_.pending(user)) {
    away_.erase_pending(user, pending.channel);
    const auto message = records_.message({pending.channel, pending.seq});
    PARLEY_ASSERT(message.has_value());
    push_message(user, *message, now, out);
  }
}

void Engine::clear_read_pushes(UserId user, InboxSeq read_position) {
  for (const PendingPush& pending : away_.pending(user)) {
    if (pending.inbox_seq <= read_position) away_.erase_pending(user, pending.channel);
  }
}

// Everyone shown online when the engine last committed is held online, as if each of their
// devices had shown a sign of life at `now`: a device that comes back within the timeout
// causes no flap and no push; one that does not expires after a full timeout, and then
// whatever it was owed is pushed.
void Engine::restore_presence(TimeUs now) {
  presence_restored_ = true;
  for (const auto& [user, last_active] : away_.online_users()) {
    const auto devices = records_.devices_of(user);
    if (devices.empty()) {
      away_.erase_online(user);
      continue;
    }
    for (DeviceId device : devices)
      presence_.restore(user, device, last_active, now);
  }
}

}  // namespace parley::engine
