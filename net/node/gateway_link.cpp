#include "net/node/gateway_link.hpp"

#include <boost/asio.hpp>

#include <algorithm>

#include "net/node/cluster_member.hpp"

namespace parley::net {

using namespace parley::engine;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

constexpr int kMaxAttempts = 60;  // upstream connects 250 ms apart: 15 s without a leader
constexpr std::size_t kUpstreamFrameMax = 64 << 20;

}  // namespace

GatewayLink::GatewayLink(beast::tcp_stream&& client, Shared& shared, Request upgrade,
                         std::string client_address, AddressLimiter::Slot slot)
    : shared_(shared),
      upgrade_(std::move(upgrade)),
      client_address_(std::move(client_address)),
      slot_(std::move(slot)),
      client_(std::move(client)),
      retry_(client_.get_executor()) {}

void GatewayLink::run() {
  connect_upstream();
}

void GatewayLink::connect_upstream() {
  if (closed_) return;
  const auto leader = shared_.cluster->leader_peer();
  boost::system::error_code invalid;
  const auto ip = leader ? asio::ip::make_address(leader->host, invalid) : asio::ip::address();
  if (!leader || invalid) return retry_later();
  const tcp::endpoint endpoint(ip, leader->port);
  ++attempts_;
  const std::uint64_t generation = ++generation_;
  upstream_.emplace(client_.get_executor());
  upstream_->read_message_max(kUpstreamFrameMax);
  upstream_->set_option(websocket::stream_base::decorator(
      [token = bearer_token(upgrade_), address = client_address_](websocket::request_type& req) {
        req.set(http::field::authorization, "Bearer " + token);
        req.set("X-Forwarded-For", address);
      }));
  beast::get_lowest_layer(*upstream_).expires_after(std::chrono::seconds(5));
  auto self = shared_from_this();
  beast::get_lowest_layer(*upstream_)
      .async_connect(
          endpoint, [self, generation, host = leader->authority()](beast::error_code ec) {
            if (generation != self->generation_ || self->closed_) return;
            if (ec) return self->on_upstream_open(ec);
            auto response = std::make_shared<websocket::response_type>();
            self->upstream_->async_handshake(
                *response, host, "/v1/ws", [self, generation, response](beast::error_code refused) {
                  if (generation != self->generation_ || self->closed_) return;
                  if (refused && response->result() == http::status::unauthorized) {
                    // The token was refused: the client learns it as it would from the leader.
                    return self->close_all("unauthorized");
                  }
                  self->on_upstream_open(refused);
                });
          });
}

void GatewayLink::on_upstream_open(beast::error_code ec) {
  if (ec) {
    upstream_.reset();
    return retry_later();
  }
  beast::get_lowest_layer(*upstream_).expires_never();
  attempts_ = 0;
  upstream_open_ = true;
  if (client_open_) {
    resume();
  } else if (!accepting_) {
    accept_client();  // its completion attaches this upstream, if it is still open then
  }
  read_upstream();
}

void GatewayLink::retry_later() {
  if (closed_) return;
  if (attempts_ >= kMaxAttempts) return close_all("no leader");
  ++attempts_;
  retry_.expires_after(std::chrono::milliseconds(250));
  retry_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (!ec) self->connect_upstream();
  });
}

void GatewayLink::accept_client() {
  client_.read_message_max(shared_.config.max_frame_bytes);
  client_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  accepting_ = true;
  client_.async_accept(upgrade_, [self = shared_from_this()](beast::error_code ec) {
    if (ec) return self->close_all("client handshake failed");
    self->accepting_ = false;
    self->client_open_ = true;
    // The first upstream: nothing to replay yet. One lost while the client's handshake ran
    // is re-attached by the reconnect under way (on_upstream_open then resumes).
    if (self->upstream_open_) self->session_.attach();
    ++self->shared_.metrics.connections;
    ++self->shared_.metrics.connections_total;
    self->read_client();
    self->write_upstream();
  });
}

