#include "engine/engine.hpp"

#include <algorithm>

#include "engine/history.hpp"
#include "engine/utf8.hpp"

namespace parley::engine {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::bad_request:
      return "bad_request";
    case ErrorCode::not_authenticated:
      return "not_authenticated";
    case ErrorCode::unknown_user:
      return "unknown_user";
    case ErrorCode::unknown_device:
      return "unknown_device";
    case ErrorCode::unknown_channel:
      return "unknown_channel";
    case ErrorCode::not_a_member:
      return "not_a_member";
    case ErrorCode::not_a_group:
      return "not_a_group";
    case ErrorCode::not_admin:
      return "not_admin";
    case ErrorCode::already_member:
      return "already_member";
    case ErrorCode::group_full:
      return "group_full";
    case ErrorCode::invalid_name:
      return "invalid_name";
    case ErrorCode::name_taken:
      return "name_taken";
    case ErrorCode::invalid_utf8:
      return "invalid_utf8";
    case ErrorCode::message_empty:
      return "message_empty";
    case ErrorCode::message_too_long:
      return "message_too_long";
    case ErrorCode::invalid_client_msg_id:
      return "invalid_client_msg_id";
    case ErrorCode::invalid_limit:
      return "invalid_limit";
    case ErrorCode::invalid_cursor:
      return "invalid_cursor";
    case ErrorCode::invalid_ack:
      return "invalid_ack";
    case ErrorCode::blocked:
      return "blocked";
    case ErrorCode::not_visible:
      return "not_visible";
    case ErrorCode::too_many_contacts:
      return "too_many_contacts";
    case ErrorCode::invalid_push_token:
      return "invalid_push_token";
    case ErrorCode::malformed_frame:
      return "malformed_frame";
    case ErrorCode::hello_required:
      return "hello_required";
    case ErrorCode::rate_limited:
      return "rate_limited";
    case ErrorCode::overloaded:
      return "overloaded";
    case ErrorCode::unauthorized:
      return "unauthorized";
    case ErrorCode::weak_password:
      return "weak_password";
    case ErrorCode::too_many_devices:
      return "too_many_devices";
    case ErrorCode::too_many_groups:
      return "too_many_groups";
  }
  return "unknown";
}

std::optional<ErrorCode> error_code_from_string(std::string_view text) {
  for (auto raw = static_cast<std::uint16_t>(ErrorCode::bad_request);
       raw <= static_cast<std::uint16_t>(kLastErrorCode); ++raw) {
    const auto code = static_cast<ErrorCode>(raw);
    if (to_string(code) == text) return code;
  }
  return std::nullopt;
}

std::string_view to_string(CloseReason reason) {
  switch (reason) {
    case CloseReason::logged_out:
      return "logged_out";
    case CloseReason::replaced:
      return "replaced by a newer connection of the same device";
    case CloseReason::unknown_device:
      return "unknown_device";
    case CloseReason::invalid_cursor:
      return "invalid_cursor";
  }
  return "unknown";
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > limits::kMaxUserNameBytes) return false;
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  };
  const bool starts_alphanumeric = name[0] != '_' && name[0] != '-' && name[0] != '.';
  return starts_alphanumeric && std::all_of(name.begin(), name.end(), allowed);
}

namespace {

std::optional<Error> check_text(std::string_view text) {
  const auto code_points = utf8_code_points(text);
  if (!code_points) return Error{ErrorCode::invalid_utf8, "message text is not valid UTF-8"};
  if (*code_points == 0) return Error{ErrorCode::message_empty, "message text is empty"};
  if (*code_points > limits::kMaxMessageCodePoints) {
    return Error{ErrorCode::message_too_long, "message has " + std::to_string(*code_points) +
                                                  " characters; the limit is fewer than 100000"};
  }
  return std::nullopt;
}

std::optional<Error> check_client_msg_id(std::string_view id) {
  if (id.empty() || id.size() > limits::kMaxClientMsgIdBytes || !utf8_code_points(id)) {
    return Error{ErrorCode::invalid_client_msg_id, "client_msg_id must be 1 to 64 bytes of UTF-8"};
  }
  return std::nullopt;
}

std::optional<Error> check_group_name(std::string_view name) {
  const auto code_points = utf8_code_points(name);
  if (!code_points || *code_points == 0 || *code_points > limits::kMaxGroupNameCodePoints) {
    return Error{ErrorCode::invalid_name, "a group name is 1 to 100 characters of UTF-8"};
  }
  return std::nullopt;
}

Error group_full_error() {
  return Error{ErrorCode::group_full, "a group holds at most " +
                                          std::to_string(limits::kMaxGroupMembers) +
                                          " members, its creator included"};
}

}  // namespace

RequestId request_id(const client::Request& request) {
  return std::visit(
      [](const auto& typed) -> RequestId {
        if constexpr (requires { typed.request; }) {
          return typed.request;
        } else {
          return 0;
        }
      },
      request);
}

// Handles one client request from an authenticated connection. Every request validates
// everything before its first write, so a refusal stores nothing.
class Engine::RequestHandler {
 public:
  RequestHandler(Engine& engine, ConnectionId connection_id, Connection& connection, TimeUs now,
                 Effects& out)
      : engine_(engine),
        records_(engine.records_),
        connection_id_(connection_id),
        connection_(connection),
        now_(now),
        out_(out) {}

