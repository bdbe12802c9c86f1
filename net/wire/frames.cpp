// Engine types <-> parley.capnp: text, enums and the structs that client frames
// (client_frames.cpp) and server events (server_frames.cpp) share. Every rule the schema
// cannot express (ranges, required fields) is checked when reading, and a frame that breaks
// one throws BadFrame.
#include "net/wire/frames.hpp"

#include <limits>
#include <optional>
#include <type_traits>
#include <variant>

namespace parley::net {

std::string text_of(capnp::Text::Reader text) {
  return std::string(text.begin(), text.size());
}

capnp::Text::Reader wire_text(const std::string& text) {
  return capnp::Text::Reader(text.c_str(), text.size());
}

unsigned list_size(std::size_t size) {
  if (size > std::numeric_limits<std::uint32_t>::max()) {
    throw std::length_error("list too long for a Cap'n Proto frame");
  }
  return static_cast<unsigned>(size);
}

// ---- Enums ---------------------------------------------------------------------------------

wire::MessageKind to_wire(engine::MessageKind kind) {
  switch (kind) {
    case engine::MessageKind::text:
      return wire::MessageKind::TEXT;
    case engine::MessageKind::group_created:
      return wire::MessageKind::GROUP_CREATED;
    case engine::MessageKind::member_added:
      return wire::MessageKind::MEMBER_ADDED;
    case engine::MessageKind::member_removed:
      return wire::MessageKind::MEMBER_REMOVED;
    case engine::MessageKind::member_left:
      return wire::MessageKind::MEMBER_LEFT;
    case engine::MessageKind::admin_changed:
      return wire::MessageKind::ADMIN_CHANGED;
    case engine::MessageKind::edited:
      return wire::MessageKind::EDITED;
    case engine::MessageKind::deleted:
      return wire::MessageKind::DELETED;
  }
  throw std::invalid_argument("unknown message kind " + std::to_string(static_cast<int>(kind)));
}

engine::MessageKind from_wire(wire::MessageKind kind) {
  switch (kind) {
    case wire::MessageKind::TEXT:
      return engine::MessageKind::text;
    case wire::MessageKind::GROUP_CREATED:
      return engine::MessageKind::group_created;
    case wire::MessageKind::MEMBER_ADDED:
      return engine::MessageKind::member_added;
    case wire::MessageKind::MEMBER_REMOVED:
      return engine::MessageKind::member_removed;
    case wire::MessageKind::MEMBER_LEFT:
      return engine::MessageKind::member_left;
    case wire::MessageKind::ADMIN_CHANGED:
      return engine::MessageKind::admin_changed;
    case wire::MessageKind::EDITED:
      return engine::MessageKind::edited;
    case wire::MessageKind::DELETED:
      return engine::MessageKind::deleted;
  }
  throw BadFrame("unknown message kind " + std::to_string(static_cast<unsigned>(kind)));
}

wire::ContactAction to_wire(engine::client::ContactAction action) {
  using engine::client::ContactAction;
  switch (action) {
    case ContactAction::add:
      return wire::ContactAction::ADD;
    case ContactAction::remove:
      return wire::ContactAction::REMOVE;
    case ContactAction::block:
      return wire::ContactAction::BLOCK;
    case ContactAction::unblock:
      return wire::ContactAction::UNBLOCK;
  }
  throw std::invalid_argument("unknown contact action " + std::to_string(static_cast<int>(action)));
}

engine::client::ContactAction from_wire(wire::ContactAction action) {
  using engine::client::ContactAction;
  switch (action) {
    case wire::ContactAction::ADD:
      return ContactAction::add;
    case wire::ContactAction::REMOVE:
      return ContactAction::remove;
    case wire::ContactAction::BLOCK:
      return ContactAction::block;
    case wire::ContactAction::UNBLOCK:
      return ContactAction::unblock;
  }
  throw BadFrame("unknown contact action " + std::to_string(static_cast<unsigned>(action)));
}

wire::RequestAnswer to_wire(engine::client::RequestAnswer answer) {
  using engine::client::RequestAnswer;
  switch (answer) {
    case RequestAnswer::accept:
      return wire::RequestAnswer::ACCEPT;
    case RequestAnswer::delete_:
      return wire::RequestAnswer::DELETE;
  }
  throw std::invalid_argument("unknown request answer " + std::to_string(static_cast<int>(answer)));
}

engine::client::RequestAnswer from_wire(wire::RequestAnswer answer) {
  using engine::client::RequestAnswer;
  switch (answer) {
    case wire::RequestAnswer::ACCEPT:
      return RequestAnswer::accept;
    case wire::RequestAnswer::DELETE:
      return RequestAnswer::delete_;
  }
  throw BadFrame("unknown request answer " + std::to_string(static_cast<unsigned>(answer)));
}

wire::ContactState to_wire(engine::ContactState state) {
  switch (state) {
    case engine::ContactState::contact:
      return wire::ContactState::CONTACT;
    case engine::ContactState::blocked:
      return wire::ContactState::BLOCKED;
  }
  throw std::invalid_argument("unknown contact state " + std::to_string(static_cast<int>(state)));
}

engine::ContactState from_wire(wire::ContactState state) {
  switch (state) {
    case wire::ContactState::CONTACT:
      return engine::ContactState::contact;
    case wire::ContactState::BLOCKED:
      return engine::ContactState::blocked;
  }
  throw BadFrame("unknown contact state " + std::to_string(static_cast<unsigned>(state)));
}

wire::ChannelKind to_wire(engine::ChannelKind kind) {
  switch (kind) {
    case engine::ChannelKind::direct:
      return wire::ChannelKind::DIRECT;
    case engine::ChannelKind::group:
      return wire::ChannelKind::GROUP;
  }
  throw std::invalid_argument("unknown channel kind " + std::to_string(static_cast<int>(kind)));
}

engine::ChannelKind from_wire(wire::ChannelKind kind) {
  switch (kind) {
    case wire::ChannelKind::DIRECT:
      return engine::ChannelKind::direct;
    case wire::ChannelKind::GROUP:
      return engine::ChannelKind::group;
  }
  throw BadFrame("unknown channel kind " + std::to_string(static_cast<unsigned>(kind)));
}

// ---- Lists and shared structs ------------------------------------------------------------

void set_ids(capnp::List<std::uint64_t>::Builder out, const std::vector<std::uint64_t>& ids) {
  for (unsigned i = 0; i < out.size(); ++i)
    out.set(i, ids[i]);
}

std::vector<std::uint64_t> ids_of(capnp::List<std::uint64_t>::Reader list) {
  std::vector<std::uint64_t> ids;
  ids.reserve(list.size());
  for (const auto id : list)
    ids.push_back(id);
  return ids;
}

void fill_channel_summary(wire::ChannelSummary::Builder out,
                          const engine::server::ChannelSummary& summary) {
  out.setChannel(summary.channel);
  out.setKind(to_wire(summary.kind));
  out.setName(wire_text(summary.name));
  out.setAdmin(summary.admin);
  out.setLastSeq(summary.last_seq);
  out.setActive(summary.active);
  auto members = out.initMembers(list_size(summary.members.size()));
  for (unsigned i = 0; i < members.size(); ++i) {
    members[i].setUser(summary.members[i].user);
    members[i].setName(wire_text(summary.members[i].name));
  }
  out.setReadSeq(summary.read_seq);
  out.setMutedUntil(summary.muted_until);
  out.setMutedForever(summary.muted_forever);
  out.setRequest(summary.request);
  out.setClearedSeq(summary.cleared_seq);
}

engine::server::ChannelSummary read_channel_summary(wire::ChannelSummary::Reader in) {
  engine::server::ChannelSummary summary{in.getChannel(),
                                         from_wire(in.getKind()),
                                         text_of(in.getName()),
                                         in.getAdmin(),
                                         in.getLastSeq(),
                                         in.getActive(),
                                         {},
                                         in.getReadSeq(),
                                         in.getMutedUntil(),
                                         in.getMutedForever(),
                                         in.getRequest(),
                                         in.getClearedSeq()};
  summary.members.reserve(in.getMembers().size());
  for (const auto member : in.getMembers())
    summary.members.push_back({member.getUser(), text_of(member.getName())});
  return summary;
}

void fill_message(wire::Message::Builder out, const engine::Message& message) {
  out.setChannel(message.channel);
  out.setSeq(message.seq);
  out.setKind(to_wire(message.kind));
  out.setSender(message.sender);
  out.setSenderDevice(message.sender_device);
  out.setServerTime(message.server_time);
  out.setClientMsgId(wire_text(message.client_msg_id));
  out.setText(wire_text(message.text));
  set_ids(out.initUsers(list_size(message.users.size())), message.users);
  out.setTarget(message.target);
  out.setEditedSeq(message.edited_seq);
  out.setDeleted(message.deleted);
  out.setReplyTo(message.reply_to);
  set_ids(out.initMentions(list_size(message.mentions.size())), message.mentions);
  if (message.reply_to != 0) {
    auto quote = out.initQuote();
    quote.setSender(message.quote.sender);
    quote.setText(wire_text(message.quote.text));
    quote.setEdited(message.quote.edited);
    quote.setDeleted(message.quote.deleted);
    quote.setUnavailable(message.quote.unavailable);
  }
}

engine::Message read_message(wire::Message::Reader in) {
  engine::Message message;
  message.channel = in.getChannel();
  message.seq = in.getSeq();
  message.kind = from_wire(in.getKind());
  message.sender = in.getSender();
  message.sender_device = in.getSenderDevice();
  message.server_time = in.getServerTime();
  message.client_msg_id = text_of(in.getClientMsgId());
  message.text = text_of(in.getText());
  message.users = ids_of(in.getUsers());
  message.target = in.getTarget();
  message.edited_seq = in.getEditedSeq();
  message.deleted = in.getDeleted();
  message.reply_to = in.getReplyTo();
  message.mentions = ids_of(in.getMentions());
  if (in.hasQuote()) {
    const auto quote = in.getQuote();
    message.quote = {quote.getSender(), text_of(quote.getText()), quote.getEdited(),
                     quote.getDeleted(), quote.getUnavailable()};
  }
  return message;
}

void fill_presence(wire::PresenceEntry::Builder out, const engine::server::PresenceEntry& entry) {
  out.setUser(entry.user);
  out.setOnline(entry.online);
  out.setLastActiveAt(entry.last_active_at);
}

engine::server::PresenceEntry read_presence(wire::PresenceEntry::Reader in) {
  return {in.getUser(), in.getOnline(), in.getLastActiveAt()};
}

}  // namespace parley::net
