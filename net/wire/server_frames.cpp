// Server events <-> parley.capnp's ServerFrame (frames.hpp).
#include "net/wire/frames.hpp"

#include <type_traits>
#include <variant>

namespace parley::net {

// ---- Server events -------------------------------------------------------------------------

void fill_server_frame(wire::ServerFrame::Builder out, const engine::server::Event& event) {
  namespace server = engine::server;
  std::visit(Overloaded{
                 [&](const server::Welcome& e) {
                   auto w = out.initWelcome();
                   w.setUser(e.user);
                   w.setDevice(e.device);
                   w.setCursor(e.cursor);
                   w.setInboxHead(e.inbox_head);
                   w.setHeartbeatIntervalUs(e.heartbeat_interval_us);
                   w.setPresenceTimeoutUs(e.presence_timeout_us);
                 },
                 [&](const server::Deliver& e) {
                   auto entries = out.initDeliver().initEntries(list_size(e.entries.size()));
                   for (unsigned i = 0; i < entries.size(); ++i) {
                     entries[i].setInboxSeq(e.entries[i].inbox_seq);
                     fill_message(entries[i].initMessage(), e.entries[i].message);
                   }
                 },
                 [&](const server::SendAck& e) {
                   auto a = out.initSendAck();
                   a.setRequest(e.request);
                   a.setChannel(e.channel);
                   a.setSeq(e.seq);
                   a.setServerTime(e.server_time);
                   a.setDuplicate(e.duplicate);
                 },
                 [&](const server::GroupCreated& e) {
                   auto g = out.initGroupCreated();
                   g.setRequest(e.request);
                   g.setChannel(e.channel);
                 },
                 [&](const server::HistoryPage& e) {
                   auto h = out.initHistoryPage();
                   h.setRequest(e.request);
                   h.setChannel(e.channel);
                   auto messages = h.initMessages(list_size(e.messages.size()));
                   for (unsigned i = 0; i < messages.size(); ++i)
                     fill_message(messages[i], e.messages[i]);
                   h.setHasMore(e.has_more);
                 },
                 [&](const server::Ok& e) { out.initOk().setRequest(e.request); },
                 [&](const server::Failure& e) {
                   auto f = out.initFailure();
                   f.setRequest(e.request);
                   const std::string code(engine::to_string(e.code));
                   f.setCode(wire_text(code));
                   f.setMessage(wire_text(e.message));
                 },
                 [&](const server::Presence& e) { fill_presence(out.initPresence(), e.entry); },
                 [&](const server::Typing& e) {
                   auto t = out.initTyping();
                   t.setChannel(e.channel);
                   t.setUser(e.user);
                   t.setTyping(e.typing);
                   t.setTtlUs(e.ttl_us);
                 },
                 [&](const server::Receipt& e) {
                   auto r = out.initReceipt();
                   r.setChannel(e.channel);
                   r.setUser(e.entry.user);
                   r.setDeliveredSeq(e.entry.delivered_seq);
                   r.setReadSeq(e.entry.read_seq);
                 },
                 [&](const server::Receipts& e) {
                   auto r = out.initReceipts();
                   r.setRequest(e.request);
                   r.setChannel(e.channel);
                   auto entries = r.initEntries(list_size(e.entries.size()));
                   for (unsigned i = 0; i < entries.size(); ++i) {
                     entries[i].setUser(e.entries[i].user);
                     entries[i].setDeliveredSeq(e.entries[i].delivered_seq);
                     entries[i].setReadSeq(e.entries[i].read_seq);
                   }
                 },
                 [&](const server::Settings& e) {
                   auto s = out.initSettings();
                   s.setRequest(e.request);
                   s.setReadReceipts(e.read_receipts);
                 },
                 [&](const server::ChannelMute& e) {
                   auto m = out.initChannelMute();
                   m.setRequest(e.request);
                   m.setChannel(e.channel);
                   m.setMutedUntil(e.muted_until);
                   m.setForever(e.forever);
                 },
                 [&](const server::SearchResults& e) {
                   auto r = out.initSearchResults();
                   r.setRequest(e.request);
                   r.setMore(e.more);
                   auto hits = r.initHits(static_cast<unsigned>(e.hits.size()));
                   for (unsigned i = 0; i < e.hits.size(); ++i) {
                     const server::SearchHit& hit = e.hits[i];
                     auto h = hits[i];
                     h.setChannel(hit.channel);
                     h.setSeq(hit.seq);
                     h.setSender(hit.sender);
                     h.setServerTime(hit.server_time);
                     auto parts = h.initSnippet(static_cast<unsigned>(hit.snippet.size()));
                     for (unsigned p = 0; p < hit.snippet.size(); ++p) {
                       parts[p].setText(wire_text(hit.snippet[p].text));
                       parts[p].setMatch(hit.snippet[p].match);
                     }
                   }
                 },
                 [&](const server::RequestAnswered& e) {
                   auto a = out.initRequestAnswered();
                   a.setRequest(e.request);
                   a.setChannel(e.channel);
                   a.setAnswer(to_wire(e.answer));
                   a.setClearedSeq(e.cleared_seq);
                 },
                 [&](const server::PresenceList& e) {
                   auto p = out.initPresenceList();
                   p.setRequest(e.request);
                   auto entries = p.initEntries(list_size(e.entries.size()));
                   for (unsigned i = 0; i < entries.size(); ++i)
                     fill_presence(entries[i], e.entries[i]);
                 },
                 [&](const server::ContactList& e) {
                   auto c = out.initContactList();
                   c.setRequest(e.request);
                   auto contacts = c.initContacts(list_size(e.contacts.size()));
                   for (unsigned i = 0; i < contacts.size(); ++i) {
                     const auto& contact = e.contacts[i];
                     contacts[i].setUser(contact.user);
                     contacts[i].setName(wire_text(contact.name));
                     contacts[i].setState(to_wire(contact.state));
                     contacts[i].setMutual(contact.mutual);
                   }
                 },
                 [&](const server::UnreadCounts& e) {
                   auto u = out.initUnreadCounts();
                   u.setRequest(e.request);
                   u.setTotal(e.total);
                   auto channels = u.initChannels(list_size(e.channels.size()));
                   for (unsigned i = 0; i < channels.size(); ++i) {
                     channels[i].setChannel(e.channels[i].first);
                     channels[i].setCount(e.channels[i].second);
                   }
                   u.setMore(e.more);
                 },
                 [&](const server::ChannelList& e) {
                   auto c = out.initChannelList();
                   c.setRequest(e.request);
                   auto channels = c.initChannels(list_size(e.channels.size()));
                   for (unsigned i = 0; i < channels.size(); ++i)
                     fill_channel_summary(channels[i], e.channels[i]);
                   c.setMore(e.more);
                 },
             },
             event);
}

engine::server::Event read_server_frame(wire::ServerFrame::Reader in, engine::RequestId& request) {
  namespace server = engine::server;
  switch (in.which()) {
    case wire::ServerFrame::UNSET:
      throw BadFrame("the frame names no alternative");
    case wire::ServerFrame::WELCOME: {
      const auto w = in.getWelcome();
      return server::Welcome{w.getUser(),
                             w.getDevice(),
                             w.getCursor(),
                             w.getInboxHead(),
                             w.getHeartbeatIntervalUs(),
                             w.getPresenceTimeoutUs()};
    }
    case wire::ServerFrame::DELIVER: {
      server::Deliver deliver;
      const auto entries = in.getDeliver().getEntries();
      deliver.entries.reserve(entries.size());
      for (const auto entry : entries) {
        deliver.entries.push_back({entry.getInboxSeq(), read_message(entry.getMessage())});
      }
      return deliver;
    }
    case wire::ServerFrame::SEND_ACK: {
      const auto a = in.getSendAck();
      request = a.getRequest();
      return server::SendAck{request, a.getChannel(), a.getSeq(), a.getServerTime(),
                             a.getDuplicate()};
    }
    case wire::ServerFrame::GROUP_CREATED: {
      const auto g = in.getGroupCreated();
      request = g.getRequest();
      return server::GroupCreated{request, g.getChannel()};
    }
    case wire::ServerFrame::HISTORY_PAGE: {
      const auto h = in.getHistoryPage();
      request = h.getRequest();
      server::HistoryPage page{request, h.getChannel(), {}, h.getHasMore()};
      const auto messages = h.getMessages();
      page.messages.reserve(messages.size());
      for (const auto message : messages)
        page.messages.push_back(read_message(message));
      return page;
    }
    case wire::ServerFrame::OK:
      request = in.getOk().getRequest();
      return server::Ok{request};
    case wire::ServerFrame::FAILURE: {
      const auto f = in.getFailure();
      request = f.getRequest();
      const auto code_text = f.getCode();
      const auto code =
          engine::error_code_from_string(std::string_view(code_text.begin(), code_text.size()));
      if (!code) throw BadFrame("unknown error code \"" + text_of(code_text) + "\"");
      return server::Failure{request, *code, text_of(f.getMessage())};
    }
    case wire::ServerFrame::PRESENCE:
      return server::Presence{read_presence(in.getPresence())};
    case wire::ServerFrame::TYPING: {
      const auto t = in.getTyping();
      return server::Typing{t.getChannel(), t.getUser(), t.getTyping(), t.getTtlUs()};
    }
    case wire::ServerFrame::RECEIPT: {
      const auto r = in.getReceipt();
      return server::Receipt{r.getChannel(), {r.getUser(), r.getDeliveredSeq(), r.getReadSeq()}};
    }
    case wire::ServerFrame::RECEIPTS: {
      const auto r = in.getReceipts();
      request = r.getRequest();
      server::Receipts receipts{request, r.getChannel(), {}};
      const auto entries = r.getEntries();
      receipts.entries.reserve(entries.size());
      for (const auto entry : entries) {
        receipts.entries.push_back({entry.getUser(), entry.getDeliveredSeq(), entry.getReadSeq()});
      }
      return receipts;
    }
    case wire::ServerFrame::SETTINGS: {
      const auto s = in.getSettings();
      request = s.getRequest();
      return server::Settings{request, s.getReadReceipts()};
    }
    case wire::ServerFrame::CHANNEL_MUTE: {
      const auto m = in.getChannelMute();
      request = m.getRequest();
      return server::ChannelMute{request, m.getChannel(), m.getMutedUntil(), m.getForever()};
    }
    case wire::ServerFrame::SEARCH_RESULTS: {
      const auto r = in.getSearchResults();
      request = r.getRequest();
      server::SearchResults results{request, {}, r.getMore()};
      results.hits.reserve(r.getHits().size());
      for (const auto hit : r.getHits()) {
        server::SearchHit out{
            hit.getChannel(), hit.getSeq(), hit.getSender(), hit.getServerTime(), {}};
        out.snippet.reserve(hit.getSnippet().size());
        for (const auto part : hit.getSnippet())
          out.snippet.push_back({text_of(part.getText()), part.getMatch()});
        results.hits.push_back(std::move(out));
      }
      return results;
    }
    case wire::ServerFrame::REQUEST_ANSWERED: {
      const auto a = in.getRequestAnswered();
      request = a.getRequest();
      return server::RequestAnswered{request, a.getChannel(), from_wire(a.getAnswer()),
                                     a.getClearedSeq()};
    }
    case wire::ServerFrame::PRESENCE_LIST: {
      const auto p = in.getPresenceList();
      request = p.getRequest();
      server::PresenceList list{request, {}};
      const auto entries = p.getEntries();
      list.entries.reserve(entries.size());
      for (const auto entry : entries)
        list.entries.push_back(read_presence(entry));
      return list;
    }
    case wire::ServerFrame::CONTACT_LIST: {
      const auto c = in.getContactList();
      request = c.getRequest();
      server::ContactList list{request, {}};
      const auto contacts = c.getContacts();
      list.contacts.reserve(contacts.size());
      for (const auto contact : contacts) {
        list.contacts.push_back({contact.getUser(), text_of(contact.getName()),
                                 from_wire(contact.getState()), contact.getMutual()});
      }
      return list;
    }
    case wire::ServerFrame::UNREAD_COUNTS: {
      const auto u = in.getUnreadCounts();
      request = u.getRequest();
      server::UnreadCounts counts{request, u.getTotal(), {}, u.getMore()};
      const auto channels = u.getChannels();
      counts.channels.reserve(channels.size());
      for (const auto channel : channels) {
        counts.channels.emplace_back(channel.getChannel(), channel.getCount());
      }
      return counts;
    }
    case wire::ServerFrame::CHANNEL_LIST: {
      const auto c = in.getChannelList();
      request = c.getRequest();
      server::ChannelList list{request, {}, c.getMore()};
      const auto channels = c.getChannels();
      list.channels.reserve(channels.size());
      for (const auto channel : channels)
        list.channels.push_back(read_channel_summary(channel));
      return list;
    }
  }
  throw BadFrame("unknown server frame type " + std::to_string(static_cast<unsigned>(in.which())) +
                 " (a newer protocol?)");
}

}  // namespace parley::net
