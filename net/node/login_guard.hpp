// What keeps password guessing and hashing floods from costing the node more than a bounded
// amount (docs/operations.md, "Logins"):
//
// - LoginThrottle: a token bucket per remote address over sign-up and login attempts, and a
//   per-account delay after repeated failures that doubles up to a cap (throttling, not
//   lockout: OWASP's Authentication Cheat Sheet advises against lockouts that let anyone
//   lock a victim out). Both answer "retry after N seconds".
// - HashingQueue: the argon2id worker with a bounded number of waiting jobs.
//
// Times are steady-clock microseconds passed in, so the rules are unit-testable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace parley::net {

struct LoginThrottleOptions {
  double address_attempts_per_second = 0.5;  // refill: 30 per minute
  double address_burst = 30;
  std::uint32_t free_failures = 5;          // per account, before any delay
  std::int64_t first_delay_us = 1'000'000;  // then 1 s, 2 s, 4 s, ...
  std::int64_t max_delay_us = 60'000'000;   // ... up to a minute
  std::size_t max_tracked = 100'000;        // per map; the least recently used entry goes first
};

class LoginThrottle {
 public:
  explicit LoginThrottle(LoginThrottleOptions options = {}) : options_(options) {}

  // Takes one attempt from `address`'s bucket and checks `account`'s failure delay (the
  // account key is the case-folded name; unknown names are throttled alike so the answer
  // does not tell which names exist). Returns the seconds to wait when refused. An admitted
  // attempt on a non-empty `account` holds one of its kMaxInFlight slots until failed(),
  // succeeded() or released(): attempts sent in parallel cannot all pass before the first
  // failure is counted.
  std::optional<std::int64_t> admit(const std::string& address, const std::string& account,
                                    std::int64_t now_us);
  void failed(const std::string& account, std::int64_t now_us);
  // An admitted attempt that ended without a verdict (the caller left, a queue was full).
  void released(const std::string& account);
  void set_options(const LoginThrottleOptions& options) {
    const std::lock_guard lock(mutex_);
    options_ = options;
  }
  void succeeded(const std::string& account);

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t refilled_at = 0;
  };
  static constexpr std::uint32_t kMaxInFlight = 2;
  struct Failures {
    std::uint32_t count = 0;
    std::int64_t blocked_until = 0;
    std::uint32_t in_flight = 0;
  };
  template <typename Value>
  class Lru {
   public:
    Value* find(const std::string& key);
    Value& get(const std::string& key, std::size_t max);
    void erase(const std::string& key);

   private:
    std::list<std::pair<std::string, Value>> order_;  // most recent first
    std::unordered_map<std::string, typename std::list<std::pair<std::string, Value>>::iterator>
        index_;
  };

  LoginThrottleOptions options_;
  std::mutex mutex_;
  Lru<Bucket> addresses_;
  Lru<Failures> accounts_;
};

// One thread that runs slow jobs (argon2id) in order, with at most `max_waiting` queued.
class HashingQueue {
 public:
  explicit HashingQueue(std::size_t max_waiting);
  ~HashingQueue();
  HashingQueue(const HashingQueue&) = delete;
  HashingQueue& operator=(const HashingQueue&) = delete;

  // False when `max_waiting` jobs are already queued: the caller answers 503.
  bool try_post(std::function<void()> job);
  // Runs what is queued, then stops the thread.
  void join();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::net
