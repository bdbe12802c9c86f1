#include "net/node/search_worker.hpp"

#include <chrono>
#include <filesystem>
#include <utility>

#include "cluster/replica.hpp"
#include "net/node/cluster_member.hpp"
#include "net/node/engine_loop.hpp"
#include "net/node/shared.hpp"
#include "net/node/ws_session.hpp"
#include "storage/named_thread.hpp"

namespace parley::net {

std::string closed_mark(std::uint64_t applied) {
  return "closed@" + std::to_string(applied);
}

namespace {

void remove_index_files(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    std::filesystem::remove(path + suffix);
}

}  // namespace

SearchWorker::SearchWorker(std::string path, std::uint64_t applied, Metrics& metrics)
    : path_(std::move(path)), metrics_(metrics) {
  const bool existed = std::filesystem::exists(path_);
  index_ = std::make_unique<search::SearchIndex>(path_);
  const std::string mark = index_->mark();
  if (!existed || mark != closed_mark(applied)) {
    if (existed) {
      log_line("search: index " + path_ + " is " + (mark.empty() ? "unmarked" : "'" + mark + "'") +
               ", not " + closed_mark(applied) + ": rebuilding it from the store");
    }
    index_.reset();
    remove_index_files(path_);
    index_ = std::make_unique<search::SearchIndex>(path_);
    needs_fill_ = true;
  }
  // From here until stop(): a crash leaves it "open", and the next start rebuilds it.
  index_->set_mark("open");
}

SearchWorker::~SearchWorker() {
  if (thread_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
}

std::size_t SearchWorker::fill(const search::PageReader& next_page) {
  const std::size_t indexed = search::fill_from_store(*index_, next_page);
  needs_fill_ = false;
  return indexed;
}

void SearchWorker::start() {
  thread_ = storage::named_thread("parley-search", [this] { run(); });
}

void SearchWorker::stop(std::uint64_t applied) {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  index_->set_mark(closed_mark(applied));
}

void SearchWorker::push(Job job) {
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
    wake = idle_ || jobs_.size() >= kMaxGatheredChanges;
  }
  if (wake) wake_.notify_one();
}

void SearchWorker::change(engine::Effect&& effect) {
  if (search::changes_index(effect)) push(std::move(effect));
}

bool SearchWorker::search(engine::SearchRequested request, std::weak_ptr<WsSession> session) {
  {
    std::lock_guard lock(mutex_);
    if (queued_searches_ >= kMaxQueuedSearches) return false;
    ++queued_searches_;
    jobs_.push_back(Asked{std::move(request), std::move(session)});
  }
  wake_.notify_one();
  return true;
}

void SearchWorker::run() {
  while (true) {
    std::deque<Job> jobs;
    bool stop_now = false;
    {
      std::unique_lock lock(mutex_);
      idle_ = true;
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      idle_ = false;
      // Changes gather (one transaction for many); a search, a full queue or stop ends it.
      wake_.wait_for(lock, kGatherChanges, [&] {
        return stopping_ || queued_searches_ > 0 || jobs_.size() >= kMaxGatheredChanges;
      });
      jobs.swap(jobs_);
      stop_now = stopping_;
    }
    // In order: the changes queued before a search are in the index when it runs.
    while (!jobs.empty()) {
      if (const auto* asked = std::get_if<Asked>(&jobs.front())) {
        answer(*asked);
        jobs.pop_front();
        std::lock_guard lock(mutex_);
        --queued_searches_;
      } else {
        apply_changes(jobs);
      }
    }
    if (stop_now) return;
  }
}

// The run of index changes at the front of `jobs`, in one transaction: one sync for many.
void SearchWorker::apply_changes(std::deque<Job>& jobs) {
  try {
    index_->begin();
    std::uint64_t applied = 0;
    while (!jobs.empty() && !std::holds_alternative<Asked>(jobs.front())) {
      search::apply(*index_, std::get<engine::Effect>(jobs.front()));
      jobs.pop_front();
      ++applied;
    }
    index_->commit();
    metrics_.search_index_changes += applied;
  } catch (const std::exception& error) {
    // The index no longer matches the store: stop the node, whose next start rebuilds it
    // (the mark stays "open"). Serving searches that miss messages would be worse.
    log_line(std::string("fatal: search index: ") + error.what() + "; stopping the node");
    std::_Exit(70);
  }
}

void SearchWorker::answer(const Asked& asked) {
  const auto session = asked.session.lock();
  if (!session) return;  // the asker left
  engine::server::Event event;
  try {
    event = search::answer(*index_, asked.request);
    ++metrics_.searches;
  } catch (const std::exception& error) {
    log_line(std::string("search failed: ") + error.what());
    event = engine::server::Failure{asked.request.request, engine::ErrorCode::search_unavailable,
                                    "the node's search index failed this query; try again"};
  }
  session->deliver(std::move(event));
}

namespace {

std::uint64_t applied_index(EngineLoop& loop) {
  return loop.read_idle([](const engine::Engine&, const engine::Store& store) {
    return cluster::applied_index_of(store);
  });
}

}  // namespace

std::unique_ptr<SearchWorker> open_search_index(const std::string& data, EngineLoop& loop,
                                                ClusterMember* cluster, Metrics& metrics) {
  auto search =
      std::make_unique<SearchWorker>(data + "/search.sqlite", applied_index(loop), metrics);
  if (search->needs_fill()) {
    const auto started = std::chrono::steady_clock::now();
    const std::size_t indexed = search->fill([&](engine::MessageId after) {
      return loop.read_idle([&](const engine::Engine& engine, const engine::Store&) {
        return engine.messages_after(after, search::kFillPage);
      });
    });
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - started)
                            .count();
    log_line("search: indexed " + std::to_string(indexed) + " messages from the store in " +
             std::to_string(millis) + " ms");
  }
  if (cluster != nullptr) {
    cluster->replica().on_follower_effects([worker = search.get()](engine::Effects&& effects) {
      for (engine::Effect& effect : effects)
        worker->change(std::move(effect));
    });
  }
  search->start();
  return search;
}

void close_search_index(SearchWorker& search, EngineLoop& loop) {
  search.stop(applied_index(loop));
}

}  // namespace parley::net
