// Contacts and blocks (docs/engine.md, rule 9). Mutual contacts are friends: presence flows
// between them.
#include "engine/context.hpp"

namespace parley::engine {
namespace detail {
namespace {

void apply_contact_change(Context& context, client::ContactAction action, UserId other,
                          const std::optional<ContactRecord>& existing) {
  Records& records = context.records;
  const UserId me = context.user();
  switch (action) {
    case client::ContactAction::add:
      if (!existing || existing->state != ContactState::contact) {
        records.put_contact(me, other, {ContactState::contact, context.now});
      }
      return;
    case client::ContactAction::remove:
      if (existing) records.erase_contact(me, other);
      return;
    case client::ContactAction::block:
      if (!existing || existing->state != ContactState::blocked) {
        records.put_contact(me, other, {ContactState::blocked, context.now});
      }
      return;
    case client::ContactAction::unblock:
      if (existing && existing->state == ContactState::blocked) records.erase_contact(me, other);
      return;
  }
}

}  // namespace

bool blocks(const Records& records, UserId from, UserId to) {
  const auto contact = records.contact(from, to);
  return contact && contact->state == ContactState::blocked;
}

std::optional<Error> block_between(const Context& context, UserId peer) {
  if (blocks(context.records, context.user(), peer)) {
    return Error{ErrorCode::blocked,
                 "you blocked user " + std::to_string(peer) + "; unblock them to send"};
  }
  if (blocks(context.records, peer, context.user())) {
    return Error{ErrorCode::blocked,
                 "user " + std::to_string(peer) + " does not accept messages from you"};
  }
  return std::nullopt;
}

std::optional<Error> check_contact_change(const Context& context, client::ContactAction action,
                                          UserId other) {
  const Records& records = context.records;
  const UserId me = context.user();
  if (other == me) return Error{ErrorCode::bad_request, "you cannot be your own contact"};
  if (!records.user(other)) return unknown_user(other);
  const bool adds_entry = !records.contact(me, other) && (action == client::ContactAction::add ||
                                                          action == client::ContactAction::block);
  if (adds_entry && records.contacts_of(me).size() >= limits::kMaxContacts) {
    return Error{ErrorCode::too_many_contacts, "a user has at most " +
                                                   std::to_string(limits::kMaxContacts) +
                                                   " contacts and blocked users"};
  }
  return std::nullopt;
}

void change_contact(Context& context, client::ContactAction action, UserId other) {
  Records& records = context.records;
  const UserId me = context.user();
  const bool were_friends = records.friends(me, other);
  apply_contact_change(context, action, other, records.contact(me, other));
  // Rule 22: a contact's 1:1 chat is accepted; one whose peer stops being a contact (removed
  // or blocked) becomes a request again, so their messages stop reaching the chat list.
  if (action != client::ContactAction::unblock) {
    set_direct_request(records, me, other, action != client::ContactAction::add);
  }
  const bool are_friends = records.friends(me, other);
  if (are_friends == were_friends) return;
  // Presence starts or stops flowing between the two, in both directions at once.
  State& state = context.state;
  const auto hidden = [](UserId user) { return server::PresenceEntry{user, false, 0}; };
  send_to_user(state, me, server::Presence{are_friends ? presence_of(state, other) : hidden(other)},
               context.out);
  send_to_user(state, other, server::Presence{are_friends ? presence_of(state, me) : hidden(me)},
               context.out);
}

void handle(Context& context, const client::ChangeContact& change) {
  if (auto error = check_contact_change(context, change.action, change.user)) {
    return context.fail(change.request, *error);
  }
  context.reply(server::Ok{change.request});
  change_contact(context, change.action, change.user);
}

void handle(Context& context, const client::ListContacts& list) {
  const Records& records = context.records;
  server::ContactList reply{list.request, {}};
  for (const auto& [other, contact] : records.contacts_of(context.user())) {
    const auto user = records.user(other);
    PARLEY_ASSERT(user.has_value());
    reply.contacts.push_back(server::ContactEntry{other, user->name, contact.state,
                                                  records.friends(context.user(), other)});
  }
  context.reply(std::move(reply));
}

}  // namespace detail

void Engine::provision_contact(UserId user, UserId other, TimeUs since) {
  Records& records = state_->records;
  PARLEY_ASSERT(state_->store.in_transaction());
  PARLEY_ASSERT(user != other);
  PARLEY_ASSERT(records.user(user).has_value() && records.user(other).has_value());
  records.put_contact(user, other, {ContactState::contact, since});
  detail::set_direct_request(records, user, other, false);  // a contact's chat is no request
}

}  // namespace parley::engine