  void operator()(const client::Send& send) {
    if (auto error = check_client_msg_id(send.client_msg_id)) return fail(send.request, *error);
    if (auto original = records_.idempotent_send(connection_.user, send.client_msg_id)) {
      const auto message = records_.message(*original);
      PARLEY_ASSERT(message.has_value());
      reply(server::SendAck{send.request, original->channel, original->seq, message->server_time,
                            true});
      return;
    }
    if (auto error = check_text(send.text)) return fail(send.request, *error);
    if ((send.channel == 0) == (send.peer == 0)) {
      return fail(send.request,
                  {ErrorCode::bad_request, "a send names exactly one of a channel or a peer user"});
    }
    std::optional<ChannelRecord> channel;
    if (send.peer != 0) {
      if (!records_.user(send.peer)) return fail(send.request, unknown_user(send.peer));
      if (auto error = block_between(send.peer)) return fail(send.request, *error);
      channel = direct_channel_with(send.peer);
    } else {
      auto found = member_channel(send.request, send.channel);
      if (!found) return;
      if (found->kind == ChannelKind::direct) {
        if (auto error = block_between(direct_peer(found->id))) return fail(send.request, *error);
      }
      channel = std::move(found);
    }
    MessageRecord message = new_message(*channel, MessageKind::text);
    message.client_msg_id = send.client_msg_id;
    message.text = send.text;
    records_.put_idempotent_send(connection_.user, send.client_msg_id, {channel->id, message.seq});
    reply(server::SendAck{send.request, channel->id, message.seq, now_, false});
    append(*channel, std::move(message), records_.active_members(channel->id));
  }

  void operator()(const client::Ack& ack) {
    if (ack.inbox_seq > connection_.sent_upto) {
      return fail(0,
                  {ErrorCode::invalid_ack, "ack for inbox entry " + std::to_string(ack.inbox_seq) +
                                               " that was never delivered"});
    }
    if (ack.inbox_seq <= connection_.acked) return;  // stale or repeated: harmless
    connection_.acked = ack.inbox_seq;
    while (!connection_.in_flight.empty() && connection_.in_flight.front().first <= ack.inbox_seq) {
      connection_.in_flight_bytes -= connection_.in_flight.front().second;
      connection_.in_flight.pop_front();
    }
    if (records_.device_cursor(connection_.device) < ack.inbox_seq) {
      records_.put_device_cursor(connection_.device, ack.inbox_seq);
    }
    advance_read_position(ack.inbox_seq);
    engine_.pump(connection_id_, connection_, out_);
  }

  void operator()(const client::History& history) {
    if (history.limit == 0 || history.limit > limits::kMaxHistoryPage) {
      return fail(history.request,
                  {ErrorCode::invalid_limit, "a history page holds 1 to 100 messages"});
    }
    const auto channel = records_.channel(history.channel);
    if (!channel) return fail(history.request, unknown_channel(history.channel));
    const auto member = records_.member(history.channel, connection_.user);
    if (!member) return fail(history.request, not_a_member(history.channel));
    // Only the member's windows: nothing before they joined, nor while they were out (rule 8).
    reply(history_page(records_, history, *channel, *member, engine_.config_.history_page_bytes));
  }

  void operator()(const client::CreateGroup& create) {
    if (auto error = check_group_name(create.name)) return fail(create.request, *error);
    std::vector<UserId> founders{connection_.user};
    for (UserId user : create.members) {
      if (std::find(founders.begin(), founders.end(), user) != founders.end()) continue;
      if (!records_.user(user)) return fail(create.request, unknown_user(user));
      if (auto error = group_block(user)) return fail(create.request, *error);
      founders.push_back(user);
      // Here, not after the loop: a frame of 100,000 ids must not cost 100,000 squared.
      if (founders.size() > limits::kMaxGroupMembers) {
        return fail(create.request, group_full_error());
      }
    }
    for (UserId user : founders) {
      if (auto error = group_limit(user)) return fail(create.request, *error);
    }

    ChannelRecord channel;
    channel.id = records_.allocate_id("channel");
    channel.kind = ChannelKind::group;
    channel.name = create.name;
    channel.admin = connection_.user;
    channel.member_count = static_cast<std::uint32_t>(founders.size());
    channel.created_at = now_;
    MessageRecord event = new_message(channel, MessageKind::group_created);
    event.text = create.name;
    event.users = founders;
    for (UserId user : founders) {
      records_.put_member(channel.id, user, {MemberState::active, event.seq, 0, {}});
      records_.set_group_member(user, channel.id, true);
    }
    reply(server::GroupCreated{create.request, channel.id});
    std::sort(founders.begin(), founders.end());
    append(channel, std::move(event), founders);
  }

