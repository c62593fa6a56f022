// RateLimiter: at most N requests per minute per key (an API key, or a client address when
// the server has no keys), as a token bucket: a key starts with N tokens, each request
// takes one, and tokens refill continuously at N per minute. A request without a token is
// refused with the seconds until the next one arrives (for Retry-After).
//
// Two places the buckets can live:
//  * In this process (the default): the limit is per replica.
//  * In Redis (`--cache redis://…`, the RedisClient given at construction): every replica
//    sharing that Redis takes from the same buckets, so N is the limit across the cluster,
//    as a client behind nginx expects. Each acquire() is one EVAL of a script that applies
//    GCRA (the generic cell rate algorithm: the same bucket, burst N and N per minute,
//    stored as one "theoretical arrival time" per key) atomically, on Redis's own clock, so
//    replicas need not agree on the time. Redis keys are ragd:ratelimit:<SHA-256 of the
//    key> (an API key never leaves the process in clear) and expire when their bucket would
//    be full again. When Redis cannot be answered, the in-process buckets decide instead:
//    a cache outage neither refuses every request nor lifts the limit (each replica then
//    admits up to N on its own); RedisClient logs the outage once and counts its errors.
//
// Thread-safe. In-process buckets idle long enough to be full again are dropped, so the map
// does not grow with every client ever seen.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace ragd {
class RedisClient;
}

namespace ragd::server {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // per_minute 0 disables limiting; below 1 a bucket still holds one request (0.5: one
  // every 2 minutes). `shared`: keep the buckets in that Redis (see above).
  explicit RateLimiter(double per_minute, std::shared_ptr<RedisClient> shared = nullptr);

  // 0 when admitted; else the seconds to wait. `now` times the in-process buckets only
  // (the shared ones use Redis's clock). `fell_back`, when given, is set to whether a
  // shared limiter had to decide from its in-process bucket (Redis unreachable).
  double acquire(const std::string& key, Clock::time_point now = Clock::now(), bool* fell_back = nullptr);
  bool enabled() const { return per_minute_ > 0; }
  bool shared() const { return shared_ != nullptr; }

 private:
  double acquire_local(const std::string& key, Clock::time_point now);

  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  double per_minute_;
  double burst_;  // bucket capacity: max(per_minute, 1)
  std::shared_ptr<RedisClient> shared_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_prune_{};
};

}  // namespace ragd::server
