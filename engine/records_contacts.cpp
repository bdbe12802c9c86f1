// Contacts and each user's last sign of life (engine/records.hpp).
#include "engine/record_codec.hpp"
#include "engine/records.hpp"

namespace parley::engine {

using namespace codec;

std::optional<ContactRecord> Records::contact(UserId user, UserId other) const {
  return read_record(store_, Table::contacts, encode_pair_key(user, other), decode_contact);
}

void Records::put_contact(UserId user, UserId other, const ContactRecord& contact) {
  store_.put(Table::contacts, encode_pair_key(user, other),
             checked(encode_contact(contact), contact, decode_contact));
}

void Records::erase_contact(UserId user, UserId other) {
  store_.erase(Table::contacts, encode_pair_key(user, other));
}

std::vector<std::pair<UserId, ContactRecord>> Records::contacts_of(UserId user) const {
  std::vector<std::pair<UserId, ContactRecord>> contacts;
  const std::string prefix = encode_u64_key(user);
  store_.scan(Table::contacts, prefix, prefix_end(prefix), false,
              [&](std::string_view key, std::string_view value) {
                contacts.emplace_back(decode_u64_key(key.substr(8)), decode_contact(value));
                return true;
              });
  return contacts;
}

bool Records::friends(UserId a, UserId b) const {
  const auto forward = contact(a, b);
  if (!forward || forward->state != ContactState::contact) return false;
  const auto backward = contact(b, a);
  return backward && backward->state == ContactState::contact;
}

std::optional<TimeUs> Records::last_active(UserId user) const {
  return read_record(store_, Table::presence, encode_u64_key(user),
                     [](std::string_view bytes) { return decode_time(bytes, Table::presence); });
}

void Records::put_last_active(UserId user, TimeUs at) {
  store_.put(Table::presence, encode_u64_key(user), encode_time(at));
}

}  // namespace parley::engine