  void operator()(const client::AddMember& add) {
    auto channel = admin_channel(add.request, add.channel);
    if (!channel) return;
    if (!records_.user(add.user)) return fail(add.request, unknown_user(add.user));
    if (auto error = group_block(add.user)) return fail(add.request, *error);
    const auto existing = records_.member(channel->id, add.user);
    if (existing && existing->state == MemberState::active) {
      return fail(add.request, {ErrorCode::already_member,
                                "user " + std::to_string(add.user) + " is already a member"});
    }
    if (channel->member_count >= limits::kMaxGroupMembers) {
      return fail(add.request, group_full_error());
    }
    if (auto error = group_limit(add.user)) return fail(add.request, *error);
    MessageRecord event = new_message(*channel, MessageKind::member_added);
    event.users = {add.user};
    MemberRecord joined{MemberState::active, event.seq, 0, {}};
    if (existing) {  // added again: the windows they were in before stay readable, no more
      joined.earlier = existing->earlier;
      joined.earlier.emplace_back(existing->joined_seq, existing->left_seq);
      if (joined.earlier.size() > kMaxEarlierWindows) joined.earlier.erase(joined.earlier.begin());
    }
    records_.put_member(channel->id, add.user, joined);
    records_.set_group_member(add.user, channel->id, true);
    ++channel->member_count;
    reply(server::Ok{add.request});
    append(*channel, std::move(event), records_.active_members(channel->id));
  }

  void operator()(const client::RemoveMember& remove) {
    auto channel = admin_channel(remove.request, remove.channel);
    if (!channel) return;
    if (remove.user == connection_.user) {
      return fail(remove.request,
                  {ErrorCode::bad_request, "the admin leaves a group with leave, not remove"});
    }
    const auto existing = records_.member(channel->id, remove.user);
    if (!existing || existing->state != MemberState::active) {
      return fail(remove.request, {ErrorCode::not_a_member,
                                   "user " + std::to_string(remove.user) + " is not a member"});
    }
    MessageRecord event = new_message(*channel, MessageKind::member_removed);
    event.users = {remove.user};
    end_membership(*channel, remove.user, *existing, event.seq);
    reply(server::Ok{remove.request});
    auto recipients = records_.active_members(channel->id);
    recipients.push_back(remove.user);  // the removed member learns of it too
    append(*channel, std::move(event), recipients);
  }

  void operator()(const client::LeaveGroup& leave) {
    auto channel = member_channel(leave.request, leave.channel);
    if (!channel) return;
    if (channel->kind != ChannelKind::group) {
      return fail(leave.request, {ErrorCode::not_a_group, "one cannot leave a 1:1 chat"});
    }
    const UserId leaver = connection_.user;
    MessageRecord event = new_message(*channel, MessageKind::member_left);
    event.users = {leaver};
    end_membership(*channel, leaver, *records_.member(channel->id, leaver), event.seq);
    reply(server::Ok{leave.request});
    auto recipients = records_.active_members(channel->id);
    recipients.push_back(leaver);
    append(*channel, std::move(event), recipients);
    if (channel->admin == leaver) hand_over_admin(*channel);
  }

  void operator()(const client::Logout& logout) {
    reply(server::Ok{logout.request});
    const Effects signed_out = engine_.sign_out_device(connection_.user, connection_.device, now_);
    out_.insert(out_.end(), signed_out.begin(), signed_out.end());
  }

  void operator()(const client::Heartbeat&) {}  // on_received already counted it

  void operator()(const client::ChangeContact& change) {
    const UserId me = connection_.user;
    const UserId other = change.user;
    if (other == me) {
      return fail(change.request, {ErrorCode::bad_request, "you cannot be your own contact"});
    }
    if (!records_.user(other)) return fail(change.request, unknown_user(other));
    const auto existing = records_.contact(me, other);
    const bool adds_entry = !existing && (change.action == client::ContactAction::add ||
                                          change.action == client::ContactAction::block);
    if (adds_entry && records_.contacts_of(me).size() >= limits::kMaxContacts) {
      return fail(change.request, {ErrorCode::too_many_contacts,
                                   "a user has at most " + std::to_string(limits::kMaxContacts) +
                                       " contacts and blocked users"});
    }
    const bool were_friends = records_.friends(me, other);
    apply_contact_change(change.action, other, existing);
    reply(server::Ok{change.request});
    const bool are_friends = records_.friends(me, other);
    if (are_friends == were_friends) return;
    // Presence starts or stops flowing between the two, in both directions at once.
    const auto hidden = [](UserId user) { return server::PresenceEntry{user, false, 0}; };
    engine_.send_to_user(
        me, server::Presence{are_friends ? engine_.presence_of(other) : hidden(other)}, out_);
    engine_.send_to_user(
        other, server::Presence{are_friends ? engine_.presence_of(me) : hidden(me)}, out_);
  }

  void operator()(const client::ListContacts& list) {
    server::ContactList reply_list{list.request, {}};
    for (const auto& [other, contact] : records_.contacts_of(connection_.user)) {
      const auto user = records_.user(other);
      PARLEY_ASSERT(user.has_value());
      reply_list.contacts.push_back(server::ContactEntry{
          other, user->name, contact.state, records_.friends(connection_.user, other)});
    }
    reply(std::move(reply_list));
  }

