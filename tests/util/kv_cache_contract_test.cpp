// The KvCache contract (util/kv_cache.h) run against both implementations: MemoryKvCache
// and RedisKvCache on a redis-server this test starts (tests/util/redis_process.h). Then
// Redis is killed mid-test: the cache must degrade to misses without throwing, and come
// back when Redis does.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

#include "redis_process.h"
#include "util/error.h"
#include "util/kv_cache.h"
#include "util/memory_kv_cache.h"
#include "util/redis_kv_cache.h"

namespace ragd {
namespace {

using namespace std::chrono_literals;

// One redis-server for the contract tests, started on first use and killed at exit.
testing::RedisProcess& shared_redis() {
  static testing::RedisProcess redis;
  static const bool started = redis.absent() ? false : redis.start();
  (void)started;
  return redis;
}

class KvCacheContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      a_ = std::make_shared<MemoryKvCache>(LruLimits{.max_entries = 1000});
      b_ = std::make_shared<MemoryKvCache>(LruLimits{.max_entries = 1000});
      return;
    }
    auto& redis = shared_redis();
    if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
    ASSERT_NE(redis.port(), 0);
    auto client = connect_cache(CacheUrl::parse(redis.url()));
    ASSERT_TRUE(client);
    a_ = std::make_shared<RedisKvCache>(client, "contract_a");
    b_ = std::make_shared<RedisKvCache>(client, "contract_b");
    a_->clear();
    b_->clear();
  }
  std::shared_ptr<KvCache> a_, b_;  // two names (namespaces)
};

TEST_P(KvCacheContract, GetReturnsTheLatestPutBytes) {
  EXPECT_EQ(a_->get("k"), std::nullopt);
  const std::string binary("v\0\xff\n1", 5);  // values are bytes, not C strings
  a_->put("k", binary);
  EXPECT_EQ(a_->get("k"), binary);
  a_->put("k", "second");
  EXPECT_EQ(a_->get("k"), "second");
  const std::string long_key(5000, 'q');  // queries and prompts make long keys
  a_->put(long_key, "long");
  EXPECT_EQ(a_->get(long_key), "long");
  EXPECT_EQ(a_->get(std::string(4999, 'q')), std::nullopt);
}

TEST_P(KvCacheContract, EraseAndClearAffectOnlyTheirKeyAndName) {
  a_->put("k", "a");
  a_->put("j", "a2");
  b_->put("k", "b");
  a_->erase("j");
  EXPECT_EQ(a_->get("j"), std::nullopt);
  EXPECT_EQ(a_->get("k"), "a");
  a_->clear();
  EXPECT_EQ(a_->get("k"), std::nullopt);
  EXPECT_EQ(b_->get("k"), "b");  // another name is another namespace
}

TEST_P(KvCacheContract, EntriesExpireAfterTheirTtl) {
  a_->put("short", "x", 100ms);
  a_->put("long", "y", 60s);
  EXPECT_EQ(a_->get("short"), "x");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(a_->get("short"), std::nullopt);
  EXPECT_EQ(a_->get("long"), "y");
}

TEST_P(KvCacheContract, StatsCountHitsAndMisses) {
  const auto before = a_->stats();
  a_->put("k", "v");
  (void)a_->get("k");
  (void)a_->get("absent");
  const auto after = a_->stats();
  EXPECT_EQ(after.hits - before.hits, 1u);
  EXPECT_EQ(after.misses - before.misses, 1u);
  EXPECT_EQ(after.errors, 0u);
}