void GatewayLink::resume() {
  auto resume = session_.attach();
  if (resume.hello) {
    send_upstream(
        {encode_client_frame(Hello{resume.hello->request, resume.hello->cursor}, encoding_),
         encoding_ == Encoding::json});
  }
  for (Frame& frame : resume.sends)
    send_upstream(std::move(frame));
}

void GatewayLink::upstream_lost(const std::string& why) {
  if (closed_) return;
  log_line("gateway: upstream lost (" + why + "); re-attaching");
  const std::vector<RequestId> lost = session_.detach();
  upstream_open_ = false;
  ++generation_;
  if (upstream_) {
    beast::error_code ignored;
    beast::get_lowest_layer(*upstream_).socket().close(ignored);
    upstream_.reset();
  }
  to_upstream_.clear();
  writing_upstream_ = false;
  upstream_buffer_.clear();
  for (RequestId request : lost)
    fail_client(request, ErrorCode::not_leader, "the cluster changed leader; retry");
  attempts_ = 0;
  retry_later();
}

void GatewayLink::read_client() {
  client_.async_read(client_buffer_, [self = shared_from_this()](beast::error_code ec,
                                                                 std::size_t) {
    if (ec) return self->close_all("client gone");
    Frame frame{beast::buffers_to_string(self->client_buffer_.data()), self->client_.got_text()};
    self->client_buffer_.consume(self->client_buffer_.size());
    self->on_client_frame(frame);
    self->read_client();
  });
}

void GatewayLink::on_client_frame(const Frame& frame) {
  encoding_ = frame.text ? Encoding::json : Encoding::binary;
  auto decoded = decode_client_frame(frame.bytes, encoding_);
  const auto* client_frame = std::get_if<ClientFrame>(&decoded);
  if (client_frame == nullptr) {
    if (session_.attached()) send_upstream(frame);  // the leader answers malformed_frame
    return;
  }
  using Action = cluster::RelaySession<Frame>::ClientAction;
  Action action = Action::absorbed;
  RequestId request = 0;
  if (const auto* hello = std::get_if<Hello>(client_frame)) {
    action = session_.on_hello(hello->request, hello->cursor);
  } else {
    const auto& typed = std::get<client::Request>(*client_frame);
    request = request_id(typed);
    action = session_.on_request(typed, frame);
  }
  switch (action) {
    case Action::forward:
      send_upstream(frame);
      break;
    case Action::absorbed:
      break;
    case Action::refuse:
      return fail_client(request, ErrorCode::not_leader,
                         "the cluster is changing leader; retry in a moment");
    case Action::close:
      return close_all("too many unacked sends");
  }
  forward_ack();
}

void GatewayLink::forward_ack() {
  if (const auto ack = session_.ack_to_forward()) send_upstream(encode(client::Ack{*ack}));
}

GatewayLink::Frame GatewayLink::encode(const client::Request& request) const {
  return {encode_client_frame(request, encoding_), encoding_ == Encoding::json};
}

void GatewayLink::read_upstream() {
  auto self = shared_from_this();
  const std::uint64_t generation = generation_;
  upstream_->async_read(upstream_buffer_, [self, generation](beast::error_code ec, std::size_t) {
    if (generation != self->generation_ || self->closed_) return;
    if (ec == websocket::error::closed) {
      const auto reason = self->upstream_->reason();
      // 1001: the leader stopped or stopped leading. Any other close is about this client
      // (replaced, logged out, too slow): it is passed on.
      if (reason.code != websocket::close_code::going_away &&
          reason.code != websocket::close_code::try_again_later) {
        return self->close_all(std::string(reason.reason.c_str()),
                               static_cast<websocket::close_code>(reason.code));
      }
    }
    if (ec) return self->upstream_lost(ec.message());
    Frame frame{beast::buffers_to_string(self->upstream_buffer_.data()),
                self->upstream_->got_text()};
    self->upstream_buffer_.consume(self->upstream_buffer_.size());
    self->on_upstream_frame(std::move(frame));
    self->read_upstream();
  });
}

