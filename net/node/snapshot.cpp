#include "net/node/snapshot.hpp"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "cluster/etcd_client.hpp"
#include "cluster/etcd_directory.hpp"
#include "cluster/etcd_log.hpp"
#include "cluster/replica.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/shared.hpp"
#include "storage/lmdb_store.hpp"

#include <sodium.h>

namespace parley::net {

namespace fs = std::filesystem;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using cluster::Compare;
using cluster::Op;
using engine::ErrorCode;

namespace {

constexpr std::string_view kSnapshotPath = "/v1/cluster/snapshot";
constexpr std::string_view kKeyHeader = "X-Parley-Cluster-Key";

// The cluster's snapshot key: 32 random bytes (hex) under PREFIX snapshot_key, put by the
// first node that asks (only if absent) and read by every other.
std::string cluster_key(cluster::EtcdClient& client, const std::string& prefix) {
  const std::string key = prefix + "snapshot_key";
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  char hex[2 * sizeof bytes + 1];
  sodium_bin2hex(hex, sizeof hex, bytes, sizeof bytes);
  // Ours only if nobody's is there yet; either way, the one that is.
  return cluster::put_if_absent(client, key, hex);
}

}  // namespace

// ---- serving ----------------------------------------------------------------------------

SnapshotServer::SnapshotServer(storage::LmdbStore& store, std::string data_dir)
    : store_(store), directory_(std::move(data_dir) + "/snapshot-out") {}

SnapshotServer::~SnapshotServer() {
  std::lock_guard lock(mutex_);
  if (copier_.joinable()) copier_.join();
}

void SnapshotServer::serve(Shared& shared, const Request& request, const Reply& reply,
                           std::function<void(FileResponse)> reply_file) {
  if (shared.cluster == nullptr) {
    return reply(error_response(shared, request, http::status::not_found, ErrorCode::bad_request,
                                "this node runs alone (no --etcd)"));
  }
  if (!shared.cluster->is_peer(reply.address())) {
    return reply(error_response(shared, request, http::status::forbidden, ErrorCode::unauthorized,
                                "a snapshot is for the cluster's nodes only"));
  }
  if (busy_.exchange(true)) {
    return reply(error_response(shared, request, http::status::service_unavailable,
                                ErrorCode::overloaded, "a snapshot is being copied; retry later"));
  }
  std::lock_guard lock(mutex_);
  if (copier_.joinable()) copier_.join();  // the previous one, finished (busy_ was clear)
  copier_ = std::thread([this, &shared, request, reply, reply_file = std::move(reply_file)] {
    try {
      // An address alone does not get the store (a proxy on a node's host shares its
      // address): the caller must know the cluster's key, which only etcd's clients can read.
      if (!key_) {
        cluster::EtcdClient client(split_endpoints(shared.config.etcd),
                                   std::chrono::milliseconds(shared.config.etcd_timeout_ms));
        key_ = cluster_key(client, shared.config.cluster_prefix);
      }
      const std::string given(request[kKeyHeader]);
      if (given.size() != key_->size() ||
          sodium_memcmp(given.data(), key_->data(), given.size()) != 0) {
        busy_ = false;
        return reply(error_response(shared, request, http::status::forbidden,
                                    ErrorCode::unauthorized,
                                    "a snapshot is for the cluster's nodes only"));
      }
      fs::remove_all(directory_);
      fs::create_directories(directory_);
      store_.copy_to(directory_);  // a read transaction: the engine goes on meanwhile
      const std::string path = directory_ + "/data.mdb";
      FileResponse response{http::status::ok, request.version()};
      beast::error_code ec;
      response.body().open(path.c_str(), beast::file_mode::scan, ec);
      if (ec) throw std::runtime_error("cannot open the copy: " + ec.message());
      fs::remove(path);  // the open descriptor keeps the file until the answer is sent
      response.set(http::field::content_type, "application/octet-stream");
      response.keep_alive(false);
      response.prepare_payload();
      log_line("cluster: sent a snapshot of this store to " + reply.address());
      busy_ = false;
      reply_file(std::move(response));
    } catch (const std::exception& error) {
      busy_ = false;
      log_line(std::string("cluster: cannot copy the store for a peer: ") + error.what());
      reply(error_response(shared, request, http::status::internal_server_error,
                           ErrorCode::overloaded, "cannot copy the store"));
    }
  });
}

// ---- fetching -----------------------------------------------------------------------------

namespace {

std::uint64_t applied_index_in(const std::string& directory, const storage::LmdbOptions& options) {
  storage::LmdbStore store(directory, options);
  store.begin();
  const std::uint64_t applied = cluster::applied_index_of(store);
  store.abort();
  return applied;
}

// GET /v1/cluster/snapshot from a peer into `path`. Throws on any failure.
void download(const NodeAddress& peer, const std::string& key, const std::string& path) {
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::minutes(30));  // a large store over a slow link
  stream.connect(resolver.resolve(peer.host, std::to_string(peer.port)));
  http::request<http::empty_body> request{http::verb::get, std::string(kSnapshotPath), 11};
  request.set(http::field::host, peer.authority());
  request.set(kKeyHeader, key);
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::file_body> parser;
  parser.body_limit(boost::none);  // the store's size
  beast::error_code ec;
  parser.get().body().open(path.c_str(), beast::file_mode::write, ec);
  if (ec) throw std::runtime_error("cannot write " + path + ": " + ec.message());
  http::read(stream, buffer, parser);
  parser.get().body().close();
  if (parser.get().result() != http::status::ok) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    throw std::runtime_error("answered " + std::to_string(parser.get().result_int()) + " " +
                             text.str().substr(0, 200));
  }
}

}  // namespace

