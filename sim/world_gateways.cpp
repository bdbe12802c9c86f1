// A clustered world's gateways ([cluster] gateways > 0; docs/scenarios.md, "A cluster"): a
// device connects to the gateway discovery names (the live one holding the fewest clients),
// which relays it to the leading replica over an upstream connection of its own, by the
// rules of production's gateway (cluster::RelaySession, also run by
// net/node/gateway_link.cpp). When the upstream is lost (the leader crashed, stopped
// serving, or refused the replay) the gateway re-attaches: every 250 ms it asks the
// directory for the leader, opens a new upstream at the client's acked cursor and replays
// the unanswered sends; the device keeps its connection. With no leader for 15 s, or when
// the gateway is killed (`kill_gateway`), the device is dropped and reconnects through
// discovery.
//
// Simplified against production: a gateway refuses a new client at once when no replica
// leads (production waits up to 15 s for one first); a gateway's links to the replicas are
// never partitioned (partitions cut devices from gateways); discovery picks the gateway
// with the fewest clients (production picks at random among the near-least-loaded); and
// a simulated leader never answers `overloaded` or `not_leader`, so the relay's "refused
// replay: attach again" rule runs in tests/relay_session_test.cpp only.
#include <algorithm>
#include <optional>
#include <string>

#include "sim/world_impl.hpp"