void GatewayLink::on_upstream_frame(Frame frame) {
  auto decoded = decode_server_event(frame.bytes, frame.text ? Encoding::json : Encoding::binary);
  auto* event = std::get_if<server::Event>(&decoded);
  if (event == nullptr) return send_client(std::move(frame));
  using Action = cluster::RelaySession<Frame>::UpstreamAction;
  switch (session_.on_event(*event)) {
    case Action::reattach:
      // The leader refused what the link replayed (a node still taking over, or full):
      // nothing was done, and the next upstream gets it again.
      return upstream_lost("the leader refused: " + std::get<server::Failure>(*event).message);
    case Action::drop:
      break;
    case Action::pass:
      if (std::holds_alternative<server::Deliver>(*event)) {
        send_client({encode_server_event(*event, encoding_), encoding_ == Encoding::json});
      } else {
        send_client(std::move(frame));
      }
      break;
  }
  forward_ack();
}

void GatewayLink::send_client(Frame frame) {
  if (closed_ || !client_open_) return;
  if (to_client_.size() >= shared_.config.outbound_frames_max) {
    ++shared_.metrics.slow_consumer_closes;
    return close_all("too slow");
  }
  to_client_.push_back(std::move(frame));
  write_client();
}

void GatewayLink::send_upstream(Frame frame) {
  if (closed_) return;
  to_upstream_.push_back(std::move(frame));
  write_upstream();
}

void GatewayLink::write_client() {
  if (writing_client_ || to_client_.empty() || closed_) return;
  writing_client_ = true;
  client_.text(to_client_.front().text);
  client_.async_write(asio::buffer(to_client_.front().bytes),
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->writing_client_ = false;
                        if (ec) return self->close_all("client write failed");
                        self->to_client_.pop_front();
                        self->write_client();
                      });
}

void GatewayLink::write_upstream() {
  if (writing_upstream_ || to_upstream_.empty() || !session_.attached() || !client_open_ ||
      closed_) {
    return;
  }
  writing_upstream_ = true;
  upstream_->text(to_upstream_.front().text);
  const std::uint64_t generation = generation_;
  upstream_->async_write(
      asio::buffer(to_upstream_.front().bytes),
      [self = shared_from_this(), generation](beast::error_code ec, std::size_t) {
        if (generation != self->generation_) return;
        self->writing_upstream_ = false;
        if (ec) return self->upstream_lost(ec.message());
        self->to_upstream_.pop_front();
        self->write_upstream();
      });
}

void GatewayLink::fail_client(RequestId request, ErrorCode code, const std::string& why) {
  shared_.metrics.count_error(std::string(to_string(code)));
  send_client({encode_server_event(server::Failure{request, code, why}, encoding_),
               encoding_ == Encoding::json});
}

void GatewayLink::close_all(const std::string& why, websocket::close_code code) {
  if (closed_) return;
  closed_ = true;
  ++generation_;
  retry_.cancel();
  if (upstream_) {
    beast::error_code ignored;
    beast::get_lowest_layer(*upstream_).socket().close(ignored);
  }
  if (client_open_) {
    --shared_.metrics.connections;
    client_.async_close(websocket::close_reason(code, why),
                        [self = shared_from_this()](beast::error_code) {});
    return;
  }
  // Never accepted: the client gets the refusal as HTTP.
  const bool unauthorized = why == "unauthorized";
  auto response = std::make_shared<Response>(
      unauthorized
          ? error_response(shared_, upgrade_, http::status::unauthorized, ErrorCode::unauthorized,
                           "the token was revoked or expired")
          : error_response(shared_, upgrade_, http::status::service_unavailable,
                           ErrorCode::not_leader, "no node leads the cluster now; retry shortly"));
  response->keep_alive(false);
  http::async_write(beast::get_lowest_layer(client_), *response,
                    [self = shared_from_this(), response](beast::error_code, std::size_t) {
                      beast::error_code ignored;
                      beast::get_lowest_layer(self->client_)
                          .socket()
                          .shutdown(tcp::socket::shutdown_both, ignored);
                    });
}

}  // namespace parley::net
