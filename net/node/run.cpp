// Starting and stopping the node: run_node (sockets, signals, the push worker) and
// InProcessNode (the same engine loop and routes without sockets).
#include "net/node/node.hpp"

#include <boost/asio.hpp>
#include <boost/beast.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "net/node/auth.hpp"
#include "net/node/cluster_guards.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/engine_loop.hpp"
#include "net/node/http_api.hpp"
#include "net/node/listener.hpp"
#include "net/node/push_worker.hpp"
#include "net/node/routes.hpp"
#include "net/node/search_worker.hpp"
#include "net/node/shared.hpp"
#include "net/node/snapshot.hpp"
#include "net/node/ws_session.hpp"
#include "storage/lmdb_store.hpp"
#include "storage/named_thread.hpp"
#include "storage/pipelined_store.hpp"

namespace parley::net {

using namespace parley::engine;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

namespace {

// Reads outbox intents on the engine thread for the push worker (which waits for them).
std::vector<PushIntent> fetch_intents(Shared& shared, std::uint64_t after, std::size_t limit) {
  auto promise = std::make_shared<std::promise<std::vector<PushIntent>>>();
  auto future = promise->get_future();
  bool posted = true;
  if (shared.cluster != nullptr) {
    // Committed state only (an open batch may yet be refused by the log), and only the
    // leader pushes.
    shared.loop->post_read([promise, after, limit, &shared](const Engine& engine, Store&) {
      promise->set_value(shared.serving ? engine.push_intents_after(after, limit)
                                        : std::vector<PushIntent>{});
    });
  } else {
    posted = shared.loop->post([promise, after, limit](Txn& txn) {
      promise->set_value(txn.engine().push_intents_after(after, limit));
    });
  }
  if (!posted || future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return {};
  try {
    return future.get();
  } catch (const std::future_error&) {
    return {};  // a cluster follower drops tasks: it delivers no pushes
  }
}

tcp::endpoint parse_listen(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("--listen wants HOST:PORT");
  const auto address = asio::ip::make_address(listen.substr(0, colon));
  const unsigned long port = std::stoul(listen.substr(colon + 1));
  if (port > 65535) throw std::invalid_argument("--listen port must be 0 to 65535");
  return {address, static_cast<std::uint16_t>(port)};
}

void write_port_file(const std::string& path, std::uint16_t port) {
  const std::string temporary = path + ".tmp";
  std::ofstream(temporary) << port << "\n";
  std::filesystem::rename(temporary, path);
}

void configure_throttle(Shared& shared) {
  LoginThrottleOptions options;
  options.address_attempts_per_second = shared.config.login_attempts_per_minute / 60.0;
  options.address_burst = std::max(1.0, shared.config.login_attempts_per_minute);
  shared.throttle.set_options(options);
}

// Raises the soft limit on open descriptors to the hard limit (the common soft limit of 1,024
// lets one client hold every socket) and sizes the connection limits from it: the node keeps
// kReservedDescriptors for its store, files and push connections; one address may hold an
// eighth of the rest unless --max-connections-per-address says otherwise.
constexpr std::size_t kReservedDescriptors = 128;

void size_connection_limits(Shared& shared) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    if (limit.rlim_cur < limit.rlim_max) {
      rlimit raised = limit;
      raised.rlim_cur = limit.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
  }
  const std::size_t descriptors =
      limit.rlim_cur == RLIM_INFINITY ? 1'048'576 : static_cast<std::size_t>(limit.rlim_cur);
  shared.max_connections =
      descriptors > 2 * kReservedDescriptors ? descriptors - kReservedDescriptors : descriptors / 2;
  if (shared.config.max_connections_per_address == 0) {
    shared.config.max_connections_per_address =
        std::clamp<std::size_t>(shared.max_connections / 8, 16, 4096);
  }
  log_line("descriptors: " + std::to_string(descriptors) + "; connections: at most " +
           std::to_string(shared.max_connections) + ", " +
           std::to_string(shared.config.max_connections_per_address) + " per address");
}

// On the committer thread, after each commit: its totals for /metrics.
void publish_commit_stats(Metrics& metrics, const storage::PipelinedStore::Stats& stats) {
  metrics.lmdb_commits = stats.commits;
  metrics.lmdb_writes = stats.writes;
  metrics.lmdb_commit_micros = stats.commit_micros;
  metrics.lmdb_sync_micros = stats.sync_micros;
}

// Where the other nodes reach this one: --peer-address, or the listen address when that is
// one they can reach (not 0.0.0.0 or ::).
void check_peer_address(const NodeConfig& config, const tcp::endpoint& listen) {
  if (config.peer_address.empty() && listen.address().is_unspecified()) {
    throw std::invalid_argument("listening on " + listen.address().to_string() +
                                ", the other nodes cannot reach this one there: give "
                                "--peer-address HOST:PORT");
  }
  if (!config.peer_address.empty() && !parse_node_address(config.peer_address)) {
    throw std::invalid_argument("--peer-address wants HOST:PORT, not '" + config.peer_address +
                                "'");
  }
}

// A replica must apply the log under the cluster's engine settings before it applies
// anything: checked first, waiting for etcd as long as it takes (a cluster node does nothing
// without it; SIGTERM still stops it here). Then, with etcd answering, the store must belong
// to this cluster's log, and one behind the log's trimmed start is replaced by a peer's copy.
// One etcd client for the three.
void check_against_cluster(const NodeConfig& config, std::uint64_t applied) {
  cluster::EtcdClient client(split_endpoints(config.etcd),
                             std::chrono::milliseconds(config.etcd_timeout_ms));
  for (int attempt = 0;; ++attempt) {
    try {
      const std::string mismatch = engine_settings_mismatch(client, config);
      if (!mismatch.empty()) throw std::runtime_error(mismatch);
      break;
    } catch (const host::LogUnavailable& error) {
      if (attempt % 10 == 0) {
        log_line(std::string("cluster: waiting for etcd to check the engine settings (") +
                 error.what() + ")");
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  std::string other_log;
  try {
    other_log = log_mismatch(client, config, applied);
  } catch (const host::LogUnavailable& error) {
    log_line(std::string("cluster: cannot compare this store with the log (") + error.what() + ")");
  }
  if (!other_log.empty()) throw std::runtime_error(other_log);
  // If etcd cannot be asked here after all, the node starts from its store: replaying tells
  // later, and a node behind a trim then stops with 75.
  try {
    const std::string copied = fetch_snapshot_if_behind(client, config, applied);
    if (!copied.empty()) log_line("cluster: " + copied);
  } catch (const SnapshotUnavailable&) {
    throw;
  } catch (const std::exception& error) {
    log_line(std::string("cluster: cannot check the log at start (") + error.what() +
             "); starting from this store");
  }
}

}  // namespace

struct InProcessNode::Impl {
  Shared shared;
  std::unique_ptr<storage::LmdbStore> store;
  std::unique_ptr<storage::PipelinedStore> pipeline;
  std::unique_ptr<EngineLoop> loop;
  std::thread engine_thread;
};

InProcessNode::InProcessNode(const NodeConfig& config) : impl_(std::make_unique<Impl>()) {
  init_crypto();
  impl_->shared.config = config;
  configure_throttle(impl_->shared);
  impl_->shared.dummy_hash = hash_password("not a real password", config.password);
  storage::LmdbOptions options;
  options.sync = false;
  options.initial_map_bytes = config.initial_map_mib << 20;
  impl_->store = std::make_unique<storage::LmdbStore>(config.data, options);
  impl_->pipeline = std::make_unique<storage::PipelinedStore>(*impl_->store);
  impl_->loop = std::make_unique<EngineLoop>(impl_->shared, *impl_->pipeline);
  impl_->pipeline->set_on_durable(
      [metrics = &impl_->shared.metrics, loop = impl_->loop.get(), store = impl_->pipeline.get()] {
        publish_commit_stats(*metrics, store->stats());
        loop->wake_for_durable();
      });
  impl_->shared.loop = impl_->loop.get();
  impl_->shared.discover_url = "ws://in-process/v1/ws";
  impl_->engine_thread = storage::named_thread("parley-engine", [this] { impl_->loop->run(); });
}

InProcessNode::~InProcessNode() {
  impl_->loop->stop([](EngineLoop&) {});
  impl_->engine_thread.join();
  impl_->pipeline->set_on_durable(nullptr);  // the loop released every sealed batch
  impl_->shared.hashing.join();
}

std::string InProcessNode::http(std::string_view raw_request) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(impl_->shared.config.max_http_body_bytes);
  parser.eager(true);
  beast::error_code ec;
  parser.put(asio::buffer(raw_request.data(), raw_request.size()), ec);
  if (ec || !parser.is_done()) return "";
  const Request request = parser.release();
  if (websocket::is_upgrade(request)) return "";  // WebSockets need a socket
  auto promise = std::make_shared<std::promise<std::string>>();
  auto future = promise->get_future();
  const bool head = request.method() == http::verb::head;
  const auto settle = [promise](const auto& response) {
    std::ostringstream out;
    out << response;
    try {
      promise->set_value(out.str());
    } catch (const std::future_error&) {
      // Answered twice: a bug the caller will see as a wrong response, not a crash here.
    }
  };
  answer(
      impl_->shared, request,
      [settle, head](Response response) {
        if (head) response.body().clear();
        settle(response);
      },
      [promise](FileResponse response) {
        // Beast cannot print a file body: the headers, then the file's bytes.
        std::ostringstream out;
        out << response.base();
        auto& file = response.body().file();
        beast::error_code read_error;
        file.seek(0, read_error);
        char chunk[4096];
        while (!read_error) {
          const std::size_t n = file.read(chunk, sizeof chunk, read_error);
          if (n == 0) break;
          out.write(chunk, static_cast<std::streamsize>(n));
        }
        promise->set_value(out.str());
      });
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    return "no answer within 30 s";
  }
  return future.get();
}

int run_node(const NodeConfig& config) {
  init_crypto();
  Shared shared;
  shared.config = config;
  size_connection_limits(shared);
  configure_throttle(shared);
  shared.dummy_hash = hash_password("not a real password", config.password);
  std::unique_ptr<storage::LmdbStore> store;
  // Batch n+1 runs while batch n syncs (storage/pipelined_store.hpp). Not in a cluster: a
  // batch is durable once the log holds it, and the replica commits it right after.
  std::unique_ptr<storage::PipelinedStore> pipeline;
  std::unique_ptr<ClusterMember> cluster;
  std::unique_ptr<SnapshotServer> snapshots;  // before `store` goes: it copies the store
  std::unique_ptr<EngineLoop> loop;
  tcp::endpoint endpoint;
  const bool clustered = !config.etcd.empty();
  const auto role = host::parse_node_role(config.role);
  if (!role || (*role != host::NodeRole::both && !clustered)) {
    log_line("cannot start: " +
             (role ? "--role " + config.role + " needs --etcd (a cluster)"
                   : "--role must be both, gateway or replica, not '" + config.role + "'"));
    return 78;
  }
  // A gateway holds client connections only: no store, no engine (docs/cluster.md, "Roles").
  const bool gateway = *role == host::NodeRole::gateway;
  try {
    endpoint = parse_listen(config.listen);
    if (clustered) check_peer_address(config, endpoint);
    // Shorter, and the session's timer would spin on pings a busy peer cannot answer in time.
    if (config.ping_after_ms < 100)
      throw std::invalid_argument("--ping-after-ms must be at least 100");
    storage::LmdbOptions options;
    options.initial_map_bytes = config.initial_map_mib << 20;
    options.max_map_bytes = std::max(config.max_map_mib, config.initial_map_mib) << 20;
    // A replica's durability is the log's (an etcd quorum): its own commits keep ACI with
    // one fsync (storage/lmdb_store.hpp, sync_meta); a power loss may undo its last batch,
    // which it applies from the log again (the log keeps the entry the slowest replica
    // reported: cluster::Replica::trim_log).
    options.sync_meta = !clustered;
    // A store in the wrong mode is refused before anything else can touch it (a snapshot
    // copy would replace it); then a replica checks its engine settings and its store
    // against the cluster's, and copies a peer's store when its own is behind the log's
    // trimmed start (net/node/cluster_guards.hpp, net/node/snapshot.hpp).
    StoreMode mode;
    if (!gateway && std::filesystem::exists(config.data + "/data.mdb")) {
      storage::LmdbStore probe(config.data, options);
      mode = read_store_mode(probe);
      const std::string mismatch = store_mode_mismatch(mode, clustered);
      if (!mismatch.empty()) throw std::runtime_error(mismatch);
    }
    if (clustered && !gateway) check_against_cluster(config, mode.applied);
    if (!gateway) store = std::make_unique<storage::LmdbStore>(config.data, options);
    if (!clustered) {
      pipeline = std::make_unique<storage::PipelinedStore>(*store);
      loop = std::make_unique<EngineLoop>(shared, *pipeline);
      pipeline->set_on_durable([&shared, loop = loop.get(), store = pipeline.get()] {
        publish_commit_stats(shared.metrics, store->stats());
        loop->wake_for_durable();
      });
    }
  } catch (const SnapshotUnavailable& error) {
    log_line(std::string("fatal: ") + error.what());
    return 75;
  } catch (const std::exception& error) {
    log_line(std::string("cannot start: ") + error.what());
    return 78;
  }
  asio::io_context io(static_cast<int>(std::max(1u, config.io_threads)));
  std::shared_ptr<Listener> listener;
  try {
    listener = std::make_shared<Listener>(io, shared, endpoint);
  } catch (const std::exception& error) {
    log_line("cannot listen on " + config.listen + ": " + error.what());
    return 78;
  }
  const std::uint16_t port = listener->port();
  const std::string host = endpoint.address().to_string();
  shared.discover_url = config.public_url.empty()
                            ? "ws://" + host + ":" + std::to_string(port) + "/v1/ws"
                            : config.public_url;
  if (clustered) {
    try {
      NodeConfig named = config;
      if (named.node_name.empty()) named.node_name = host + ":" + std::to_string(port);
      if (named.peer_address.empty()) named.peer_address = host + ":" + std::to_string(port);
      cluster =
          std::make_unique<ClusterMember>(named, store.get(), shared.discover_url, shared.metrics);
      if (!gateway) loop = std::make_unique<EngineLoop>(shared, *store, *cluster);
    } catch (const std::exception& error) {
      log_line(std::string("cannot start: ") + error.what());
      return 78;
    }
    shared.cluster = cluster.get();
    if (gateway) {
      shared.serving = false;  // never: every client call is relayed to the leader
    } else {
      snapshots = std::make_unique<SnapshotServer>(*store, config.data);
      shared.snapshots = snapshots.get();
    }
    cluster->start();
    log_line("cluster node " + cluster->name() + ", role " + config.role + " (etcd " + config.etcd +
             ")");
  }
  shared.loop = loop.get();
  std::unique_ptr<SearchWorker> search;
  if (loop) {
    try {
      search = open_search_index(config.data, *loop, cluster.get(), shared.metrics);
    } catch (const std::exception& error) {
      log_line(std::string("cannot start: search index: ") + error.what());
      return 78;
    }
    shared.search = search.get();
  }
  listener->run();
  std::thread engine_thread;
  if (loop) engine_thread = storage::named_thread("parley-engine", [&loop] { loop->run(); });
  std::unique_ptr<PushWorker> pushes;
  if (!config.push.url.empty() && gateway) {
    log_line("push: not on a gateway (it runs no engine); the leading replica delivers pushes");
  } else if (!config.push.url.empty()) {
    try {
      pushes = std::make_unique<PushWorker>(
          config.push, shared.metrics,
          [&shared](std::uint64_t after, std::size_t limit) {
            return fetch_intents(shared, after, limit);
          },
          [&shared](const PushResult& result) {
            return shared.loop->post([result](Txn& txn) { txn.run(result); });
          });
    } catch (const std::exception& error) {
      log_line(std::string("cannot start: ") + error.what());
      std::_Exit(78);
    }
    shared.pushes = pushes.get();
    pushes->start();
  }
  if (!config.port_file.empty()) write_port_file(config.port_file, port);
  log_line("listening on http://" + host + ":" + std::to_string(port) +
           (gateway ? " (a gateway: no store)" : " (data: " + config.data + ")"));

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer grace(io);
  signals.async_wait([&](beast::error_code, int signal) {
    log_line("signal " + std::to_string(signal) + ": stopping");
    listener->stop();
    if (pushes) pushes->stop();  // what is not delivered stays in the outbox
    // Commit what is queued, then tell every client we are going away.
    if (loop) {
      loop->stop([cluster = cluster.get()](EngineLoop& stopped) {
        for (auto& [id, session] : stopped.sessions)
          session->close_going_away();
        stopped.sessions.clear();
        if (cluster != nullptr) cluster->stop();  // resign now: a peer takes over at once
      });
    } else {
      // A gateway: out of the directory now; its relayed clients reconnect elsewhere when
      // their sockets close with the process.
      cluster->stop();
    }
    grace.expires_after(std::chrono::milliseconds(500));
    grace.async_wait([&io](beast::error_code) { io.stop(); });
  });

  std::vector<std::thread> io_threads;
  for (unsigned i = 1; i < std::max(1u, config.io_threads); ++i) {
    io_threads.push_back(storage::named_thread("parley-io", [&io] { io.run(); }));
  }
  io.run();
  for (auto& thread : io_threads)
    thread.join();
  if (engine_thread.joinable()) engine_thread.join();
  if (search) close_search_index(*search, *loop);
  snapshots.reset();  // waits for a copy under way while `io`, where it answers, still exists
  if (pipeline) pipeline->set_on_durable(nullptr);  // the loop released every sealed batch
  if (cluster) {
    cluster->stop();  // resigns: another node takes over without waiting
    drain_relays(std::chrono::seconds(2));
  }
  shared.hashing.join();
  log_line("stopped");
  return 0;
}

}  // namespace parley::net
