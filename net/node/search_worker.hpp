// The node's search index (docs/search.md): data/search.sqlite (search/search_index.hpp),
// fed and queried on a thread of its own, never on the engine thread. The engine thread
// hands it each released batch's search effects in order (IndexText, UnindexText,
// SearchRequested); the worker applies the index changes in one SQLite transaction per
// drain and answers each search on the session that asked, so a search sees every commit
// released before it.
//
// The index is derived state. An index found missing, or "open" (the node stopped without
// closing it: it may lack what the last batches changed), or closed at another applied log
// index (a cluster replica whose store moved on, or was replaced by a snapshot) is dropped
// and filled from the store before the node listens.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <variant>

#include "engine/engine.hpp"
#include "net/node/metrics.hpp"
#include "search/feed.hpp"
#include "search/search_index.hpp"

namespace parley::net {

class WsSession;

class SearchWorker {
 public:
  // Opens `path` (creating it), dropping it first if it cannot be trusted against a store
  // at log index `applied` (0: a single node). Throws search::SearchError.
  SearchWorker(std::string path, std::uint64_t applied, Metrics& metrics);
  ~SearchWorker();

  // Whether the index must be filled from the store before start() (it was dropped).
  bool needs_fill() const { return needs_fill_; }
  // Fills it: see search::fill_from_store. Returns how many messages it indexed.
  std::size_t fill(const search::PageReader& next_page);

  void start();
  // Applies what is queued, answers what was asked, closes the index as of `applied`.
  void stop(std::uint64_t applied);

  // From the engine thread (a leader's released effects, a follower's applied entries), in
  // release order: queues an effect that changes the index (search::changes_index) and
  // ignores any other.
  void change(engine::Effect&& effect);
  // False when kMaxQueuedSearches wait already: the caller answers `overloaded`.
  bool search(engine::SearchRequested request, std::weak_ptr<WsSession> session);

  // Searches waiting at most: a burst of searches must not hold the index changes behind
  // it for long, nor grow the queue without bound.
  static constexpr std::size_t kMaxQueuedSearches = 64;
  // How long the worker lets index changes gather before it applies them, unless a search
  // waits: FTS5 writes a segment per transaction, so one transaction per released batch
  // (a few messages) cost about twice the CPU per message of one per few hundred
  // (bench/CHANGES.md, "Fewer commits under load"). A search never waits
  // for it: it wakes the worker, which applies what gathered and then answers.
  static constexpr std::chrono::milliseconds kGatherChanges{25};
  // ...or until this many changes wait.
  static constexpr std::size_t kMaxGatheredChanges = 4096;

 private:
  struct Asked {
    engine::SearchRequested request;
    std::weak_ptr<WsSession> session;
  };
  using Job = std::variant<engine::Effect, Asked>;  // an index change (search::changes_index)

  void run();
  void push(Job job);
  void apply_changes(std::deque<Job>& jobs);
  void answer(const Asked& asked);

  std::string path_;
  Metrics& metrics_;
  std::unique_ptr<search::SearchIndex> index_;
  bool needs_fill_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::size_t queued_searches_ = 0;
  bool idle_ = false;  // waiting for the first job: a change wakes it; else only a search
  bool stopping_ = false;
  std::thread thread_;
};

// The mark a closed index carries: "closed@" and the applied log index.
std::string closed_mark(std::uint64_t applied);

class EngineLoop;
class ClusterMember;
// The node's index, data/search.sqlite beside its store, filled from the store if it was
// dropped (logged, with how many messages and how long), before the node listens; on a
// cluster replica the follower's effects keep it current too (Replica::on_follower_effects).
// Throws search::SearchError.
std::unique_ptr<SearchWorker> open_search_index(const std::string& data, EngineLoop& loop,
                                                ClusterMember* cluster, Metrics& metrics);
// Stops the worker after the engine thread ended, closing the index at the store's applied
// log index.
void close_search_index(SearchWorker& search, EngineLoop& loop);

}  // namespace parley::net