TEST_P(KvCacheContract, ConcurrentUseReturnsOnlyValuesThatWerePut) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::string k = fmt::format("k{}", (i * 7 + t) % 50);
        if (auto v = a_->get(k)) {
          EXPECT_EQ(*v, fmt::format("value of {}", k));
        } else {
          a_->put(k, fmt::format("value of {}", k));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(a_->stats().errors, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, KvCacheContract, ::testing::Values("memory", "redis"),
                         [](const auto& info) { return info.param; });

TEST(MemoryKvCache, ByteBudgetCountsKeysAndValues) {
  MemoryKvCache c(LruLimits{.max_entries = 100, .max_bytes = 20});
  c.put("k1", "12345678");  // 10 bytes
  c.put("k2", "12345678");  // 20
  c.put("k3", "1");         // 23 > 20: k1 goes
  EXPECT_EQ(c.get("k1"), std::nullopt);
  EXPECT_EQ(c.stats().bytes, 13u);
  EXPECT_EQ(c.stats().evictions, 1u);
}

TEST(CacheUrl, ParsesMemoryAndRedisAndRefusesTheRest) {
  EXPECT_EQ(CacheUrl::parse("").kind, CacheUrl::Kind::Memory);
  EXPECT_EQ(CacheUrl::parse("memory").kind, CacheUrl::Kind::Memory);
  auto u = CacheUrl::parse("redis://cache.local:6380/2");
  EXPECT_EQ(u.kind, CacheUrl::Kind::Redis);
  EXPECT_EQ(u.host, "cache.local");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 2);
  EXPECT_EQ(u.str(), "redis://cache.local:6380/2");
  EXPECT_EQ(CacheUrl::parse("redis://h").port, 6379);
  EXPECT_EQ(CacheUrl::parse("redis://h").db, 0);
  EXPECT_THROW(CacheUrl::parse("memcached://h:1"), Error);
  EXPECT_THROW(CacheUrl::parse("redis://:6379"), Error);
  EXPECT_THROW(CacheUrl::parse("redis://h:0"), Error);
  EXPECT_THROW(CacheUrl::parse("redis://h:port"), Error);
  EXPECT_THROW(CacheUrl::parse("redis://h:1/x"), Error);
  EXPECT_THROW(CacheUrl::parse("redis://user:pw@h:1"), Error);
}

TEST(RedisKvCache, KeysAreNamespacedAndBounded) {
  RedisKvCache c(std::make_shared<RedisClient>(RedisClient::Options{}), "answer");
  const std::string k = c.redis_key(std::string(10000, 'x'));
  EXPECT_EQ(k.rfind("ragd:answer:", 0), 0u);
  EXPECT_EQ(k.size(), std::string("ragd:answer:").size() + 64);
  EXPECT_NE(c.redis_key("a"), c.redis_key("b"));
}

TEST(RedisKvCache, DegradesToMissesWhenRedisDiesAndRecovers) {
  testing::RedisProcess redis;
  if (redis.absent()) GTEST_SKIP() << testing::RedisProcess::kSkipReason;
  ASSERT_TRUE(redis.start());
  RedisClient::Options o;
  o.port = redis.port();
  o.min_backoff = 50ms;
  o.max_backoff = 200ms;
  auto client = std::make_shared<RedisClient>(o);
  RedisKvCache cache(client, "degrade");
  cache.put("k", "v");
  ASSERT_EQ(cache.get("k"), "v");

  redis.stop();  // kill -9 with a pooled connection open
  for (int i = 0; i < 20; ++i) {
    EXPECT_NO_THROW({
      EXPECT_EQ(cache.get("k"), std::nullopt);
      cache.put("k2", "v2");
      cache.erase("k");
      cache.clear();
    });
  }
  EXPECT_GT(cache.stats().errors, 0u);
  EXPECT_GT(client->errors(), 0u);
  const auto misses = cache.stats().misses;
  EXPECT_GE(misses, 20u);

  // Backoff: a burst of calls right after a failure must not each wait for a timeout.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) (void)cache.get("k");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);

  ASSERT_TRUE(redis.start());  // same port, empty (no persistence)
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    std::this_thread::sleep_for(50ms);
    cache.put("k3", "v3");
    back = cache.get("k3") == std::optional<std::string>("v3");
  }
  EXPECT_TRUE(back) << "the client did not reconnect after Redis came back";
}

}  // namespace
}  // namespace ragd
