// Durable state for pushes the engine owes later, and for presence across a restart.
//
// A message that reaches a user who is still shown online (inside the presence timeout) but
// has no connected device cannot be pushed at once (push_when = offline), and must not be
// forgotten: the engine notes it in `pending_pushes`, one entry per (user, channel) holding
// the newest such message, and pushes what is noted when the user is shown offline, unless a
// device acks past it first. `online_users` lists who is shown online, so that a restarted
// engine holds them online for a full timeout instead of treating everyone as away.
// docs/engine.md (rules 13 and 16) gives the policy; docs/storage.md the encoding.
// engine/push.cpp is also the engine's push domain: intents, push tokens, PushResult.
#pragma once

#include <utility>
#include <vector>

#include "engine/record_types.hpp"  // PendingPush
#include "engine/store.hpp"
#include "engine/types.hpp"

namespace parley::engine {

class AwayRecords {
 public:
  explicit AwayRecords(Store& store) : store_(store) {}

  // Replaces the user's entry for the channel.
  void put_pending(UserId user, const PendingPush& pending);
  // The user's entries, ascending channel id.
  std::vector<PendingPush> pending(UserId user) const;
  void erase_pending(UserId user, ChannelId channel);

  void put_online(UserId user, TimeUs last_active);
  void erase_online(UserId user);
  // Every user shown online with their last_active_at, ascending user id.
  std::vector<std::pair<UserId, TimeUs>> online_users() const;

 private:
  Store& store_;
};

}  // namespace parley::engine
