#include "net/node/shared.hpp"

#include <chrono>
#include <cstdio>

namespace parley::net {

std::int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

engine::TimeUs wall_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void log_line(const std::string& text) {
  std::fprintf(stderr, "parley: %s\n", text.c_str());
  std::fflush(stderr);
}

AddressLimiter::Slot AddressLimiter::acquire(const std::string& address, std::size_t max,
                                             std::size_t max_total) {
  const std::string key = address;
  std::lock_guard lock(mutex_);
  if (total_ >= max_total) return nullptr;
  std::size_t& open = open_[key];
  if (open >= max) {
    if (open == 0) open_.erase(key);
    return nullptr;
  }
  ++open;
  ++total_;
  return Slot(this, [this, key](void*) { release(key); });
}

void AddressLimiter::release(const std::string& key) {
  std::lock_guard lock(mutex_);
  --total_;
  if (--open_[key] == 0) open_.erase(key);
}

}  // namespace parley::net
