// Delivers push intents from the store's outbox to a push gateway over HTTP, off the engine
// thread. The outbox is the source of truth: the worker reads intents from it (through the
// engine thread), POSTs each to the gateway, and reports each outcome back as an engine
// input, so only a 2xx (or a final refusal) removes an intent. Pending pushes survive
// restarts; each is sent at least once and carries its id for the gateway to dedupe on.
// docs/push.md is the gateway contract.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.hpp"
#include "net/node/metrics.hpp"

namespace parley::net {

struct PushGatewayOptions {
  std::string url;  // http://HOST:PORT/PATH; empty: no delivery (intents wait in the outbox)
  std::int64_t timeout_ms = 5'000;
  std::int64_t retry_initial_ms = 1'000;
  std::int64_t retry_max_ms = 300'000;
};

// The JSON body POSTed for an intent (documented in docs/push.md).
std::string push_body(const engine::PushIntent& intent);

// What a gateway's answer means: delivered, dead token, rejected for good, or retry later.
enum class GatewayVerdict : std::uint8_t { delivered, dead_token, rejected, retry };
GatewayVerdict classify_gateway_answer(int status, const std::string& body);

class PushWorker {
 public:
  // Reads up to `limit` outbox intents with id > `after` (runs on the engine thread).
  using Fetch =
      std::function<std::vector<engine::PushIntent>(std::uint64_t after, std::size_t limit)>;
  // Feeds a PushResult to the engine; false if it could not be queued (try again later).
  using Report = std::function<bool(const engine::PushResult&)>;

  PushWorker(PushGatewayOptions options, Metrics& metrics, Fetch fetch, Report report);
  ~PushWorker();

  void start();
  void stop();
  // New intents were committed: look at the outbox again.
  void wake();

 private:
  struct Pending {
    engine::PushIntent intent;
    std::uint32_t attempts = 0;
    std::chrono::steady_clock::time_point next_at;
    std::optional<engine::PushOutcome> unreported;  // delivered, but the engine queue was full
  };

  void run();
  void refill();
  void attempt(Pending& pending);
  std::chrono::milliseconds backoff(std::uint32_t attempts);
  // POSTs the body; returns the HTTP status (0 when the gateway could not be reached).
  int post(std::uint64_t id, const std::string& body, std::string& response_body);

  PushGatewayOptions options_;
  Metrics& metrics_;
  Fetch fetch_;
  Report report_;
  std::string host_;
  std::string port_;
  std::string target_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool refill_wanted_ = true;
  std::map<std::uint64_t, Pending> pending_;
  std::uint64_t fetched_upto_ = 0;
  std::uint64_t jitter_state_ = 0x853c49e6748fea9bull;
  std::thread thread_;
};

}  // namespace parley::net
