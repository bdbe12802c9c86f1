#include "net/node/cluster_member.hpp"

#include <random>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include "net/node/metrics.hpp"
#include "net/node/shared.hpp"
#include "storage/named_thread.hpp"

namespace parley::net {

std::vector<std::string> split_endpoints(const std::string& list) {
  std::vector<std::string> endpoints;
  std::stringstream stream(list);
  for (std::string endpoint; std::getline(stream, endpoint, ',');) {
    if (!endpoint.empty()) endpoints.push_back(endpoint);
  }
  if (endpoints.empty()) throw std::invalid_argument("--etcd wants HOST:PORT[,HOST:PORT...]");
  return endpoints;
}

std::optional<NodeAddress> parse_node_url(const std::string& url) {
  const auto start = url.find("://");
  if (start == std::string::npos) return std::nullopt;
  const std::string rest = url.substr(start + 3);
  return parse_node_address(rest.substr(0, rest.find('/')));
}

std::optional<NodeAddress> peer_address_of(const host::GatewayInfo& node) {
  return node.peer.empty() ? parse_node_url(node.url) : parse_node_address(node.peer);
}

std::optional<NodeAddress> parse_node_address(const std::string& authority) {
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  unsigned port = 0;
  const std::string digits = authority.substr(colon + 1);
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (error != std::errc() || end != digits.data() + digits.size() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  return NodeAddress{authority.substr(0, colon), static_cast<std::uint16_t>(port)};
}

ClusterMember::ClusterMember(const NodeConfig& config, engine::Store* store, std::string public_url,
                             Metrics& metrics)
    : config_(config),
      role_(host::parse_node_role(config.role).value_or(host::NodeRole::both)),
      name_(config.node_name.empty() ? config.listen : config.node_name),
      public_url_(std::move(public_url)),
      metrics_(metrics),
      engine_client_(split_endpoints(config.etcd),
                     std::chrono::milliseconds(config.etcd_timeout_ms)),
      engine_log_(engine_client_, config.cluster_prefix + "shard/0/"),
      elector_client_(split_endpoints(config.etcd),
                      std::chrono::milliseconds(config.etcd_timeout_ms)),
      elector_log_(elector_client_, config.cluster_prefix + "shard/0/"),
      directory_(elector_client_, config.cluster_prefix + "nodes/"),
      elector_(elector_log_, name_, config.lease_ttl_s) {
  if (!host::parse_node_role(config.role)) {
    throw std::invalid_argument("--role must be both, gateway or replica, not '" + config.role +
                                "'");
  }
  if ((store == nullptr) != (role_ == host::NodeRole::gateway)) {
    throw std::invalid_argument("a gateway has no store; every other role has one");
  }
  // A hold shorter than a few report periods would let a live replica's report lapse.
  if (config.trim_hold_s != 0 && config.trim_hold_s < 10)
    throw std::invalid_argument("--trim-hold-s must be 0 (for ever) or at least 10");
  engine_log_.set_trim_hold(config.trim_hold_s);
  if (store != nullptr)
    replica_ = std::make_unique<cluster::Replica>(*store, engine_log_, config.engine);
}

ClusterMember::~ClusterMember() {
  stop();
}

void ClusterMember::start() {
  thread_ = storage::named_thread("parley-elect", [this] { elect(); });
}

void ClusterMember::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  token_ = 0;
  try {
    if (replica_) elector_.resign();
    if (directory_lease_ != 0) directory_.deregister(directory_lease_);
  } catch (const std::exception&) {
    // etcd is gone: the leases expire by themselves.
  }
}

void ClusterMember::step_down(std::uint64_t token) {
  if (token == 0) return;
  step_down_ = token;
  token_.compare_exchange_strong(token, 0);
  wake_.notify_all();
}

void ClusterMember::report_progress() {
  const std::int64_t now = steady_now_us();
  if (now - last_report_us_ < 1'000'000) return;
  last_report_us_ = now;
  // The leader trims what every replica applied, every ten seconds; first, as deletes go
  // through even when etcd's space quota refuses puts.
  if (token_.load() != 0 && now - last_trim_us_ >= 10'000'000) {
    last_trim_us_ = now;
    try {
      replica_->trim_log();
    } catch (const std::exception& error) {
      log_line(std::string("cluster: cannot trim the log: ") + error.what());
    }
  }
  try {
    replica_->report_applied(name_);
  } catch (const std::exception& error) {
    log_line(std::string("cluster: cannot report progress: ") + error.what());
  }
}

std::string ClusterMember::leader_name() const {
  std::lock_guard lock(mutex_);
  return leader_name_;
}

std::string ClusterMember::leader_url() const {
  std::lock_guard lock(mutex_);
  return leader_url_;
}

std::optional<NodeAddress> ClusterMember::leader_peer() const {
  std::lock_guard lock(mutex_);
  return leader_peer_;
}

void ClusterMember::elect() {
  const auto period = std::chrono::microseconds(cluster::Elector::period_us(config_.lease_ttl_s));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    try {
      refresh_leader();  // first: /v1/discover must not name a dead leader for long
    } catch (const std::exception&) {
    }
    elect_once();
    lock.lock();
    wake_.wait_for(lock, period, [&] { return stopping_ || step_down_.load() != 0; });
  }
}

