// A cluster follower as a gateway (docs/cluster.md, "Gateways"): a client's WebSocket to a
// node that does not lead is relayed, frame by frame, to the leader's /v1/ws under the
// client's own token. When the leader changes, the link re-attaches: it connects to the
// new leader, says hello with the device's cursor (what the client acked), and resends
// every send not yet acked under its clientMsgId (the engine answers a stored one as a
// duplicate). The client keeps its connection and sees no gap and no repeat. The rules
// are cluster::RelaySession's (cluster/relay_session.hpp), which the simulator's gateways
// run too; this class is their I/O.
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
#include <memory>
#include <optional>
#include <string>

#include "cluster/relay_session.hpp"
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
  Frame encode(const engine::client::Request& request) const;

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
  bool accepting_ = false;      // the client's handshake is under way
  bool upstream_open_ = false;  // the current upstream finished its handshake
  bool closed_ = false;
  int attempts_ = 0;              // upstream connects since the last success
  std::uint64_t generation_ = 0;  // tells the current upstream's callbacks from a dead one's
  std::deque<Frame> to_client_, to_upstream_;
  bool writing_client_ = false, writing_upstream_ = false;
  boost::beast::flat_buffer client_buffer_, upstream_buffer_;

  // What re-attaching needs.
  Encoding encoding_ = Encoding::json;
  cluster::RelaySession<Frame> session_;
};

}  // namespace parley::net
