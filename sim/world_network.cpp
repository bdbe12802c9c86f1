// The network: links between devices and their node, with latency, jitter, TCP order and
// partitions.
#include "sim/world_impl.hpp"

#include <algorithm>

namespace parley::sim::detail {

bool World::reachable(HostId a, HostId b) const {
  static const std::vector<unsigned> kNone;
  const auto cuts = [this](HostId host) -> const std::vector<unsigned>& {
    const auto found = partition_.find(host);
    return found == partition_.end() ? kNone : found->second;
  };
  return cuts(a) == cuts(b);
}

// Cuts `hosts` off from every host outside them, closing every connection that now
// crosses a cut; returns the cut's id for uncut().
unsigned World::cut(std::vector<HostId> hosts, std::string name) {
  const unsigned id = ++next_partition_;
  for (HostId host : hosts)
    partition_[host].push_back(id);  // ids only grow: each host's list stays sorted
  cuts_[id] = Cut{std::move(hosts), std::move(name)};
  drop_links_of({});
  return id;
}

// Undoes one cut (nothing if it was healed already); other cuts stay.
void World::uncut(unsigned id) {
  const auto found = cuts_.find(id);
  if (found == cuts_.end()) return;
  for (HostId host : found->second.hosts) {
    auto in = partition_.find(host);
    if (in == partition_.end()) continue;
    std::erase(in->second, id);
    if (in->second.empty()) partition_.erase(in);
  }
  cuts_.erase(found);
}

void World::heal(const std::string& name) {
  std::vector<unsigned> healed;
  for (const auto& [id, cut] : cuts_) {
    if (name.empty() || cut.name == name) healed.push_back(id);
  }
  for (unsigned id : healed)
    uncut(id);
}

TimeUs World::transit() {
  return scenario_.latency + rng_.between(0, scenario_.jitter);
}

void World::to_node(ConnectionId id, client::Request request) {
  Link* found = links_.find(id);
  if (found == nullptr || !found->open) return;
  Link& link = *found;
  link.last_to_node = std::max(now_ + transit(), link.last_to_node);  // TCP keeps order
  at(link.last_to_node, [this, id, request = std::move(request)]() mutable {
    const Link* arrived = links_.find(id);
    if (arrived == nullptr || !arrived->open) return;
    Node& node = *nodes_[arrived->node];
    if (!node.up || node.generation != arrived->node_generation) return;
    node_input(node, Received{id, std::move(request)});
  });
}

void World::to_client(ConnectionId id, server::Event event) {
  Link* found = links_.find(id);
  if (found == nullptr || !found->open) return;
  Link& link = *found;
  link.last_to_client = std::max(now_ + transit(), link.last_to_client);
  at(link.last_to_client, [this, id, event = std::move(event)]() mutable {
    const Link* arrived = links_.find(id);
    if (arrived == nullptr || !arrived->open) return;
    if (arrived->relay != 0) return gateway_on_upstream(arrived->relay, id, std::move(event));
    on_event(arrived->device, std::move(event));
  });
}

void World::to_server(std::size_t d, client::Request request) {
  if (has_gateways()) return to_gateway(devices_[d].link, std::move(request));
  to_node(devices_[d].link, std::move(request));
}

// The device's connection breaks (a disconnect fault, a logout's reconnect).
void World::drop_device_link(std::size_t d) {
  const ConnectionId id = devices_[d].link;
  if (id == 0) return;
  if (has_gateways()) return drop_client_link(id);
  drop_link(id, true);
}

// The device saw its connection `id` close: it reconnects with backoff.
void World::device_disconnected(std::size_t d, ConnectionId id) {
  Device& device = devices_[d];
  if (device.link != id) return;
  device.link = 0;
  if (device.state == DeviceState::online || device.state == DeviceState::connecting) {
    device.state = DeviceState::offline;
    schedule_reconnect(d);
  }
}

// Closes a connection on both sides; the client reconnects with backoff (a gateway's
// upstream: the gateway re-attaches).
void World::drop_link(ConnectionId id, bool tell_node) {
  Link* found = links_.find(id);
  if (found == nullptr || !found->open) return;
  Link& link = *found;
  link.open = false;
  Node& node = *nodes_[link.node];
  if (tell_node && node.up && node.generation == link.node_generation && node.links.erase(id)) {
    node_input(node, Disconnected{id});
  }
  node.links.erase(id);
  const std::size_t d = link.device;
  const ConnectionId relay = link.relay;
  links_.erase(id);  // `link` dangles from here on
  if (relay != 0) return upstream_lost(relay, id);
  device_disconnected(d, id);
}

// Partitions and host faults: a device cut off from its node (or gateway) loses its link.
void World::drop_links_of(const std::vector<HostId>& hosts) {
  std::vector<ConnectionId> doomed, doomed_clients;
  client_links_.for_each([&](ConnectionId id, const ClientLink& link) {
    const Device& device = devices_[link.device];
    const HostId client = device_host(device.user, device.index);
    const bool named = std::find(hosts.begin(), hosts.end(), client) != hosts.end();
    if (named || !reachable(client, gateway_host(link.gateway))) doomed_clients.push_back(id);
  });
  for (ConnectionId id : doomed_clients)
    drop_client_link(id);
  links_.for_each([&](ConnectionId id, const Link& link) {
    if (link.relay != 0) {  // a gateway's upstream: only a fault naming its node cuts it
      if (std::find(hosts.begin(), hosts.end(), node_host(link.node)) != hosts.end())
        doomed.push_back(id);
      return;
    }
    const Device& device = devices_[link.device];
    const HostId client = device_host(device.user, device.index);
    if (!reachable(client, node_host(link.node))) doomed.push_back(id);
    for (HostId host : hosts) {
      if (host == client || host == node_host(link.node)) doomed.push_back(id);
    }
  });
  std::sort(doomed.begin(), doomed.end());
  doomed.erase(std::unique(doomed.begin(), doomed.end()), doomed.end());
  for (ConnectionId id : doomed)
    drop_link(id, true);
}

}  // namespace parley::sim::detail