  void operator()(const client::ListChannels& list) {
    if (list.limit == 0 || list.limit > limits::kMaxChannelPage) {
      return fail(list.request, {ErrorCode::invalid_limit,
                                 "a channel page holds 1 to " +
                                     std::to_string(limits::kMaxChannelPage) + " channels"});
    }
    server::ChannelList reply_list{list.request, {}, false};
    auto ids = records_.channels_of(connection_.user, list.after, list.limit + std::size_t{1});
    if (ids.size() > list.limit) {
      reply_list.more = true;
      ids.pop_back();
    }
    for (ChannelId id : ids) {
      if (auto summary = summarize_channel(id)) reply_list.channels.push_back(std::move(*summary));
    }
    reply(std::move(reply_list));
  }

  void operator()(const client::QueryPresence& query) {
    if (query.users.empty() || query.users.size() > limits::kMaxPresenceQuery) {
      return fail(query.request,
                  {ErrorCode::invalid_limit, "a presence query names 1 to 100 users"});
    }
    const auto groups = records_.active_groups(connection_.user, limits::kMaxGroupsPerUser);
    server::PresenceList list{query.request, {}};
    for (UserId user : query.users) {
      if (!records_.user(user)) return fail(query.request, unknown_user(user));
      if (!visible(user, groups)) {
        return fail(query.request,
                    {ErrorCode::not_visible, "user " + std::to_string(user) +
                                                 " is neither a mutual contact nor in a group "
                                                 "with you"});
      }
      list.entries.push_back(engine_.presence_of(user));
    }
    reply(std::move(list));
  }

  void operator()(const client::RegisterPushToken& registration) {
    const bool platform_known = registration.platform == "apns" || registration.platform == "fcm" ||
                                registration.platform == "web";
    const bool token_printable = std::all_of(registration.token.begin(), registration.token.end(),
                                             [](char c) { return c > 0x20 && c < 0x7f; });
    if (!platform_known || registration.token.empty() ||
        registration.token.size() > limits::kMaxPushTokenBytes || !token_printable) {
      return fail(registration.request,
                  {ErrorCode::invalid_push_token,
                   "platform is apns, fcm or web; the token is 1 to 4096 printable ASCII bytes"});
    }
    records_.put_push_token(
        connection_.user,
        PushTokenRecord{connection_.device, registration.platform, registration.token});
    reply(server::Ok{registration.request});
  }

  void operator()(const client::UnregisterPushToken& unregistration) {
    records_.erase_push_token(connection_.user, connection_.device);
    reply(server::Ok{unregistration.request});
  }

  void operator()(const client::QueryUnread& query) {
    server::UnreadCounts counts{query.request, records_.unread(connection_.user, 0), {}, false};
    counts.channels = records_.unread_channels(connection_.user, query.after,
                                               limits::kMaxUnreadPage + std::size_t{1});
    if (counts.channels.size() > limits::kMaxUnreadPage) {
      counts.more = true;
      counts.channels.pop_back();
    }
    reply(std::move(counts));
  }

 private:
  void reply(server::Event event) { out_.push_back(SendEvent{connection_id_, std::move(event)}); }
  void fail(RequestId request, Error error) {
    reply(server::Failure{request, error.code, std::move(error.message)});
  }
  static Error unknown_user(UserId user) {
    return {ErrorCode::unknown_user, "no user " + std::to_string(user)};
  }
  static Error unknown_channel(ChannelId channel) {
    return {ErrorCode::unknown_channel, "no channel " + std::to_string(channel)};
  }
  // too_many_groups when `user` is already in limits::kMaxGroupsPerUser groups.
  std::optional<Error> group_limit(UserId user) const {
    constexpr auto kMax = limits::kMaxGroupsPerUser;
    if (records_.active_groups(user, kMax).size() < kMax) return std::nullopt;
    return Error{ErrorCode::too_many_groups,
                 (user == connection_.user ? std::string("you are")
                                           : "user " + std::to_string(user) + " is") +
                     " in " + std::to_string(kMax) + " groups, the most a user may be in"};
  }
  static Error not_a_member(ChannelId channel) {
    return {ErrorCode::not_a_member, "you are not a member of channel " + std::to_string(channel)};
  }

  // The channel, if it exists and the connection's user is an active member; else replies
  // with the failure and returns nothing.
  std::optional<ChannelRecord> member_channel(RequestId request, ChannelId id) {
    auto channel = records_.channel(id);
    if (!channel) {
      fail(request, unknown_channel(id));
      return std::nullopt;
    }
    const auto member = records_.member(id, connection_.user);
    if (!member || member->state != MemberState::active) {
      fail(request, not_a_member(id));
      return std::nullopt;
    }
    return channel;
  }

  std::optional<ChannelRecord> admin_channel(RequestId request, ChannelId id) {
    auto channel = member_channel(request, id);
    if (!channel) return std::nullopt;
    if (channel->kind != ChannelKind::group) {
      fail(request, {ErrorCode::not_a_group, "channel " + std::to_string(id) + " is a 1:1 chat"});
      return std::nullopt;
    }
    if (channel->admin != connection_.user) {
      fail(request, {ErrorCode::not_admin, "only the group's admin changes its members"});
      return std::nullopt;
    }
    return channel;
  }

