// Snapshot transfer between cluster nodes (docs/cluster.md, "Snapshots"): a node whose
// applied index lies below the log's trimmed start cannot replay the log; it copies a peer's
// store instead (a compacted LMDB copy, mdb_env_copy2), then tails the log from the copy's
// applied index.
//
//   serving:  GET /v1/cluster/snapshot, answered by any cluster node to a cluster peer only
//             (its address in the directory, and the cluster's key in X-Parley-Cluster-Key:
//             random bytes under PREFIX snapshot_key that the first node to ask creates):
//             the store copied on a thread of its own (the engine keeps running), streamed
//             as application/octet-stream, one copy made at a time (then 503).
//   fetching: at start, before the engine opens the store (run.cpp): if the log no longer
//             holds the entry after the store's applied index, the node downloads a peer's
//             copy (followers first: the leader is busiest), checks that it reaches the log,
//             and puts it in place of its own store. A node that falls behind a trim while
//             running stops with exit code 75; started again, it takes this path.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "net/node/config.hpp"
#include "net/node/http_api.hpp"

namespace parley::storage {
class LmdbStore;
}

namespace parley::cluster {
class EtcdClient;
}  // namespace parley::cluster

namespace parley::net {

class SnapshotServer {
 public:
  // REQUIRES: `store` outlives the server. Copies go to DATA_DIR/snapshot-out/.
  SnapshotServer(storage::LmdbStore& store, std::string data_dir);
  ~SnapshotServer();  // waits for a copy under way
  SnapshotServer(const SnapshotServer&) = delete;
  SnapshotServer& operator=(const SnapshotServer&) = delete;

  // Answers with the store's copy through `reply_file`, or an error through `reply`.
  // Neither is called on the caller's thread when a copy is made.
  void serve(Shared& shared, const Request& request, const Reply& reply,
             std::function<void(FileResponse)> reply_file);

 private:
  storage::LmdbStore& store_;
  std::string directory_;
  std::atomic<bool> busy_{false};
  std::mutex mutex_;
  std::thread copier_;
  std::optional<std::string> key_;  // the cluster's snapshot key, read from etcd once
};

// No peer could give a copy that reaches the log: the node cannot start (exit 75).
class SnapshotUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// At start: whether the store in config.data, which applied entry `applied` (0: none, or no
// store yet), is behind the log's trimmed start, and if so replaces it with a peer's copy.
// Returns what it did, for the node's log ("" when nothing was needed). Throws
// SnapshotUnavailable when a copy was needed and no peer could give one that reaches the
// log, and anything etcd's client or the store throw.
std::string fetch_snapshot_if_behind(cluster::EtcdClient& client, const NodeConfig& config,
                                     std::uint64_t applied);

}  // namespace parley::net
