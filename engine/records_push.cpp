// Push tokens, the push outbox and its size, and collapse times (engine/records.hpp).
#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

namespace {

constexpr std::string_view kOutboxSizeKey = "push_outbox_size";  // in Table::meta

}  // namespace

std::vector<PushTokenRecord> Records::push_tokens(UserId user) const {
  std::vector<PushTokenRecord> tokens;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::push_tokens, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                tokens.push_back(decode_push_token(value, decode_u64_key(key.substr(8))));
                return true;
              });
  return tokens;
}

void Records::put_push_token(UserId user, const PushTokenRecord& token) {
  store_.put(Table::push_tokens, encode_pair_key(user, token.device),
             checked(encode_push_token(token), token, [&](std::string_view bytes) {
               return decode_push_token(bytes, token.device);
             }));
}

void Records::erase_push_token(UserId user, DeviceId device) {
  store_.erase(Table::push_tokens, encode_pair_key(user, device));
}

void Records::put_push_intent(const PushIntent& intent) {
  if (!store_.get(Table::push_outbox, encode_u64_key(intent.id))) {
    store_.put(Table::meta, kOutboxSizeKey, encode_counter(push_outbox_size() + 1));
  }
  store_.put(Table::push_outbox, encode_u64_key(intent.id),
             checked(encode_push_intent(intent), intent, decode_push_intent));
}

std::optional<PushIntent> Records::push_intent(std::uint64_t id) const {
  return read_record(store_, Table::push_outbox, encode_u64_key(id), decode_push_intent);
}

void Records::erase_push_intent(std::uint64_t id) {
  if (!store_.get(Table::push_outbox, encode_u64_key(id))) return;
  store_.erase(Table::push_outbox, encode_u64_key(id));
  const std::uint64_t size = push_outbox_size();
  PARLEY_ASSERT(size > 0);
  store_.put(Table::meta, kOutboxSizeKey, encode_counter(size - 1));
}

std::uint64_t Records::push_outbox_size() const {
  return read_counter(store_, Table::meta, kOutboxSizeKey);
}

std::vector<PushIntent> Records::push_intents_after(std::uint64_t after, std::size_t limit) const {
  std::vector<PushIntent> intents;
  if (limit == 0 || after == UINT64_MAX) return intents;
  store_.scan(Table::push_outbox, encode_u64_key(after + 1), "", false,
              [&](std::string_view, std::string_view value) {
                intents.push_back(decode_push_intent(value));
                return intents.size() < limit;
              });
  return intents;
}

std::optional<TimeUs> Records::push_collapse(UserId user, ChannelId channel) const {
  return read_record(
      store_, Table::push_collapse, encode_pair_key(user, channel),
      [](std::string_view bytes) { return decode_time(bytes, Table::push_collapse); });
}

void Records::put_push_collapse(UserId user, ChannelId channel, TimeUs at) {
  store_.put(Table::push_collapse, encode_pair_key(user, channel), encode_time(at));
}

}  // namespace parley::engine