  std::optional<Error> block_between(UserId peer) const {
    const auto mine = records_.contact(connection_.user, peer);
    if (mine && mine->state == ContactState::blocked) {
      return Error{ErrorCode::blocked,
                   "you blocked user " + std::to_string(peer) + "; unblock them to send"};
    }
    const auto theirs = records_.contact(peer, connection_.user);
    if (theirs && theirs->state == ContactState::blocked) {
      return Error{ErrorCode::blocked,
                   "user " + std::to_string(peer) + " does not accept messages from you"};
    }
    return std::nullopt;
  }

  // Nobody adds a user to a group (creating it or later) when either of the two blocked the
  // other: a block keeps the blocked user from reaching the blocker through a group too.
  std::optional<Error> group_block(UserId user) const {
    const auto blocks = [&](UserId from, UserId to) {
      const auto contact = records_.contact(from, to);
      return contact && contact->state == ContactState::blocked;
    };
    if (blocks(connection_.user, user)) {
      return Error{ErrorCode::blocked, "you blocked user " + std::to_string(user) +
                                           "; unblock them to add them to a group"};
    }
    if (blocks(user, connection_.user)) {
      return Error{ErrorCode::blocked,
                   "user " + std::to_string(user) + " cannot be added to a group by you"};
    }
    return std::nullopt;
  }

  // The other member of a 1:1 channel (the user themself in a note-to-self channel).
  UserId direct_peer(ChannelId channel) const {
    for (const auto& [user, member] : records_.all_members(channel)) {
      if (user != connection_.user) return user;
    }
    return connection_.user;
  }

  void apply_contact_change(client::ContactAction action, UserId other,
                            const std::optional<ContactRecord>& existing) {
    const UserId me = connection_.user;
    switch (action) {
      case client::ContactAction::add:
        if (!existing || existing->state != ContactState::contact) {
          records_.put_contact(me, other, {ContactState::contact, now_});
        }
        return;
      case client::ContactAction::remove:
        if (existing) records_.erase_contact(me, other);
        return;
      case client::ContactAction::block:
        if (!existing || existing->state != ContactState::blocked) {
          records_.put_contact(me, other, {ContactState::blocked, now_});
        }
        return;
      case client::ContactAction::unblock:
        if (existing && existing->state == ContactState::blocked) records_.erase_contact(me, other);
        return;
    }
  }

  std::optional<server::ChannelSummary> summarize_channel(ChannelId id) const {
    const auto channel = records_.channel(id);
    const auto membership = records_.member(id, connection_.user);
    if (!channel || !membership) return std::nullopt;
    server::ChannelSummary summary{
        id, channel->kind, channel->name, channel->admin, channel->last_seq, true, {}};
    if (membership->state != MemberState::active) {
      summary.active = false;
      summary.last_seq = membership->left_seq;
      return summary;
    }
    for (UserId member : records_.active_members(id)) {
      const auto user = records_.user(member);
      PARLEY_ASSERT(user.has_value());
      summary.members.push_back(server::ChannelMember{member, user->name});
    }
    return summary;
  }

  // Presence of `user` is visible to this connection's user: themself, a friend, or a fellow
  // member of a group, unless either blocked the other.
  bool visible(UserId user, const std::vector<ChannelId>& my_groups) const {
    const UserId me = connection_.user;
    if (user == me) return true;
    const auto blocks = [&](UserId from, UserId to) {
      const auto contact = records_.contact(from, to);
      return contact && contact->state == ContactState::blocked;
    };
    if (blocks(me, user) || blocks(user, me)) return false;
    if (records_.friends(me, user)) return true;
    // Both lists are ascending and at most limits::kMaxGroupsPerUser long.
    const auto theirs = records_.active_groups(user, limits::kMaxGroupsPerUser);
    auto mine = my_groups.begin();
    for (ChannelId group : theirs) {
      while (mine != my_groups.end() && *mine < group)
        ++mine;
      if (mine != my_groups.end() && *mine == group) return true;
    }
    return false;
  }

  // The user's read position is the highest inbox entry any of their devices acked; moving
  // it takes the entries it passes off the unread counts.
  void advance_read_position(InboxSeq acked) {
    const UserId user = connection_.user;
    const InboxSeq position = records_.read_position(user);
    if (acked <= position) return;
    std::map<ChannelId, std::int64_t> read_per_channel;
    std::int64_t read_total = 0;
    for (const InboxRef& entry : records_.inbox_after(user, position, acked - position)) {
      if (!entry.counts_unread) continue;
      --read_per_channel[entry.message.channel];
      --read_total;
    }
    for (const auto& [channel, delta] : read_per_channel)
      records_.add_unread(user, channel, delta);
    if (read_total != 0) records_.add_unread(user, 0, read_total);
    records_.put_read_position(user, acked);
    engine_.clear_read_pushes(user, acked);  // what a device read is owed no push
  }

  void maybe_push(UserId user, const MessageRecord& message) {
    engine_.push_message(user, message, now_, out_);
  }

