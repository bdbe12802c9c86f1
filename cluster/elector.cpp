#include "cluster/elector.hpp"

#include <algorithm>
#include <exception>
#include <utility>

namespace parley::cluster {

const char* to_string(ElectionEvent event) {
  switch (event) {
    case ElectionEvent::none:
      return "none";
    case ElectionEvent::won:
      return "won";
    case ElectionEvent::lease_expired:
      return "lease expired";
    case ElectionEvent::unreachable:
      return "log unreachable for a whole TTL";
    case ElectionEvent::stepped_down:
      return "stepped down";
  }
  return "?";
}

std::int64_t Elector::period_us(std::int64_t ttl_seconds) {
  return std::clamp<std::int64_t>(ttl_seconds * 1'000'000 / 4, 100'000, 500'000);
}

Elector::Elector(host::ReplicatedLog& log, std::string name, std::int64_t ttl_seconds)
    : log_(log), name_(std::move(name)), ttl_us_(ttl_seconds * 1'000'000) {}

ElectionRound Elector::round(std::int64_t now_us, bool ready, std::uint64_t give_up) {
  try {
    if (leadership_ && give_up == leadership_->token) {
      const host::Leadership old = *std::exchange(leadership_, std::nullopt);
      log_.resign(old);
      return {ElectionEvent::stepped_down, 0, {}};
    }
    if (leadership_) {
      if (log_.keep_alive(*leadership_)) {
        renewed_us_ = now_us;
        return {ElectionEvent::none, leadership_->token, {}};
      }
      leadership_.reset();
      return {ElectionEvent::lease_expired, 0, {}};
    }
    if (!ready) return {};
    if (const auto won = log_.campaign(name_, ttl_us_ / 1'000'000)) {
      leadership_ = won;
      renewed_us_ = now_us;
      return {ElectionEvent::won, won->token, {}};
    }
    return {};
  } catch (const std::exception& error) {
    if (leadership_ && now_us - renewed_us_ > ttl_us_) {
      leadership_.reset();
      return {ElectionEvent::unreachable, 0, error.what()};
    }
    return {ElectionEvent::none, token(), {}};
  }
}

void Elector::resign() {
  if (!leadership_) return;
  const host::Leadership old = *std::exchange(leadership_, std::nullopt);
  try {
    log_.resign(old);
  } catch (const std::exception&) {
    // The log is gone: the lease expires by itself.
  }
}

}  // namespace parley::cluster
