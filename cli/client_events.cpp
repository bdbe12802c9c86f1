// `parley client`: what each server event changes (cli/client_impl.hpp).
#include <iostream>
#include <string>
#include <utility>
#include <variant>

#include "cli/client_impl.hpp"

namespace parley::cli::detail {

namespace {

engine::RequestId answered_request(const server::Event& event) {
  return std::visit(
      [](const auto& typed) -> engine::RequestId {
        if constexpr (requires { typed.request; }) {
          return typed.request;
        } else {
          return 0;
        }
      },
      event);
}

}  // namespace

// ---- Events ------------------------------------------------------------------------------

void TerminalClient::on_event(const server::Event& event) {
  // Welcome answers the hello (request 1) but carries no request id.
  const engine::RequestId answered =
      std::holds_alternative<server::Welcome>(event) ? 1 : answered_request(event);
  unanswered_.erase(answered);
  in_flight_.erase(answered);
  if (options_.script) {
    // The line goes out before react(), so that a clientError it causes comes after it.
    std::cout << net::encode_server_event(event, net::Encoding::json) << std::endl;
    react(event);
  } else {
    react(event);  // first, so that names it learns are there to show
    present(event);
  }
  if (chat_decider_ == answered && answered != 0) chat_decider_.reset();
  // A refused request has no other answer: forget what it was for.
  if (std::holds_alternative<server::Failure>(event)) {
    peer_sends_.erase(answered);
    direct_lookups_.erase(answered);
    group_lookups_.erase(answered);
    group_creates_.erase(answered);
    who_contact_lists_.erase(answered);
    who_presence_queries_.erase(answered);
    ok_notes_.erase(answered);
    request_lists_.erase(answered);
    if (name_requests_.erase(answered) && name_requests_.empty()) show_held_events();
  }
}

void TerminalClient::react(const server::Event& event) {
  note_requests(event);
  if (const auto* welcome = std::get_if<server::Welcome>(&event)) {
    heartbeat_us_ = welcome->heartbeat_interval_us;
  } else if (const auto* deliver = std::get_if<server::Deliver>(&event)) {
    // One cumulative ack for the whole frame: entries come in inbox order.
    if (!deliver->entries.empty()) {
      cursor_ = std::max(cursor_, deliver->entries.back().inbox_seq);
      ws_->send(client::Request{client::Ack{deliver->entries.back().inbox_seq}}, encoding_);
    }
    for (const auto& entry : deliver->entries) {
      echoes_due_.erase({entry.message.channel, entry.message.seq});
      note_seen(entry.message.channel, entry.message.seq);
      if (entry.message.kind == engine::MessageKind::group_created)
        channel_labels_[entry.message.channel] = "\"" + entry.message.text + "\"";
    }
  } else if (const auto* ack = std::get_if<server::SendAck>(&event)) {
    on_send_ack(*ack);
  } else if (const auto* page = std::get_if<server::HistoryPage>(&event)) {
    for (const auto& message : page->messages)
      note_seen(message.channel, message.seq);
  } else if (const auto* created = std::get_if<server::GroupCreated>(&event)) {
    on_group_created(*created);
  } else if (const auto* list = std::get_if<server::ChannelList>(&event)) {
    on_channel_list(*list);
  } else if (const auto* contacts = std::get_if<server::ContactList>(&event)) {
    on_contact_list(*contacts);
  } else if (const auto* ok = std::get_if<server::Ok>(&event)) {
    if (const auto note = ok_notes_.find(ok->request); note != ok_notes_.end()) {
      say(note->second);
      ok_notes_.erase(note);
    }
  }
}

void TerminalClient::on_send_ack(const server::SendAck& ack) {
  engine::Seq& last = last_sent_[ack.channel];
  last = std::max(last, ack.seq);
  if (!ack.duplicate) echoes_due_.insert({ack.channel, ack.seq});
  const auto sent = peer_sends_.find(ack.request);
  if (sent == peer_sends_.end()) return;
  const engine::UserId peer = sent->second;
  peer_sends_.erase(sent);
  direct_channels_.insert(ack.channel);
  direct_peers_[ack.channel] = peer;
  // Later sends use the channel, unless the user has moved on to another chat meanwhile.
  if (peer == peer_ && channel_ == 0) channel_ = ack.channel;
}

void TerminalClient::on_group_created(const server::GroupCreated& created) {
  const auto create = group_creates_.find(created.request);
  if (create == group_creates_.end()) return;
  const std::string label = "\"" + create->second + "\"";
  group_creates_.erase(create);
  channel_labels_[created.channel] = label;
  channel_ = created.channel;
  peer_ = 0;
  say("* chatting in group " + label);
}

void TerminalClient::on_channel_list(const server::ChannelList& list) {
  learn_channel_labels(list);
  if (const auto lookup = group_lookups_.find(list.request); lookup != group_lookups_.end()) {
    for (const auto& summary : list.channels) {
      if (summary.kind == engine::ChannelKind::group && summary.name == lookup->second &&
          summary.active) {
        channel_ = summary.channel;
        peer_ = 0;
        say("* chatting in group \"" + lookup->second + "\"");
        group_lookups_.erase(lookup);
        break;
      }
    }
  }
  if (list.more && !list.channels.empty()) {
    // The list comes in pages: ask for the next one, which carries on what this one was for.
    const auto next = request(client::ListChannels{.request = 0,
                                                   .after = list.channels.back().channel,
                                                   .limit = engine::limits::kMaxChannelPage});
    const auto pass_on = [&](auto& lookups) {
      if (auto node = lookups.extract(list.request)) {
        node.key() = next;
        lookups.insert(std::move(node));
      }
    };
    pass_on(direct_lookups_);
    pass_on(group_lookups_);
    collect_requests(list, next);
    if (name_requests_.erase(list.request)) name_requests_.insert(next);
    if (chat_decider_ == list.request) chat_decider_ = next;
    return;
  }
  collect_requests(list, std::nullopt);
  if (name_requests_.erase(list.request) && name_requests_.empty()) show_held_events(true);
  if (const auto direct = direct_lookups_.find(list.request); direct != direct_lookups_.end()) {
    const engine::UserId peer = direct->second;
    direct_lookups_.erase(direct);
    if (peer != peer_ || channel_ != 0) return;
    for (const auto& [channel, channel_peer] : direct_peers_) {
      if (channel_peer == peer) channel_ = channel;
    }
    return;
  }
  // A group lookup still open after the last page found nothing.
  const auto lookup = group_lookups_.find(list.request);
  if (lookup == group_lookups_.end()) return;
  const std::string wanted = lookup->second;
  group_lookups_.erase(lookup);
  client_error("you are in no group named '" + wanted + "'");
}

void TerminalClient::learn_channel_labels(const server::ChannelList& list) {
  for (const auto& summary : list.channels) {
    for (const auto& member : summary.members)
      names_[member.user] = member.name;
    if (summary.kind == engine::ChannelKind::group) {
      channel_labels_[summary.channel] = "\"" + summary.name + "\"";
      continue;
    }
    direct_channels_.insert(summary.channel);
    // A 1:1 channel lists both users, or only you when it is your own.
    engine::UserId peer = me_;
    for (const auto& member : summary.members) {
      if (member.user != me_) peer = member.user;
    }
    direct_peers_[summary.channel] = peer;
  }
}

void TerminalClient::on_contact_list(const server::ContactList& contacts) {
  for (const auto& contact : contacts.contacts)
    names_[contact.user] = contact.name;
  if (name_requests_.erase(contacts.request) && name_requests_.empty()) show_held_events(true);
  if (!who_contact_lists_.erase(contacts.request)) return;
  // Presence flows between friends (mutual contacts) only: ask for theirs, and say why
  // the others have none.
  client::QueryPresence query;
  for (const auto& contact : contacts.contacts) {
    if (contact.state == engine::ContactState::blocked) {
      say("* " + contact.name + ": blocked");
    } else if (contact.mutual) {
      query.users.push_back(contact.user);
    } else {
      say("* " + contact.name + ": not a friend yet (they have not added you), no presence");
    }
  }
  if (contacts.contacts.empty()) say("* no contacts yet: /add USER");
  if (!query.users.empty()) who_presence_queries_.insert(request(std::move(query)));
}

}  // namespace parley::cli::detail