  // The 1:1 channel of this user and `peer`, made on first use. Whichever side starts, the
  // (lower, higher) user pair finds the same channel.
  ChannelRecord direct_channel_with(UserId peer) {
    if (auto id = records_.direct_channel(connection_.user, peer)) {
      auto channel = records_.channel(*id);
      PARLEY_ASSERT(channel.has_value());
      return *channel;
    }
    ChannelRecord channel;
    channel.id = records_.allocate_id("channel");
    channel.kind = ChannelKind::direct;
    channel.member_count = connection_.user == peer ? 1 : 2;
    channel.created_at = now_;
    records_.put_channel(channel);
    records_.put_direct_channel(connection_.user, peer, channel.id);
    records_.put_member(channel.id, connection_.user, {MemberState::active, 0, 0, {}});
    records_.put_member(channel.id, peer, {MemberState::active, 0, 0, {}});
    return channel;
  }

  MessageRecord new_message(const ChannelRecord& channel, MessageKind kind) const {
    MessageRecord message;
    message.channel = channel.id;
    message.seq = channel.last_seq + 1;
    message.kind = kind;
    message.sender = connection_.user;
    message.sender_device = connection_.device;
    message.server_time = now_;
    return message;
  }

  void end_membership(ChannelRecord& channel, UserId user, MemberRecord member, Seq seq) {
    member.state = MemberState::removed;
    member.left_seq = seq;
    records_.put_member(channel.id, user, member);
    records_.set_group_member(user, channel.id, false);
    PARLEY_ASSERT(channel.member_count > 0);
    --channel.member_count;
  }

  // The longest-standing remaining member becomes admin, so a group is never left without
  // one while it has members.
  void hand_over_admin(ChannelRecord& channel) {
    std::optional<std::pair<Seq, UserId>> successor;
    for (const auto& [user, member] : records_.all_members(channel.id)) {
      if (member.state != MemberState::active) continue;
      const std::pair<Seq, UserId> rank{member.joined_seq, user};
      if (!successor || rank < *successor) successor = rank;
    }
    channel.admin = successor ? successor->second : 0;
    if (!successor) {
      records_.put_channel(channel);
      return;
    }
    MessageRecord event = new_message(channel, MessageKind::admin_changed);
    event.users = {channel.admin};
    append(channel, std::move(event), records_.active_members(channel.id));
  }

  // Appends `message` (seq = last_seq + 1) to the channel and to every recipient's inbox,
  // then delivers it to their live connections.
  void append(ChannelRecord& channel, MessageRecord message, const std::vector<UserId>& to) {
    PARLEY_ASSERT(message.seq == channel.last_seq + 1);
    channel.last_seq = message.seq;
    records_.put_channel(channel);
    const MessageId id{channel.id, message.seq};
    records_.put_message(message);
    const bool is_text = message.kind == MessageKind::text;
    std::vector<InboxSeq> inbox_seqs;
    inbox_seqs.reserve(to.size());
    for (UserId user : to) {
      const bool counts_unread = is_text && user != message.sender;
      inbox_seqs.push_back(records_.append_inbox(user, id, counts_unread));
      if (counts_unread) {
        records_.add_unread(user, channel.id, 1);
        records_.add_unread(user, 0, 1);
      }
    }
    for (UserId user : to)
      engine_.deliver_live(user, out_);
    if (!is_text) return;
    for (std::size_t i = 0; i < to.size(); ++i) {
      const UserId user = to[i];
      if (user == message.sender) continue;
      if (engine_.pushable(user)) {
        maybe_push(user, message);
      } else if (!engine_.connections_by_user_.contains(user)) {
        // Shown online, but no device connected to receive it: owed a push once the user is
        // away, unless a device acks it first (rule 13).
        engine_.defer_push(user, message, inbox_seqs[i]);
      }
    }
  }

  Engine& engine_;
  Records& records_;
  ConnectionId connection_id_;
  Connection& connection_;
  TimeUs now_;
  Effects& out_;
};

Engine::Engine(Store& store, EngineConfig config)
    : store_(store),
      records_(store),
      config_(config),
      presence_(config.presence_timeout_us),
      away_(store) {
  PARLEY_ASSERT(config_.delivery_batch > 0);
  PARLEY_ASSERT(config_.delivery_window >= config_.delivery_batch);
}

void Engine::open() {
  PARLEY_ASSERT(store_.in_transaction());
  records_.ensure_format();
  presence_restored_ = false;
}

void Engine::open(TimeUs now) {
  open();
  restore_presence(now);
}

Effects Engine::handle(const Input& input, TimeUs now) {
  PARLEY_ASSERT(store_.in_transaction());
  if (!presence_restored_) restore_presence(now);
  return std::visit(
      [&](const auto& typed) -> Effects {
        using T = std::decay_t<decltype(typed)>;
        if constexpr (std::is_same_v<T, Connected>) return on_connected(typed, now);
        if constexpr (std::is_same_v<T, Received>) return on_received(typed, now);
        if constexpr (std::is_same_v<T, Disconnected>) return on_disconnected(typed);
        if constexpr (std::is_same_v<T, Tick>) return on_tick(now);
        if constexpr (std::is_same_v<T, PushResult>) return on_push_result(typed);
      },
      input);
}

Outcome<UserId> Engine::create_user(std::string_view name, TimeUs now) {
  PARLEY_ASSERT(store_.in_transaction());
  if (!valid_user_name(name)) {
    return Error{ErrorCode::invalid_name,
                 "a user name is 1 to 32 of a-z A-Z 0-9 _ - ., starting with a letter or digit"};
  }
  if (records_.user_by_name(name)) {
    return Error{ErrorCode::name_taken, "the name '" + std::string(name) + "' is taken"};
  }
  const UserRecord user{records_.allocate_id("user"), std::string(name), now};
  records_.put_user(user);
  return user.id;
}

