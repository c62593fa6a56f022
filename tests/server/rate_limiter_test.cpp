// RateLimiter: the in-process token bucket, and the same bucket kept in Redis so that every
// replica sharing it enforces one limit (on a redis-server this test starts,
// tests/util/redis_process.h; skipped without one).
#include "server/rate_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "../util/redis_process.h"
#include "util/redis_client.h"

namespace ragd::server {
namespace {

TEST(RateLimiter, RefillsAtTheConfiguredRate) {
  RateLimiter limiter(60);  // one per second, burst 60
  auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(limiter.acquire("k", t0), 0) << i;
  double wait = limiter.acquire("k", t0);
  EXPECT_GT(wait, 0.9);
  EXPECT_LE(wait, 1.0);
  EXPECT_EQ(limiter.acquire("other", t0), 0);  // keys are independent
  EXPECT_EQ(limiter.acquire("k", t0 + std::chrono::seconds(1)), 0);
  EXPECT_GT(limiter.acquire("k", t0 + std::chrono::seconds(1)), 0);
  EXPECT_EQ(RateLimiter(0).acquire("k", t0), 0);  // disabled
}

// Many request threads share one limiter: exactly the burst is admitted per key, whatever
// the interleaving (and ThreadSanitizer, in `make tsan`, sees no race).
TEST(RateLimiter, ConcurrentAcquireAdmitsExactlyTheBurst) {
  RateLimiter limiter(100);
  const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        if (limiter.acquire(i % 2 ? "a" : "b", t0) == 0) ++admitted;
        if (t == 0 && i % 10 == 0) limiter.acquire("key-" + std::to_string(i), t0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), 200);  // 100 for "a", 100 for "b", of 400 attempts
}

// Below one request a minute the bucket still holds one: 0.5 admits one request every 2
// minutes, instead of none ever.
TEST(RateLimiter, FractionalRatesStillAdmitOneRequest) {
  RateLimiter limiter(0.5);
  const auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  EXPECT_EQ(limiter.acquire("k", t0), 0);
  const double wait = limiter.acquire("k", t0);
  EXPECT_GT(wait, 119.0);
  EXPECT_LE(wait, 120.0);
  EXPECT_GT(limiter.acquire("k", t0 + std::chrono::seconds(60)), 0);
  EXPECT_EQ(limiter.acquire("k", t0 + std::chrono::seconds(120)), 0);
}

std::shared_ptr<RedisClient> client_of(const testing::RedisProcess& redis) {
  RedisClient::Options o;
  o.port = redis.port();
  return std::make_shared<RedisClient>(o);
}

// Two replicas on one Redis take from one bucket per key: N admitted in all, whichever
// replica a request reaches; the refusal names the wait for the next token.
TEST(RateLimiter, SharedBucketsHoldAcrossReplicas) {
  testing::RedisProcess redis;
  if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
  ASSERT_TRUE(redis.start());
  RateLimiter a(3, client_of(redis)), b(3, client_of(redis));  // 3 per minute: one every 20 s
  EXPECT_TRUE(a.shared());
  EXPECT_EQ(a.acquire("key-1"), 0);
  EXPECT_EQ(b.acquire("key-1"), 0);
  EXPECT_EQ(a.acquire("key-1"), 0);
  const double wait = b.acquire("key-1");
  EXPECT_GT(wait, 19.0);
  EXPECT_LE(wait, 20.0);
  EXPECT_GT(a.acquire("key-1"), 19.0);
  EXPECT_EQ(b.acquire("key-2"), 0);  // keys are independent
  // The key is stored hashed, never as the API key itself, and expires with its bucket.
  auto keys = client_of(redis)->command({"KEYS", "ragd:ratelimit:*"});
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->elements.size(), 2u);
  for (const auto& k : keys->elements) {
    EXPECT_EQ(k.str.find("key-"), std::string::npos) << k.str;
    EXPECT_EQ(k.str.size(), std::string("ragd:ratelimit:").size() + 64);
    auto ttl = client_of(redis)->command({"PTTL", k.str});
    ASSERT_TRUE(ttl);
    EXPECT_GT(ttl->integer, 0);
    EXPECT_LE(ttl->integer, 60001);
  }
}

TEST(RateLimiter, SharedFractionalRatesStillAdmitOneRequest) {
  testing::RedisProcess redis;
  if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
  ASSERT_TRUE(redis.start());
  RateLimiter a(0.5, client_of(redis));
  EXPECT_EQ(a.acquire("k"), 0);
  const double wait = a.acquire("k");
  EXPECT_GT(wait, 119.0);
  EXPECT_LE(wait, 120.0);
}

// The script is atomic: threads of two replicas racing on one key are admitted exactly the
// burst between them.
TEST(RateLimiter, SharedConcurrentAcquireAdmitsExactlyTheBurst) {
  testing::RedisProcess redis;
  if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
  ASSERT_TRUE(redis.start());
  RateLimiter a(40, client_of(redis)), b(40, client_of(redis));
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      RateLimiter& limiter = t % 2 ? a : b;
      for (int i = 0; i < 25; ++i) {
        if (limiter.acquire("hot") == 0) ++admitted;
      }
    });
  }
  for (auto& th : threads) th.join();
  // 100 attempts within well under the 1.5 s a token takes to come back: 40 admitted (41
  // only if the machine stalled the threads for over 1.5 s).
  EXPECT_GE(admitted.load(), 40);
  EXPECT_LE(admitted.load(), 41);
}

// Redis gone: each replica falls back to its own bucket (limited, not open and not closed);
// Redis back: the shared bucket decides again.
TEST(RateLimiter, FallsBackToLocalBucketsWhileRedisIsDown) {
  testing::RedisProcess redis;
  if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
  ASSERT_TRUE(redis.start());
  auto client = client_of(redis);
  RateLimiter a(2, client);
  EXPECT_EQ(a.acquire("k"), 0);
  EXPECT_EQ(a.acquire("k"), 0);
  EXPECT_GT(a.acquire("k"), 0);
  redis.stop();
  const uint64_t errors_before = client->errors();
  // The local bucket has not been touched yet: it admits its own burst of 2, then refuses.
  EXPECT_EQ(a.acquire("k"), 0);
  EXPECT_EQ(a.acquire("k"), 0);
  EXPECT_GT(a.acquire("k"), 0);
  EXPECT_GT(client->errors(), errors_before);
  ASSERT_TRUE(redis.start());  // empty: the key's bucket is full again
  bool admitted = false;
  for (int i = 0; i < 100 && !admitted; ++i) {  // until the client's reconnect backoff passes
    admitted = a.acquire("k") == 0;
    if (!admitted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(admitted);
  auto keys = client_of(redis)->command({"KEYS", "ragd:ratelimit:*"});
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->elements.size(), 1u);  // the admission came from Redis
}

}  // namespace
}  // namespace ragd::server
