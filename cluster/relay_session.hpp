// What a gateway keeps about one client connection it relays to the leader, so that it can
// re-attach the connection to a new leader with no gap and no repeat (docs/cluster.md,
// "Gateways"). Pure and header-only: the production gateway (net/node/gateway_link.cpp)
// and the simulator's gateways (sim/world_gateways.cpp) run these same rules. `Payload` is
// what each resends for an unacked send: the client's frame as it arrived, or the request.
//
// The rules:
// - The client's hello (its cursor) and every send without an answer are replayed, in that
//   order, on each new upstream (attach()); the engine answers a send whose clientMsgId it
//   stored as a duplicate with its original seq, so a send that landed before the change is
//   not stored twice.
// - Deliveries the client was already given are dropped, so are a second welcome; the
//   client's acks go upstream only as far as the current upstream delivered (an ack past
//   what a connection was sent is an error at the leader).
// - Other requests in flight when the upstream is lost (history, contacts, markRead,
//   settings, editMessage, deleteMessage...) are answered `not_leader` ("retry"): they are not
//   replayed, as their answer may have been lost (an edit or delete retried after it landed
//   stores nothing: engine rule 20). Events that answer nothing (presence, typing, receipts,
//   settings changed on another device) pass to the client and settle no request.
// - A leader that refuses the link's own replay (overloaded, not_leader) means "try another
//   upstream": the caller re-attaches.
#pragma once

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <variant>
#include <vector>

#include "engine/protocol.hpp"

namespace parley::cluster {

template <typename Payload>
class RelaySession {
 public:
  // Sends without an answer a link keeps for replay; the client is closed past it. A client
  // that keeps more in flight is not waiting for acks (the web client keeps a handful).
  static constexpr std::size_t kMaxUnackedSends = 1024;

  // What to do with what the client sent.
  enum class ClientAction {
    forward,   // send it upstream now
    absorbed,  // kept (replayed on attach) or nothing to send; see ack_to_forward()
    refuse,    // answer the client not_leader: no upstream now and it is not replayed
    close,     // too many unacked sends: close the client
  };
  // What to do with an event from the leader.
  enum class UpstreamAction {
    pass,      // to the client (a Deliver trimmed to what the client does not have)
    drop,      // the client has it already
    reattach,  // the leader refused the link's replay: drop this upstream and attach again
  };
  struct Hello {
    engine::RequestId request = 0;
    engine::InboxSeq cursor = 0;
  };
  // What a new upstream is sent first, in order: the hello at the client's acked cursor,
  // then every send without an answer in request order.
  struct Resume {
    std::optional<Hello> hello;
    std::vector<Payload> sends;
  };

  // The client said hello with its cursor (what it has stored).
  ClientAction on_hello(engine::RequestId request, engine::InboxSeq cursor) {
    hello_ = Hello{request, cursor};
    client_acked_ = upstream_sent_ = upstream_acked_ = cursor;
    return attached_ ? ClientAction::forward : ClientAction::absorbed;
  }

  ClientAction on_request(const engine::client::Request& request, const Payload& payload) {
    namespace client = engine::client;
    if (const auto* ack = std::get_if<client::Ack>(&request)) {
      // Past anything delivered: the leader answers invalid_ack.
      if (ack->inbox_seq > delivered_)
        return attached_ ? ClientAction::forward : ClientAction::absorbed;
      client_acked_ = std::max(client_acked_, ack->inbox_seq);
      return ClientAction::absorbed;
    }
    if (std::holds_alternative<client::Send>(request)) {
      if (unacked_sends_.size() >= kMaxUnackedSends) return ClientAction::close;
      unacked_sends_.insert_or_assign(engine::request_id(request), payload);
      return attached_ ? ClientAction::forward : ClientAction::absorbed;
    }
    // Neither has an answer to wait for, and both are moot by the time an upstream is back:
    // forwarded, or dropped while detached. A typing indicator's only answer is a failure,
    // which during a resume would read as the upstream's own (on_event): dropped then too.
    if (std::holds_alternative<client::Heartbeat>(request)) {
      return attached_ ? ClientAction::forward : ClientAction::absorbed;
    }
    if (std::holds_alternative<client::Typing>(request)) {
      return attached_ && !resuming_ ? ClientAction::forward : ClientAction::absorbed;
    }
    if (!attached_) return ClientAction::refuse;
    unanswered_.insert(engine::request_id(request));
    return ClientAction::forward;
  }