Outcome<DeviceId> Engine::add_device(UserId user, std::string_view label, TimeUs now) {
  PARLEY_ASSERT(store_.in_transaction());
  if (!records_.user(user))
    return Error{ErrorCode::unknown_user, "no user " + std::to_string(user)};
  const auto code_points = utf8_code_points(label);
  if (!code_points || *code_points > limits::kMaxDeviceLabelCodePoints) {
    return Error{ErrorCode::invalid_name, "a device label is at most 64 code points of UTF-8"};
  }
  if (records_.devices_of(user).size() >= limits::kMaxDevicesPerUser) {
    return Error{ErrorCode::too_many_devices,
                 "a user has at most " + std::to_string(limits::kMaxDevicesPerUser) +
                     " devices; log in again with an existing device id"};
  }
  const DeviceRecord device{records_.allocate_id("device"), user, std::string(label), now};
  records_.put_device(device);
  return device.id;
}

Effects Engine::on_connected(const Connected& input, TimeUs now) {
  Effects out;
  PARLEY_ASSERT(!connections_.contains(input.connection));
  const auto device = records_.device(input.device);
  if (!device) {
    out.push_back(
        SendEvent{input.connection, server::Failure{0, ErrorCode::unknown_device,
                                                    "no device " + std::to_string(input.device)}});
    out.push_back(CloseConnection{input.connection, CloseReason::unknown_device});
    return out;
  }
  const InboxSeq head = records_.inbox_head(device->user);
  if (input.cursor > head) {
    out.push_back(SendEvent{
        input.connection,
        server::Failure{0, ErrorCode::invalid_cursor,
                        "cursor " + std::to_string(input.cursor) + " is past the inbox head " +
                            std::to_string(head) + "; reconnect with a cursor <= head"}});
    out.push_back(CloseConnection{input.connection, CloseReason::invalid_cursor});
    return out;
  }
  if (auto previous = connection_by_device_.find(input.device);
      previous != connection_by_device_.end()) {
    out.push_back(CloseConnection{previous->second, CloseReason::replaced});
    forget_connection(previous->second);
  }
  Connection& connection = connections_[input.connection];
  connection = Connection{input.device, device->user, input.cursor, input.cursor, {}, 0};
  connection_by_device_[input.device] = input.connection;
  connections_by_user_[device->user].push_back(input.connection);
  out.push_back(
      SendEvent{input.connection,
                server::Welcome{device->user, input.device, input.cursor, head,
                                config_.heartbeat_interval_us, config_.presence_timeout_us}});
  if (auto change = presence_.alive(device->user, input.device, now)) announce(*change, now, out);
  server::PresenceList snapshot;
  for (const auto& [other, contact] : records_.contacts_of(device->user)) {
    if (records_.friends(device->user, other)) snapshot.entries.push_back(presence_of(other));
  }
  out.push_back(SendEvent{input.connection, std::move(snapshot)});
  pump(input.connection, connection, out);
  return out;
}

Effects Engine::on_received(const Received& input, TimeUs now) {
  Effects out;
  if (!connections_.contains(input.connection)) {
    out.push_back(SendEvent{input.connection,
                            server::Failure{request_id(input.request), ErrorCode::not_authenticated,
                                            "this connection is not bound to a device"}});
    return out;
  }
  const Connection& connection = connections_.at(input.connection);
  if (auto change = presence_.alive(connection.user, connection.device, now)) {
    announce(*change, now, out);
  }
  RequestHandler handler(*this, input.connection, connections_.at(input.connection), now, out);
  std::visit(handler, input.request);
  return out;
}

void Engine::close_device_connection(DeviceId device, CloseReason reason, Effects& out) {
  const auto live = connection_by_device_.find(device);
  if (live == connection_by_device_.end()) return;
  out.push_back(CloseConnection{live->second, reason});
  forget_connection(live->second);
}

Effects Engine::revoke_device_tokens(UserId user, DeviceId device) {
  PARLEY_ASSERT(store_.in_transaction());
  Effects out;
  records_.erase_device_tokens(user, device);
  close_device_connection(device, CloseReason::replaced, out);
  return out;
}

Effects Engine::sign_out_devices(UserId user, const std::vector<DeviceId>& devices, TimeUs now) {
  PARLEY_ASSERT(store_.in_transaction());
  // Every push token goes first: a signed-out device must not be woken by pushes meant for
  // its user, not even by those a presence change below releases.
  for (const DeviceId device : devices)
    records_.erase_push_token(user, device);
  Effects out;
  for (const DeviceId device : devices) {
    records_.erase_device_tokens(user, device);
    close_device_connection(device, CloseReason::logged_out, out);
    if (auto change = presence_.logged_out(device, now)) announce(*change, now, out);
  }
  return out;
}

Effects Engine::sign_out_device(UserId user, DeviceId device, TimeUs now) {
  return sign_out_devices(user, {device}, now);
}