void ClusterMember::elect_once() {
  if (role_ != host::NodeRole::gateway) campaign_once();
  try {
    register_self();
    if (std::exchange(refresh_after_, false)) refresh_leader();
  } catch (const std::exception&) {
    // etcd unreachable: the next round registers again.
  }
}

void ClusterMember::campaign_once() {
  const cluster::ElectionRound round =
      elector_.round(steady_now_us(), ready_.load(), step_down_.exchange(0));
  // token_ changes only on an event: the engine thread's step_down() may have cleared it
  // during this round, and writing the round's token back would hand it leadership again.
  switch (round.event) {
    case cluster::ElectionEvent::none:
      break;
    case cluster::ElectionEvent::won:
      token_ = round.token;
      ++metrics_.cluster_leaderships;
      log_line("cluster: " + name_ + " leads (token " + std::to_string(round.token) + ")");
      refresh_after_ = true;  // /v1/discover names the new leader without waiting a round
      break;
    case cluster::ElectionEvent::stepped_down:
      token_ = 0;
      log_line("cluster: stepped down as leader");
      break;
    case cluster::ElectionEvent::lease_expired:
    case cluster::ElectionEvent::unreachable:
      token_ = 0;
      log_line(std::string("cluster: lost leadership (") + cluster::to_string(round.event) +
               (round.detail.empty() ? "" : ": " + round.detail) + ")");
      break;
  }
}

void ClusterMember::register_self() {
  // The directory: this node's public URL and load under a lease of its own.
  const host::GatewayInfo self{name_, public_url_,
                               static_cast<std::uint64_t>(metrics_.connections.load()), role_,
                               config_.peer_address};
  if (directory_lease_ == 0 || !directory_.keep_alive(directory_lease_)) {
    directory_lease_ =
        directory_.register_gateway(self, std::max<std::int64_t>(config_.lease_ttl_s, 2));
    published_connections_ = self.connections;
    published_at_us_ = steady_now_us();
    return;
  }
  // A new load at most every 2 s: one etcd write, not one per connection.
  if (self.connections != published_connections_ &&
      steady_now_us() - published_at_us_ >= 2'000'000) {
    directory_.update(directory_lease_, self);
    published_connections_ = self.connections;
    published_at_us_ = steady_now_us();
  }
}

std::string ClusterMember::best_gateway_url() const {
  std::lock_guard lock(mutex_);
  if (leader_url_.empty()) return "";  // nobody to relay to
  // Loads are up to 2 s old: a crowd arriving at once (the clients of a node that died)
  // spreads over every gateway within 10% (and 10 connections) of the least loaded.
  std::uint64_t least = UINT64_MAX;
  for (const host::GatewayInfo& gateway : gateways_) {
    if (gateway.serves_clients()) least = std::min(least, gateway.connections);
  }
  std::vector<const host::GatewayInfo*> near;
  for (const host::GatewayInfo& gateway : gateways_) {
    if (gateway.serves_clients() &&
        gateway.connections <= least + std::max<std::uint64_t>(10, least / 10))
      near.push_back(&gateway);
  }
  // Replicas only (no gateway registered yet): clients go to the leader itself.
  if (near.empty()) return leader_url_;
  thread_local std::minstd_rand pick(std::random_device{}());
  return near[pick() % near.size()]->url;
}

std::vector<std::string> ClusterMember::gateway_urls() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> urls;
  for (const host::GatewayInfo& gateway : gateways_) {
    if (gateway.serves_clients()) urls.push_back(gateway.url);
  }
  return urls;
}

bool ClusterMember::is_peer(const std::string& address) const {
  std::lock_guard lock(mutex_);
  return peers_.contains(address);
}

void ClusterMember::refresh_leader() {
  const std::string leader = elector_log_.leader().value_or("");
  std::string url;
  std::optional<NodeAddress> leader_peer;
  std::set<std::string> peers;
  std::vector<host::GatewayInfo> gateways = directory_.gateways();  // by name
  for (const host::GatewayInfo& node : gateways) {
    const auto address = peer_address_of(node);
    if (node.name == leader) {
      url = node.url;
      leader_peer = address;
    }
    if (address) peers.insert(address->host);
  }
  std::lock_guard lock(mutex_);
  leader_name_ = leader;
  leader_url_ = url;
  leader_peer_ = leader_peer;
  gateways_ = std::move(gateways);
  peers_ = std::move(peers);
}

}  // namespace parley::net