namespace parley::sim::detail {

namespace {

constexpr TimeUs kAttachRetry = 250'000;  // as GatewayLink::retry_later
constexpr std::uint32_t kMaxAttachAttempts = 60;

using Session = cluster::RelaySession<client::Request>;

}  // namespace

void World::build_gateways() {
  gateways_.resize(scenario_.gateways);
}

// Discovery, then the gateway's accept: the client is welcomed by the leader through its
// first upstream.
bool World::connect_through_gateway(std::size_t d) {
  Device& dev = devices_[d];
  const HostId client = device_host(dev.user, dev.index);
  std::optional<std::uint32_t> best;
  for (std::uint32_t g = 0; g < gateways_.size(); ++g) {
    if (!gateways_[g].up || !reachable(client, gateway_host(g))) continue;
    if (!best || gateways_[g].clients.size() < gateways_[*best].clients.size()) best = g;
  }
  if (!best || serving_leader() == nullptr) return false;
  const ConnectionId id = next_connection_++;
  ClientLink link;
  link.device = d;
  link.gateway = *best;
  link.gateway_generation = gateways_[*best].generation;
  link.last_to_gateway = link.last_to_client = now_;
  link.session.on_hello(0, dev.cursor);
  client_links_.put(id, std::move(link));
  gateways_[*best].clients.insert(id);
  dev.link = id;
  gateway_attach(id);
  return true;
}

void World::to_gateway(ConnectionId id, client::Request request) {
  ClientLink* found = client_links_.find(id);
  if (found == nullptr || !found->open) return;
  found->last_to_gateway = std::max(now_ + transit(), found->last_to_gateway);  // TCP order
  at(found->last_to_gateway, [this, id, request = std::move(request)]() mutable {
    const ClientLink* arrived = client_links_.find(id);
    if (arrived == nullptr || !arrived->open) return;
    if (arrived->gateway_generation != gateways_[arrived->gateway].generation) return;
    gateway_on_client(id, std::move(request));
  });
}

void World::gateway_on_client(ConnectionId id, client::Request request) {
  ClientLink& link = *client_links_.find(id);
  switch (link.session.on_request(request, request)) {
    case Session::ClientAction::forward:
      to_node(link.upstream, std::move(request));
      break;
    case Session::ClientAction::absorbed:
      break;
    case Session::ClientAction::refuse:
      gateway_to_client(id, server::Failure{request_id(request), ErrorCode::not_leader,
                                            "the cluster is changing leader; retry in a moment"});
      return;
    case Session::ClientAction::close:
      drop_client_link(id);
      return;
  }
  gateway_forward_ack(link);
}

void World::gateway_forward_ack(ClientLink& link) {
  if (const auto ack = link.session.ack_to_forward()) to_node(link.upstream, client::Ack{*ack});
}

void World::gateway_to_client(ConnectionId id, server::Event event) {
  ClientLink* found = client_links_.find(id);
  if (found == nullptr || !found->open) return;
  found->last_to_client = std::max(now_ + transit(), found->last_to_client);
  at(found->last_to_client, [this, id, event = std::move(event)]() mutable {
    const ClientLink* arrived = client_links_.find(id);
    if (arrived == nullptr || !arrived->open) return;
    on_event(arrived->device, std::move(event));
  });
}

// An event from the leader on `upstream` (one the link may have replaced since).
void World::gateway_on_upstream(ConnectionId id, ConnectionId upstream, server::Event event) {
  ClientLink* found = client_links_.find(id);
  if (found == nullptr || !found->open || found->upstream != upstream) return;
  if (found->gateway_generation != gateways_[found->gateway].generation) return;
  switch (found->session.on_event(event)) {
    case Session::UpstreamAction::reattach:
      upstream_lost(id, upstream);
      return;
    case Session::UpstreamAction::drop:
      break;
    case Session::UpstreamAction::pass:
      gateway_to_client(id, std::move(event));
      break;
  }
  gateway_forward_ack(*found);
}

void World::schedule_attach(ConnectionId id, TimeUs delay) {
  ClientLink& link = *client_links_.find(id);
  const std::uint64_t attach = ++link.attach;
  at(now_ + delay, [this, id, attach] {
    const ClientLink* current = client_links_.find(id);
    if (current != nullptr && current->open && current->attach == attach) gateway_attach(id);
  });
}

// Opens an upstream to the leader the directory names and replays the hello (as the
// engine's Connected at the client's acked cursor) and the unanswered sends.
void World::gateway_attach(ConnectionId id) {
  ClientLink& link = *client_links_.find(id);
  Node* node = serving_leader();
  if (node == nullptr) {
    if (++link.attempts >= kMaxAttachAttempts) return drop_client_link(id);  // "no leader"
    return schedule_attach(id, kAttachRetry);
  }
  link.attempts = 0;
  const ConnectionId upstream = next_connection_++;
  links_.put(upstream, Link{link.device, node->index, node->generation, true, now_, now_, id});
  node->links.insert(upstream);
  link.upstream = upstream;
  Session::Resume resume = link.session.attach();
  if (resume.hello) {
    node_input(*node, Connected{upstream, devices_[link.device].id, resume.hello->cursor});
  }
  if (options_.planted_bug == PlantedBug::relay_skips_replay) return;
  for (client::Request& send : resume.sends)
    to_node(upstream, std::move(send));
}

// The upstream died (its node crashed or stopped serving) or the leader refused the
// replay: requests in flight other than sends are answered not_leader; attach again.
void World::upstream_lost(ConnectionId id, ConnectionId upstream) {
  ClientLink* found = client_links_.find(id);
  if (found == nullptr || !found->open || found->upstream != upstream) return;
  found->upstream = 0;
  for (RequestId request : found->session.detach()) {
    gateway_to_client(
        id, server::Failure{request, ErrorCode::not_leader, "the cluster changed leader; retry"});
  }
  drop_link(upstream, true);  // a refused replay: the gateway closes that upstream itself
  ++metrics_.reattaches;
  schedule_attach(id, kAttachRetry);
}

// The leader closed the upstream about this client (logged out, replaced, too slow): the
// gateway passes the close on.
void World::upstream_closed_by_leader(ConnectionId upstream) {
  const Link* link = links_.find(upstream);
  if (link == nullptr) return;
  const ConnectionId id = link->relay;
  ClientLink* client = client_links_.find(id);
  const bool current = client != nullptr && client->upstream == upstream;
  if (current) client->upstream = 0;  // not re-attached: the close is about this client
  drop_link(upstream, false);
  if (current) drop_client_link(id);
}

// Closes a device's client link and its upstream; the device reconnects with backoff.
void World::drop_client_link(ConnectionId id) {
  ClientLink* found = client_links_.find(id);
  if (found == nullptr || !found->open) return;
  found->open = false;
  const ConnectionId upstream = std::exchange(found->upstream, 0);
  const std::size_t d = found->device;
  gateways_[found->gateway].clients.erase(id);
  client_links_.erase(id);  // `found` dangles from here on
  if (upstream != 0) drop_link(upstream, true);
  device_disconnected(d, id);
}

// The gateway's process dies with every client link and upstream; it restarts after
// `duration`, holding nothing.
void World::kill_gateway(std::uint32_t gateway, TimeUs duration, const std::string& where) {
  Gateway& killed = gateways_[gateway];
  if (!killed.up)
    return fault_record(where + "kill_gateway: gateway " + std::to_string(gateway) +
                        " is down already");
  fault_record(where + "kill_gateway: gateway " + std::to_string(gateway) + " holding " +
               std::to_string(killed.clients.size()) + " clients");
  killed.up = false;
  ++killed.generation;
  for (ConnectionId id : killed.clients.ids())
    drop_client_link(id);
  const std::uint64_t generation = killed.generation;
  at(now_ + duration, [this, gateway, generation] {
    // Not if settle() revived it and another kill came since.
    if (gateways_[gateway].generation == generation) gateways_[gateway].up = true;
  });
}

}  // namespace parley::sim::detail