Effects Engine::handle_for(UserId user, DeviceId device, const client::Request& request,
                           TimeUs now) {
  PARLEY_ASSERT(store_.in_transaction());
  if (!presence_restored_) restore_presence(now);
  Effects out;
  const bool needs_connection = std::holds_alternative<client::Ack>(request) ||
                                std::holds_alternative<client::Logout>(request) ||
                                std::holds_alternative<client::Heartbeat>(request);
  if (needs_connection) {
    out.push_back(SendEvent{0, server::Failure{request_id(request), ErrorCode::bad_request,
                                               "this request needs a WebSocket connection"}});
    return out;
  }
  // A connection that exists only for this request: never registered, never delivered to.
  Connection stateless{device, user, 0, 0, {}, 0};
  RequestHandler handler(*this, 0, stateless, now, out);
  std::visit(handler, request);
  return out;
}

Effects Engine::on_push_result(const PushResult& result) {
  const auto intent = records_.push_intent(result.id);
  if (!intent) return {};  // reported twice (delivery is at least once): nothing left to do
  records_.erase_push_intent(result.id);
  if (result.outcome == PushOutcome::dead_token) {
    // Only if the device still has that token: it may have registered a new one since.
    for (const PushTokenRecord& token : records_.push_tokens(intent->user)) {
      if (token.device == intent->device && token.token == intent->token) {
        records_.erase_push_token(intent->user, intent->device);
      }
    }
  }
  return {};
}

Effects Engine::on_tick(TimeUs now) {
  Effects out;
  std::vector<PresenceChange> changes;
  presence_.expire(now, changes);
  for (const PresenceChange& change : changes)
    announce(change, now, out);
  return out;
}

server::PresenceEntry Engine::presence_of(UserId user) const {
  if (presence_.online(user)) return {user, true, *presence_.last_active(user)};
  return {user, false, records_.last_active(user).value_or(0)};
}

void Engine::announce(const PresenceChange& change, TimeUs now, Effects& out) {
  records_.put_last_active(change.user, change.last_active_at);
  if (change.online) {
    away_.put_online(change.user, change.last_active_at);
  } else {
    away_.erase_online(change.user);
  }
  out.push_back(change);
  const server::Presence event{{change.user, change.online, change.last_active_at}};
  for (const auto& [other, contact] : records_.contacts_of(change.user)) {
    if (records_.friends(change.user, other)) send_to_user(other, event, out);
  }
  if (!change.online) push_pending(change.user, now, out);
}

void Engine::send_to_user(UserId user, const server::Event& event, Effects& out) {
  const auto found = connections_by_user_.find(user);
  if (found == connections_by_user_.end()) return;
  for (ConnectionId id : found->second)
    out.push_back(SendEvent{id, event});
}

bool Engine::pushable(UserId user) const {
  if (config_.push_when == EngineConfig::PushWhen::disconnected) {
    return !connections_by_user_.contains(user);
  }
  return !presence_.online(user);
}

Effects Engine::on_disconnected(const Disconnected& input) {
  forget_connection(input.connection);
  return {};
}

void Engine::forget_connection(ConnectionId id) {
  const auto found = connections_.find(id);
  if (found == connections_.end()) return;
  const Connection connection = found->second;
  connections_.erase(found);
  connection_by_device_.erase(connection.device);
  auto& of_user = connections_by_user_[connection.user];
  std::erase(of_user, id);
  if (of_user.empty()) connections_by_user_.erase(connection.user);
}

void Engine::pump(ConnectionId id, Connection& connection, Effects& out) {
  const auto bytes_allow = [&] {
    return connection.in_flight.empty() ||
           connection.in_flight_bytes < config_.delivery_window_bytes;
  };
  while (connection.sent_upto - connection.acked < config_.delivery_window && bytes_allow()) {
    const std::size_t room = config_.delivery_window - (connection.sent_upto - connection.acked);
    const auto entries = records_.inbox_after(connection.user, connection.sent_upto,
                                              std::min<std::size_t>(room, config_.delivery_batch));
    if (entries.empty()) return;
    server::Deliver deliver;
    deliver.entries.reserve(entries.size());
    std::size_t bytes = 0;
    for (const InboxRef& entry : entries) {
      if (!deliver.entries.empty() && bytes >= config_.delivery_batch_bytes) break;
      if (!deliver.entries.empty() && !bytes_allow()) break;
      PARLEY_ASSERT(entry.inbox_seq == connection.sent_upto + deliver.entries.size() + 1);
      auto message = records_.message(entry.message);
      PARLEY_ASSERT(message.has_value());
      bytes += message->text.size();
      connection.in_flight.emplace_back(entry.inbox_seq, message->text.size());
      connection.in_flight_bytes += message->text.size();
      deliver.entries.push_back(InboxEntry{entry.inbox_seq, std::move(*message)});
    }
    connection.sent_upto = deliver.entries.back().inbox_seq;
    out.push_back(SendEvent{id, std::move(deliver)});
  }
}

void Engine::deliver_live(UserId user, Effects& out) {
  const auto found = connections_by_user_.find(user);
  if (found == connections_by_user_.end()) return;
  for (ConnectionId id : found->second)
    pump(id, connections_.at(id), out);
}

}  // namespace parley::engine