  // The ack to send upstream now, if any: the client's, as far as this upstream delivered.
  std::optional<engine::InboxSeq> ack_to_forward() {
    const engine::InboxSeq target = std::min(client_acked_, upstream_sent_);
    if (!attached_ || target <= upstream_acked_) return std::nullopt;
    upstream_acked_ = target;
    return target;
  }

  // After it, call ack_to_forward(): what the client acked already this upstream may take.
  UpstreamAction on_event(engine::server::Event& event) {
    namespace server = engine::server;
    if (const auto* failure = std::get_if<server::Failure>(&event)) {
      const bool not_now = failure->code == engine::ErrorCode::overloaded ||
                           failure->code == engine::ErrorCode::not_leader;
      const bool ours = resuming_ || unacked_sends_.contains(failure->request) ||
                        (hello_ && failure->request == hello_->request);
      if (not_now && ours) return UpstreamAction::reattach;
    }
    if (std::holds_alternative<server::Welcome>(event)) {
      resuming_ = false;
      if (welcomed_) return UpstreamAction::drop;  // re-attached: the client was welcomed once
      welcomed_ = true;
      return UpstreamAction::pass;
    }
    if (auto* deliver = std::get_if<server::Deliver>(&event)) {
      if (deliver->entries.empty()) return UpstreamAction::drop;
      upstream_sent_ = std::max(upstream_sent_, deliver->entries.back().inbox_seq);
      std::erase_if(deliver->entries,
                    [&](const engine::InboxEntry& entry) { return entry.inbox_seq <= delivered_; });
      if (deliver->entries.empty()) return UpstreamAction::drop;
      delivered_ = deliver->entries.back().inbox_seq;
      return UpstreamAction::pass;
    }
    if (unsolicited(event)) return UpstreamAction::pass;
    std::visit(
        [&](const auto& typed) {
          if constexpr (requires { typed.request; }) {
            unacked_sends_.erase(typed.request);
            unanswered_.erase(typed.request);
          }
        },
        event);
    return UpstreamAction::pass;
  }

  // The upstream is gone. Returns the requests in flight other than sends: answer each
  // not_leader (the client retries them).
  std::vector<engine::RequestId> detach() {
    attached_ = false;
    std::vector<engine::RequestId> lost(unanswered_.begin(), unanswered_.end());
    unanswered_.clear();
    return lost;
  }

  // A new upstream is open (also the first one, before the client said anything).
  Resume attach() {
    upstream_sent_ = upstream_acked_ = client_acked_;
    attached_ = true;
    resuming_ = hello_.has_value();
    Resume resume;
    if (hello_) resume.hello = Hello{hello_->request, client_acked_};
    for (const auto& [request, payload] : unacked_sends_)
      resume.sends.push_back(payload);
    return resume;
  }

  bool attached() const { return attached_; }
  std::size_t unacked_sends() const { return unacked_sends_.size(); }
  engine::InboxSeq client_acked() const { return client_acked_; }

 private:
  // Events that carry a request id of 0 but answer no request: a change made on another
  // device of the user (settings, a mute, a message request answered), the presence
  // snapshot after every welcome, one commit's receipts coalesced (host/coalesce.hpp). Like
  // a receipt, typing or presence (which name no request), they must not settle a request
  // this client happened to number 0.
  static bool unsolicited(const engine::server::Event& event) {
    namespace server = engine::server;
    if (const auto* e = std::get_if<server::Settings>(&event)) return e->request == 0;
    if (const auto* e = std::get_if<server::ChannelMute>(&event)) return e->request == 0;
    if (const auto* e = std::get_if<server::RequestAnswered>(&event)) return e->request == 0;
    if (const auto* e = std::get_if<server::PresenceList>(&event)) return e->request == 0;
    if (const auto* e = std::get_if<server::Receipts>(&event)) return e->request == 0;
    return false;
  }

  bool attached_ = false;
  bool welcomed_ = false;
  bool resuming_ = false;  // re-attached, the new leader's welcome not yet seen
  std::optional<Hello> hello_;
  std::map<engine::RequestId, Payload> unacked_sends_;
  std::set<engine::RequestId> unanswered_;  // other requests in flight upstream
  engine::InboxSeq client_acked_ = 0;       // the client's highest ack
  engine::InboxSeq delivered_ = 0;          // the highest entry the client was given
  engine::InboxSeq upstream_sent_ = 0;      // the highest entry this upstream delivered
  engine::InboxSeq upstream_acked_ = 0;     // the highest ack sent on this upstream
};

}  // namespace parley::cluster
