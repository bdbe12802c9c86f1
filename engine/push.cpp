// Push (docs/engine.md, rules 13 and 16): intents now, intents owed until the user is away,
// push tokens, what the gateway reported, and presence that survives a restart
// (engine/push.hpp).
#include "engine/push.hpp"

#include <algorithm>

#include "engine/context.hpp"
#include "engine/record_codec.hpp"
#include "engine/utf8.hpp"

namespace parley::engine {

// ---- AwayRecords ------------------------------------------------------------------------------
void AwayRecords::put_pending(UserId user, const PendingPush& pending) {
  store_.put(Table::pending_pushes, encode_pair_key(user, pending.channel),
             codec::encode_pending_push(pending));
}

std::vector<PendingPush> AwayRecords::pending(UserId user) const {
  std::vector<PendingPush> found;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::pending_pushes, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                found.push_back(codec::decode_pending_push(value, decode_u64_key(key.substr(8))));
                return true;
              });
  return found;
}

void AwayRecords::erase_pending(UserId user, ChannelId channel) {
  store_.erase(Table::pending_pushes, encode_pair_key(user, channel));
}

void AwayRecords::put_online(UserId user, TimeUs last_active) {
  store_.put(Table::online_users, encode_u64_key(user), codec::encode_online(last_active));
}

void AwayRecords::erase_online(UserId user) {
  store_.erase(Table::online_users, encode_u64_key(user));
}

std::vector<std::pair<UserId, TimeUs>> AwayRecords::online_users() const {
  std::vector<std::pair<UserId, TimeUs>> users;
  store_.scan(Table::online_users, encode_u64_key(0), "", false,
              [&](std::string_view key, std::string_view value) {
                users.emplace_back(decode_u64_key(key), codec::decode_online(value));
                return true;
              });
  return users;
}

// ---- The push domain --------------------------------------------------------------------------
namespace detail {

bool pushable(const State& state, UserId user) {
  if (state.config.push_when == EngineConfig::PushWhen::disconnected) {
    return !state.connections_by_user.contains(user);
  }
  return !state.presence.online(user);
}

// One intent per registered token of `user`, unless the user had one for this channel
// within the collapse window.
void push_message(State& state, UserId user, const MessageRecord& message, TimeUs now,
                  Effects& out) {
  Records& records = state.records;
  const auto last = records.push_collapse(user, message.channel);
  if (last && now - *last < state.config.push_collapse_window_us) return;
  const auto tokens = records.push_tokens(user);
  if (tokens.empty()) return;
  if (records.push_outbox_size() + tokens.size() > state.config.push_outbox_max) {
    out.push_back(PushDropped{user, message.channel, message.seq});
    return;
  }
  records.put_push_collapse(user, message.channel, now);
  for (const PushTokenRecord& token : tokens) {
    PushIntent intent;
    intent.id = records.allocate_id("push");
    intent.user = user;
    intent.device = token.device;
    intent.platform = token.platform;
    intent.token = token.token;
    intent.channel = message.channel;
    intent.seq = message.seq;
    intent.sender = message.sender;
    intent.preview = std::string(utf8_prefix(message.text, limits::kPushPreviewCodePoints));
    intent.unread_in_channel = records.unread(user, message.channel);
    intent.unread_total = records.unread(user, 0);
    intent.created_at = now;
    intent.mentions_you =
        std::binary_search(message.mentions.begin(), message.mentions.end(), user);
    records.put_push_intent(intent);
    out.push_back(PushNotification{std::move(intent)});
  }
}

void defer_push(State& state, UserId user, const MessageRecord& message, InboxSeq inbox_seq) {
  state.away.put_pending(user, PendingPush{message.channel, message.seq, inbox_seq});
}

void push_pending(State& state, UserId user, TimeUs now, Effects& out) {
  for (const PendingPush& pending : state.away.pending(user)) {
    state.away.erase_pending(user, pending.channel);
    const auto message = state.records.message({pending.channel, pending.seq});
    PARLEY_ASSERT(message.has_value());
    // Deleted for everyone since it arrived (rule 20): nothing left to notify about. Muted
    // since, and not a mention of them (rule 21): nothing either.
    if (message->deleted || !wants_push(state.records, user, *message, now)) continue;
    push_message(state, user, *message, now, out);
  }
}

void clear_read_pushes(State& state, UserId user, InboxSeq read_position) {
  for (const PendingPush& pending : state.away.pending(user)) {
    if (pending.inbox_seq <= read_position) state.away.erase_pending(user, pending.channel);
  }
}

// Everyone shown online when the engine last committed is held online, as if each of their
// devices had shown a sign of life at `now`: a device that comes back within the timeout
// causes no flap and no push; one that does not expires after a full timeout, and then
// whatever it was owed is pushed.
void restore_presence(State& state, TimeUs now) {
  state.presence_restored = true;
  for (const auto& [user, last_active] : state.away.online_users()) {
    const auto devices = state.records.devices_of(user);
    if (devices.empty()) {
      state.away.erase_online(user);
      continue;
    }
    for (DeviceId device : devices)
      state.presence.restore(user, device, last_active, now);
  }
}

void handle(Context& context, const client::RegisterPushToken& registration) {
  const bool platform_known = registration.platform == "apns" || registration.platform == "fcm" ||
                              registration.platform == "web";
  const bool token_printable = std::all_of(registration.token.begin(), registration.token.end(),
                                           [](char c) { return c > 0x20 && c < 0x7f; });
  if (!platform_known || registration.token.empty() ||
      registration.token.size() > limits::kMaxPushTokenBytes || !token_printable) {
    return context.fail(registration.request, {ErrorCode::invalid_push_token,
                                               "platform is apns, fcm or web; the token is 1 to " +
                                                   std::to_string(limits::kMaxPushTokenBytes) +
                                                   " printable ASCII bytes"});
  }
  context.records.put_push_token(
      context.user(), PushTokenRecord{context.device(), registration.platform, registration.token});
  context.reply(server::Ok{registration.request});
}

void handle(Context& context, const client::UnregisterPushToken& unregister) {
  context.records.erase_push_token(context.user(), context.device());
  context.reply(server::Ok{unregister.request});
}

Effects on_push_result(State& state, const PushResult& result) {
  Records& records = state.records;
  const auto intent = records.push_intent(result.id);
  if (!intent) return {};  // reported twice (delivery is at least once): nothing left to do
  records.erase_push_intent(result.id);
  if (result.outcome == PushOutcome::dead_token) {
    // Only if the device still has that token: it may have registered a new one since.
    for (const PushTokenRecord& token : records.push_tokens(intent->user)) {
      if (token.device == intent->device && token.token == intent->token) {
        records.erase_push_token(intent->user, intent->device);
      }
    }
  }
  return {};
}

}  // namespace detail

std::vector<PushIntent> Engine::push_intents_after(std::uint64_t after, std::size_t limit) const {
  return state_->records.push_intents_after(after, limit);
}

}  // namespace parley::engine