std::string fetch_snapshot_if_behind(cluster::EtcdClient& client, const NodeConfig& config,
                                     std::uint64_t applied) {
  storage::LmdbOptions options;
  options.initial_map_bytes = config.initial_map_mib << 20;
  options.max_map_bytes = std::max(config.max_map_mib, config.initial_map_mib) << 20;
  cluster::EtcdLog log(client, config.cluster_prefix + "shard/0/");
  const auto next = log.read(applied + 1, 1);
  // Caught up (nothing after), or the log holds the next entry: replay does it.
  if (next.empty() || next.front().index == applied + 1) return "";
  const std::uint64_t first = next.front().index;
  const std::string key = cluster_key(client, config.cluster_prefix);
  // Followers first: a copy costs its node disk reads the leader's batches would feel.
  const std::string leader = log.leader().value_or("");
  auto peers = cluster::EtcdDirectory(client, config.cluster_prefix + "nodes/").gateways();
  std::stable_partition(peers.begin(), peers.end(),
                        [&](const host::GatewayInfo& peer) { return peer.name != leader; });
  const std::string incoming = config.data + "/snapshot-in";
  std::string failures;
  for (const host::GatewayInfo& peer : peers) {
    const auto address = peer_address_of(peer);
    if (peer.name == config.node_name || !peer.has_store() || !address) continue;
    try {
      fs::remove_all(incoming);
      fs::create_directories(incoming);
      download(*address, key, incoming + "/data.mdb");
      const std::uint64_t copied = applied_index_in(incoming, options);
      if (copied + 1 < first) {
        throw std::runtime_error("its copy is at log index " + std::to_string(copied));
      }
      fs::remove(config.data + "/lock.mdb");
      fs::rename(incoming + "/data.mdb", config.data + "/data.mdb");
      fs::remove_all(incoming);
      return "copied " + peer.name + "'s store at log index " + std::to_string(copied) +
             " (this store had applied " + std::to_string(applied) + "; the log starts at entry " +
             std::to_string(first) + ")";
    } catch (const std::exception& error) {
      failures += "; " + peer.name + ": " + error.what();
    }
  }
  fs::remove_all(incoming);
  throw SnapshotUnavailable(
      "the log starts at entry " + std::to_string(first) + " but this store applied only " +
      std::to_string(applied) + ", and no peer gave a copy that reaches it" +
      (failures.empty() ? std::string(" (no peer in the directory)") : failures));
}

}  // namespace parley::net
