#include "server/rate_limiter.h"

#include <algorithm>
#include <cstdio>

#include "util/redis_client.h"
#include "util/sha256.h"

namespace ragd::server {
namespace {

// GCRA over one key. ARGV[1]: the emission interval T (microseconds per token, 60e6 / N);
// ARGV[2]: the burst N. The key holds the theoretical arrival time (TAT, microseconds on
// Redis's clock): a request at `now` is admitted when TAT + T - N*T <= now, which is exactly
// "the bucket holds at least one token"; admitting moves TAT forward by T. Returns 0 when
// admitted, else the microseconds until a token is back. Microsecond timestamps (~1.8e15)
// are exact in Lua's doubles.
constexpr const char* kGcraScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local next_tat = tat + interval
local allowed_from = next_tat - burst * interval
if now < allowed_from then return math.ceil(allowed_from - now) end
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1)
return 0
)lua";

std::string shared_key(const std::string& key) {
  Sha256 h;
  h.update(key);
  return "ragd:ratelimit:" + h.hex_digest();
}

}  // namespace

RateLimiter::RateLimiter(double per_minute, std::shared_ptr<RedisClient> shared)
    : per_minute_(per_minute), burst_(std::max(per_minute, 1.0)), shared_(std::move(shared)) {}

double RateLimiter::acquire(const std::string& key, Clock::time_point now, bool* fell_back) {
  if (fell_back) *fell_back = false;
  if (per_minute_ <= 0) return 0;
  if (shared_) {
    char interval[64], burst[64];
    std::snprintf(interval, sizeof interval, "%.3f", 60e6 / per_minute_);
    std::snprintf(burst, sizeof burst, "%.6f", burst_);
    auto reply = shared_->command({"EVAL", kGcraScript, "1", shared_key(key), interval, burst});
    if (reply && reply->type == RedisReply::Type::Integer) {
      return reply->integer <= 0 ? 0 : static_cast<double>(reply->integer) / 1e6;
    }
    // Unreachable, or an error reply (counted by the client): this process decides.
    if (fell_back) *fell_back = true;
  }
  return acquire_local(key, now);
}

double RateLimiter::acquire_local(const std::string& key, Clock::time_point now) {
  const double per_second = per_minute_ / 60.0;
  std::lock_guard lock(mu_);
  if (now - last_prune_ > std::chrono::minutes(1)) {
    // A bucket untouched for burst / rate has refilled completely: same as a new one.
    const auto full_after = std::chrono::duration<double>(burst_ / per_second);
    std::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.updated > full_after; });
    last_prune_ = now;
  }
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  if (!inserted) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second);
    b.updated = now;
  }
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / per_second;
}

}  // namespace ragd::server
