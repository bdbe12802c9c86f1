// Unread entries, receipt positions and user settings (engine/records.hpp, rule 19).
#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

namespace {

std::string unread_entry_key(UserId user, ChannelId channel, Seq seq) {
  std::string key = encode_pair_key(user, channel);
  key.append(encode_u64_key(seq));
  return key;
}

}  // namespace

void Records::put_unread_entry(UserId user, ChannelId channel, Seq seq) {
  store_.put(Table::unread_entries, unread_entry_key(user, channel, seq), "");
}

std::uint64_t Records::take_unread_entries(UserId user, ChannelId channel, Seq upto) {
  if (upto == 0) return 0;
  std::vector<std::string> keys;
  store_.scan(Table::unread_entries, unread_entry_key(user, channel, 1),
              unread_entry_key(user, channel, upto) + '\0', false,
              [&](std::string_view key, std::string_view) {
                keys.emplace_back(key);
                return true;
              });
  for (const std::string& key : keys)
    store_.erase(Table::unread_entries, key);
  return keys.size();
}

ReceiptRecord Records::receipt(ChannelId channel, UserId user) const {
  return read_record(store_, Table::receipts, encode_pair_key(channel, user), decode_receipt)
      .value_or(ReceiptRecord{});
}

void Records::put_receipt(ChannelId channel, UserId user, const ReceiptRecord& receipt) {
  store_.put(Table::receipts, encode_pair_key(channel, user),
             checked(encode_receipt(receipt), receipt, decode_receipt));
}

std::vector<std::pair<UserId, ReceiptRecord>> Records::receipts_of(ChannelId channel) const {
  std::vector<std::pair<UserId, ReceiptRecord>> rows;
  store_.scan(Table::receipts, encode_u64_key(channel), prefix_end(encode_u64_key(channel)), false,
              [&](std::string_view key, std::string_view value) {
                rows.emplace_back(decode_u64_key(key.substr(8)), decode_receipt(value));
                return true;
              });
  return rows;
}

UserSettings Records::settings(UserId user) const {
  return read_record(store_, Table::settings, encode_u64_key(user), decode_settings)
      .value_or(UserSettings{});
}

void Records::put_settings(UserId user, const UserSettings& settings) {
  store_.put(Table::settings, encode_u64_key(user),
             checked(encode_settings(settings), settings, decode_settings));
}

// Stores from before rule 19 moved unread counts at acks: the entries still counted are
// exactly the counted ones past the user's read (then: acked) position. One pass, once.
void Records::build_unread_entries() {
  std::vector<UserId> users;
  store_.scan(Table::users, "", "", false, [&](std::string_view key, std::string_view) {
    users.push_back(decode_u64_key(key));
    return true;
  });
  for (UserId user : users) {
    for (InboxSeq after = read_position(user);;) {
      const auto entries = inbox_after(user, after, 1024);
      if (entries.empty()) break;
      for (const InboxRef& entry : entries) {
        if (entry.counts_unread) {
          put_unread_entry(user, entry.message.channel, entry.message.seq);
        }
      }
      after = entries.back().inbox_seq;
    }
  }
}

}  // namespace parley::engine
