#include "net/node/login_guard.hpp"
#include "storage/named_thread.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <thread>

namespace parley::net {

template <typename Value>
Value* LoginThrottle::Lru<Value>::find(const std::string& key) {
  const auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  order_.splice(order_.begin(), order_, found->second);
  return &found->second->second;
}

template <typename Value>
Value& LoginThrottle::Lru<Value>::get(const std::string& key, std::size_t max) {
  if (Value* value = find(key)) return *value;
  if (index_.size() >= max && !order_.empty()) {
    index_.erase(order_.back().first);
    order_.pop_back();
  }
  order_.emplace_front(key, Value{});
  index_[key] = order_.begin();
  return order_.front().second;
}

template <typename Value>
void LoginThrottle::Lru<Value>::erase(const std::string& key) {
  const auto found = index_.find(key);
  if (found == index_.end()) return;
  order_.erase(found->second);
  index_.erase(found);
}

std::optional<std::int64_t> LoginThrottle::admit(const std::string& address,
                                                 const std::string& account, std::int64_t now_us) {
  const std::lock_guard lock(mutex_);
  const auto seconds_until = [now_us](std::int64_t at_us) {
    return std::max<std::int64_t>(1, (at_us - now_us + 999'999) / 1'000'000);
  };
  if (const Failures* failures = accounts_.find(account); failures != nullptr) {
    if (failures->blocked_until > now_us) return seconds_until(failures->blocked_until);
    if (failures->in_flight >= kMaxInFlight) return 1;
  }
  Bucket* bucket = addresses_.find(address);
  if (bucket == nullptr) {
    bucket = &addresses_.get(address, options_.max_tracked);
    bucket->tokens = options_.address_burst;
    bucket->refilled_at = now_us;
  }
  const double elapsed_s = static_cast<double>(now_us - bucket->refilled_at) / 1e6;
  bucket->tokens = std::min(options_.address_burst,
                            bucket->tokens + elapsed_s * options_.address_attempts_per_second);
  bucket->refilled_at = now_us;
  if (bucket->tokens < 1) {
    const double missing_s = (1 - bucket->tokens) / options_.address_attempts_per_second;
    return std::max<std::int64_t>(1, static_cast<std::int64_t>(missing_s + 0.999));
  }
  bucket->tokens -= 1;
  if (!account.empty()) ++accounts_.get(account, options_.max_tracked).in_flight;
  return std::nullopt;
}

void LoginThrottle::released(const std::string& account) {
  const std::lock_guard lock(mutex_);
  Failures* failures = accounts_.find(account);
  if (failures == nullptr || failures->in_flight == 0) return;
  if (--failures->in_flight == 0 && failures->count == 0) accounts_.erase(account);
}

void LoginThrottle::failed(const std::string& account, std::int64_t now_us) {
  const std::lock_guard lock(mutex_);
  Failures& failures = accounts_.get(account, options_.max_tracked);
  if (failures.in_flight > 0) --failures.in_flight;
  ++failures.count;
  if (failures.count <= options_.free_failures) return;
  const std::uint32_t doublings =
      std::min<std::uint32_t>(failures.count - options_.free_failures - 1, 30);
  const std::int64_t delay = std::min(
      options_.max_delay_us, options_.first_delay_us << std::min<std::uint32_t>(doublings, 20));
  failures.blocked_until = now_us + delay;
}

void LoginThrottle::succeeded(const std::string& account) {
  const std::lock_guard lock(mutex_);
  Failures* failures = accounts_.find(account);
  if (failures == nullptr) return;
  if (failures->in_flight > 0) --failures->in_flight;
  if (failures->in_flight == 0) return accounts_.erase(account);
  failures->count = 0;
  failures->blocked_until = 0;
}

struct HashingQueue::Impl {
  std::size_t max_waiting = 0;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> jobs;
  bool stopping = false;
  std::thread worker;

  void run() {
    while (true) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex);
        wake.wait(lock, [this] { return stopping || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      job();
    }
  }
};

HashingQueue::HashingQueue(std::size_t max_waiting) : impl_(std::make_unique<Impl>()) {
  impl_->max_waiting = max_waiting;
  impl_->worker = storage::named_thread("parley-hash", [impl = impl_.get()] { impl->run(); });
}

HashingQueue::~HashingQueue() {
  join();
}

bool HashingQueue::try_post(std::function<void()> job) {
  {
    const std::lock_guard lock(impl_->mutex);
    if (impl_->stopping || impl_->jobs.size() >= impl_->max_waiting) return false;
    impl_->jobs.push_back(std::move(job));
  }
  impl_->wake.notify_one();
  return true;
}

void HashingQueue::join() {
  {
    const std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_one();
  if (impl_->worker.joinable()) impl_->worker.join();
}

}  // namespace parley::net
