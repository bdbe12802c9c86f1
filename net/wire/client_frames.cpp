// Client frames <-> parley.capnp's ClientFrame (frames.hpp).
#include "net/wire/frames.hpp"

#include <optional>
#include <string>
#include <type_traits>
#include <variant>

namespace parley::net {

// ---- Client frames -------------------------------------------------------------------------

void fill_client_frame(wire::ClientFrame::Builder out, const ClientFrame& frame) {
  if (const auto* hello = std::get_if<Hello>(&frame)) {
    auto h = out.initHello();
    h.setRequest(hello->request);
    h.setCursor(hello->cursor);
    return;
  }
  namespace client = engine::client;
  std::visit(
      Overloaded{
          [&](const client::Send& r) {
            auto s = out.initSend();
            s.setRequest(r.request);
            s.setChannel(r.channel);
            s.setPeer(r.peer);
            s.setClientMsgId(wire_text(r.client_msg_id));
            s.setText(wire_text(r.text));
            s.setReplyTo(r.reply_to);
          },
          [&](const client::Ack& r) { out.initAck().setInboxSeq(r.inbox_seq); },
          [&](const client::History& r) {
            auto h = out.initHistory();
            h.setRequest(r.request);
            h.setChannel(r.channel);
            h.setBeforeSeq(r.before_seq);
            h.setLimit(r.limit);
          },
          [&](const client::CreateGroup& r) {
            auto g = out.initCreateGroup();
            g.setRequest(r.request);
            g.setName(wire_text(r.name));
            set_ids(g.initMembers(list_size(r.members.size())), r.members);
          },
          [&](const client::AddMember& r) {
            auto m = out.initAddMember();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setUser(r.user);
          },
          [&](const client::RemoveMember& r) {
            auto m = out.initRemoveMember();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setUser(r.user);
          },
          [&](const client::LeaveGroup& r) {
            auto l = out.initLeaveGroup();
            l.setRequest(r.request);
            l.setChannel(r.channel);
          },
          [&](const client::Logout& r) { out.initLogout().setRequest(r.request); },
          [&](const client::Heartbeat&) { out.initHeartbeat(); },
          [&](const client::ChangeContact& r) {
            auto c = out.initChangeContact();
            c.setRequest(r.request);
            c.setAction(to_wire(r.action));
            c.setUser(r.user);
          },
          [&](const client::ListContacts& r) { out.initListContacts().setRequest(r.request); },
          [&](const client::QueryPresence& r) {
            auto q = out.initQueryPresence();
            q.setRequest(r.request);
            set_ids(q.initUsers(list_size(r.users.size())), r.users);
          },
          [&](const client::RegisterPushToken& r) {
            auto p = out.initRegisterPushToken();
            p.setRequest(r.request);
            p.setPlatform(wire_text(r.platform));
            p.setToken(wire_text(r.token));
          },
          [&](const client::UnregisterPushToken& r) {
            out.initUnregisterPushToken().setRequest(r.request);
          },
          [&](const client::QueryUnread& r) {
            auto q = out.initQueryUnread();
            q.setRequest(r.request);
            q.setAfter(r.after);
          },
          [&](const client::ListChannels& r) {
            auto l = out.initListChannels();
            l.setRequest(r.request);
            l.setAfter(r.after);
            l.setLimit(r.limit);
          },
          [&](const client::Typing& r) {
            auto t = out.initTyping();
            t.setRequest(r.request);
            t.setChannel(r.channel);
            t.setTyping(r.typing);
          },
          [&](const client::MarkRead& r) {
            auto m = out.initMarkRead();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setSeq(r.seq);
          },
          [&](const client::QueryReceipts& r) {
            auto q = out.initQueryReceipts();
            q.setRequest(r.request);
            q.setChannel(r.channel);
          },
          [&](const client::Settings& r) {
            auto s = out.initSettings();
            s.setRequest(r.request);
            if (r.read_receipts) {
              s.setReadReceipts(*r.read_receipts);
            } else {
              s.setUnchanged();
            }
          },
          [&](const client::EditMessage& r) {
            auto e = out.initEditMessage();
            e.setRequest(r.request);
            e.setChannel(r.channel);
            e.setSeq(r.seq);
            e.setText(wire_text(r.text));
          },
          [&](const client::DeleteMessage& r) {
            auto d = out.initDeleteMessage();
            d.setRequest(r.request);
            d.setChannel(r.channel);
            d.setSeq(r.seq);
          },
          [&](const client::MuteChannel& r) {
            auto m = out.initMuteChannel();
            m.setRequest(r.request);
            m.setChannel(r.channel);
            m.setForUs(r.for_us);
            m.setForever(r.forever);
          },
          [&](const client::AnswerRequest& r) {
            auto a = out.initAnswerRequest();
            a.setRequest(r.request);
            a.setChannel(r.channel);
            a.setAnswer(to_wire(r.answer));
          },
          [&](const client::Search& r) {
            auto q = out.initSearch();
            q.setRequest(r.request);
            q.setQuery(wire_text(r.query));
            q.setOffset(r.offset);
            q.setLimit(r.limit);
          },
      },
      std::get<engine::client::Request>(frame));
}

ClientFrame read_client_frame(wire::ClientFrame::Reader in, engine::RequestId& request) {
  namespace client = engine::client;
  switch (in.which()) {
    case wire::ClientFrame::UNSET:
      throw BadFrame("the frame names no alternative");
    case wire::ClientFrame::HELLO: {
      const auto h = in.getHello();
      request = h.getRequest();
      return Hello{request, h.getCursor()};
    }
    case wire::ClientFrame::SEND: {
      const auto s = in.getSend();
      request = s.getRequest();
      return client::Request{client::Send{request, s.getChannel(), s.getPeer(),
                                          text_of(s.getClientMsgId()), text_of(s.getText()),
                                          s.getReplyTo()}};
    }
    case wire::ClientFrame::ACK:
      return client::Request{client::Ack{in.getAck().getInboxSeq()}};
    case wire::ClientFrame::HISTORY: {
      const auto h = in.getHistory();
      request = h.getRequest();
      return client::Request{
          client::History{request, h.getChannel(), h.getBeforeSeq(), h.getLimit()}};
    }
    case wire::ClientFrame::CREATE_GROUP: {
      const auto g = in.getCreateGroup();
      request = g.getRequest();
      return client::Request{
          client::CreateGroup{request, text_of(g.getName()), ids_of(g.getMembers())}};
    }
    case wire::ClientFrame::ADD_MEMBER: {
      const auto m = in.getAddMember();
      request = m.getRequest();
      return client::Request{client::AddMember{request, m.getChannel(), m.getUser()}};
    }
    case wire::ClientFrame::REMOVE_MEMBER: {
      const auto m = in.getRemoveMember();
      request = m.getRequest();
      return client::Request{client::RemoveMember{request, m.getChannel(), m.getUser()}};
    }
    case wire::ClientFrame::LEAVE_GROUP: {
      const auto l = in.getLeaveGroup();
      request = l.getRequest();
      return client::Request{client::LeaveGroup{request, l.getChannel()}};
    }
    case wire::ClientFrame::LOGOUT:
      request = in.getLogout().getRequest();
      return client::Request{client::Logout{request}};
    case wire::ClientFrame::HEARTBEAT:
      return client::Request{client::Heartbeat{}};
    case wire::ClientFrame::CHANGE_CONTACT: {
      const auto c = in.getChangeContact();
      request = c.getRequest();
      return client::Request{client::ChangeContact{request, from_wire(c.getAction()), c.getUser()}};
    }
    case wire::ClientFrame::LIST_CONTACTS:
      request = in.getListContacts().getRequest();
      return client::Request{client::ListContacts{request}};
    case wire::ClientFrame::QUERY_PRESENCE: {
      const auto q = in.getQueryPresence();
      request = q.getRequest();
      return client::Request{client::QueryPresence{request, ids_of(q.getUsers())}};
    }
    case wire::ClientFrame::REGISTER_PUSH_TOKEN: {
      const auto p = in.getRegisterPushToken();
      request = p.getRequest();
      return client::Request{
          client::RegisterPushToken{request, text_of(p.getPlatform()), text_of(p.getToken())}};
    }
    case wire::ClientFrame::UNREGISTER_PUSH_TOKEN:
      request = in.getUnregisterPushToken().getRequest();
      return client::Request{client::UnregisterPushToken{request}};
    case wire::ClientFrame::QUERY_UNREAD: {
      const auto q = in.getQueryUnread();
      request = q.getRequest();
      return client::Request{client::QueryUnread{request, q.getAfter()}};
    }
    case wire::ClientFrame::LIST_CHANNELS: {
      const auto l = in.getListChannels();
      request = l.getRequest();
      return client::Request{client::ListChannels{request, l.getAfter(), l.getLimit()}};
    }
    case wire::ClientFrame::TYPING: {
      const auto t = in.getTyping();
      request = t.getRequest();
      return client::Request{client::Typing{request, t.getChannel(), t.getTyping()}};
    }
    case wire::ClientFrame::MARK_READ: {
      const auto m = in.getMarkRead();
      request = m.getRequest();
      return client::Request{client::MarkRead{request, m.getChannel(), m.getSeq()}};
    }
    case wire::ClientFrame::QUERY_RECEIPTS: {
      const auto q = in.getQueryReceipts();
      request = q.getRequest();
      return client::Request{client::QueryReceipts{request, q.getChannel()}};
    }
    case wire::ClientFrame::SETTINGS: {
      const auto s = in.getSettings();
      request = s.getRequest();
      client::Settings settings{request, std::nullopt};
      switch (s.which()) {
        case wire::SettingsRequest::UNCHANGED:
          break;
        case wire::SettingsRequest::READ_RECEIPTS:
          settings.read_receipts = s.getReadReceipts();
          break;
        default:  // a change this node does not know: refused rather than taken for a query
          throw BadFrame("unknown read receipts setting " +
                         std::to_string(static_cast<unsigned>(s.which())));
      }
      return client::Request{settings};
    }
    case wire::ClientFrame::EDIT_MESSAGE: {
      const auto e = in.getEditMessage();
      request = e.getRequest();
      return client::Request{
          client::EditMessage{request, e.getChannel(), e.getSeq(), text_of(e.getText())}};
    }
    case wire::ClientFrame::DELETE_MESSAGE: {
      const auto d = in.getDeleteMessage();
      request = d.getRequest();
      return client::Request{client::DeleteMessage{request, d.getChannel(), d.getSeq()}};
    }
    case wire::ClientFrame::MUTE_CHANNEL: {
      const auto m = in.getMuteChannel();
      request = m.getRequest();
      return client::Request{
          client::MuteChannel{request, m.getChannel(), m.getForUs(), m.getForever()}};
    }
    case wire::ClientFrame::ANSWER_REQUEST: {
      const auto a = in.getAnswerRequest();
      request = a.getRequest();
      return client::Request{
          client::AnswerRequest{request, a.getChannel(), from_wire(a.getAnswer())}};
    }
    case wire::ClientFrame::SEARCH: {
      const auto q = in.getSearch();
      request = q.getRequest();
      return client::Request{
          client::Search{request, text_of(q.getQuery()), q.getOffset(), q.getLimit()}};
    }
  }
  throw BadFrame("unknown client frame type " + std::to_string(static_cast<unsigned>(in.which())) +
                 " (a newer protocol?)");
}

}  // namespace parley::net
