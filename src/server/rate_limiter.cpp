#include "server/rate_limiter.h"

#include <algorithm>

namespace ragd::server {

double RateLimiter::acquire(const std::string& key, Clock::time_point now) {
  if (per_minute_ <= 0) return 0;
  const double per_second = per_minute_ / 60.0;
  std::lock_guard lock(mu_);
  if (now - last_prune_ > std::chrono::minutes(1)) {
    // A bucket untouched for a minute has refilled completely: same as a new one.
    std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.updated > std::chrono::minutes(1); });
    last_prune_ = now;
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{per_minute_, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(per_minute_, b.tokens + elapsed * per_second);
    b.updated = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / per_second;
}

}  // namespace ragd::server
