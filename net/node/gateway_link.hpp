// A cluster follower as a gateway (docs/cluster.md, "Gateways"): a client's WebSocket to a
// node that does not lead is relayed, frame by frame, to the leader's /v1/ws under the
// client's own token. When the leader changes, the link re-attaches: it connects to the
// new leader, says hello with the device's cursor (what the client acked), and resends
// every send not yet acked under its clientMsgId (the engine answers a stored one as a
// duplicate). The client keeps its connection and sees no gap and no repeat: the link
// drops deliveries the client already has, a second welcome, and holds the client's acks
// until the new leader has sent that far (an ack past what a connection was sent is an
// error there).
//
// Why a relay of the client protocol, not a node-to-node protocol of engine inputs: the
// leader already authenticates, rate-limits and validates client frames, so a gateway adds
// no second path into the engine, and a follower's session needs nothing the leader's does
// not have. The cost is one WebSocket to the leader per client connection.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "net/node/http_api.hpp"
#include "net/node/shared.hpp"
#include "net/wire/codec.hpp"

namespace parley::net {

class GatewayLink : public std::enable_shared_from_this<GatewayLink> {
 public:
  // `upgrade`: the client's upgrade request (its token is relayed); `client_address`: for
  // the leader's per-address limits (X-Forwarded-For).
  GatewayLink(boost::beast::tcp_stream&& client, Shared& shared, Request upgrade,
              std::string client_address, AddressLimiter::Slot slot);
  // Connects to the leader, then accepts the client's upgrade (or answers it with the
  // leader's refusal: 401 for a revoked token, 503 when no leader is known).
  void run();

 private:
  using Stream = boost::beast::websocket::stream<boost::beast::tcp_stream>;
  struct Frame {
    std::string bytes;
    bool text = false;
  };

  void connect_upstream();
  void on_upstream_open(boost::beast::error_code ec);
  void accept_client();
  void upstream_lost(const std::string& why);
  void retry_later();
  // Re-attached: hello with the cursor, then every unacked send.
  void resume();

  void read_client();
  void on_client_frame(const Frame& frame);
  void read_upstream();
  void on_upstream_frame(Frame frame);
  // Forwards the client's ack as far as the leader has sent on this upstream.
  void forward_ack();

  void send_client(Frame frame);
  void send_upstream(Frame frame);
  void write_client();
  void write_upstream();
  void fail_client(engine::RequestId request, engine::ErrorCode code, const std::string& why);
  // Closes both sides; the client with `code` (the leader's own, when it closed this client).
  void close_all(const std::string& why, boost::beast::websocket::close_code code =
                                             boost::beast::websocket::close_code::going_away);

  Shared& shared_;
  Request upgrade_;
  std::string client_address_;
  AddressLimiter::Slot slot_;
  Stream client_;
  std::optional<Stream> upstream_;
  boost::asio::steady_timer retry_;
  bool client_open_ = false;
  bool attached_ = false;  // the upstream is open and (after a loss) resumed
  bool closed_ = false;
  int attempts_ = 0;              // upstream connects since the last success
  std::uint64_t generation_ = 0;  // tells the current upstream's callbacks from a dead one's
  std::deque<Frame> to_client_, to_upstream_;
  bool writing_client_ = false, writing_upstream_ = false;
  boost::beast::flat_buffer client_buffer_, upstream_buffer_;

  // What re-attaching needs.
  Encoding encoding_ = Encoding::json;
  std::optional<Hello> hello_;
  std::map<engine::RequestId, Frame> unacked_sends_;
  std::map<engine::RequestId, bool> unanswered_;  // other requests in flight upstream
  engine::InboxSeq client_acked_ = 0;             // the client's highest ack
  engine::InboxSeq delivered_ = 0;                // the highest entry the client was given
  engine::InboxSeq upstream_sent_ = 0;            // the highest entry this upstream delivered
  engine::InboxSeq upstream_acked_ = 0;           // the highest ack sent on this upstream
  bool welcomed_ = false;
  bool resuming_ = false;  // re-attached, the new leader's welcome not yet seen
};

}  // namespace parley::net
