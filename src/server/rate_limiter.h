// RateLimiter: at most N requests per minute per key (an API key, or a client address when
// the server has no keys), as a token bucket: a key starts with N tokens, each request
// takes one, and tokens refill continuously at N per minute. A request without a token is
// refused with the seconds until the next one arrives (for Retry-After).
//
// Thread-safe. Buckets idle long enough to be full again are dropped, so the map does not
// grow with every client ever seen.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ragd::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // per_minute 0 disables limiting.
  explicit RateLimiter(double per_minute) : per_minute_(per_minute) {}

  // 0 when admitted; else the seconds to wait.
  double acquire(const std::string& key, Clock::time_point now = Clock::now());
  bool enabled() const { return per_minute_ > 0; }

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  double per_minute_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_prune_{};
};

}  // namespace ragd::server
