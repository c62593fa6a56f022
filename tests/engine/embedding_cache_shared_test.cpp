// EmbeddingCache with a shared backend: two caches on one MemoryKvCache stand for two
// replicas sharing Redis (the Redis client itself is tested in tests/util).
#include <gtest/gtest.h>

#include "engine/embedding_cache.h"
#include "util/memory_kv_cache.h"

namespace ragd::engine {
namespace {

TEST(EmbeddingCacheShared, ReplicasReuseEachOthersVectors) {
  auto shared = std::make_shared<MemoryKvCache>();
  EmbeddingCache a(10, shared), b(10, shared);
  a.put("m/f32", "some passage", {1.f, -2.5f, 3.f});
  auto v = b.get("m/f32", "some passage");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, (std::vector<float>{1.f, -2.5f, 3.f}));
  EXPECT_TRUE(b.get("m/f32", "some passage"));  // now local
  EXPECT_FALSE(b.get("other/f32", "some passage"));  // the model is part of the key
  EXPECT_FALSE(b.get("m/f32", "some passagE"));
  EXPECT_EQ(b.hits(), 2u);
  EXPECT_EQ(b.shared_hits(), 1u);
  EXPECT_EQ(b.misses(), 2u);
  EXPECT_EQ(b.size(), 1u);
}

TEST(EmbeddingCacheShared, AForeignSharedValueIsAMissAndIsDropped) {
  auto shared = std::make_shared<MemoryKvCache>();
  EmbeddingCache cache(10, shared);
  const std::string k = EmbeddingCache::shared_key(std::string_view("m"), std::string_view("t"));
  shared->put(k, "abc");  // not a whole number of floats
  EXPECT_FALSE(cache.get("m", "t"));
  EXPECT_FALSE(shared->get(k));
  cache.put("m", "t", {2.f});
  EXPECT_EQ(shared->get(k)->size(), sizeof(float));
}

TEST(EmbeddingCacheShared, ZeroCapacityNeverTouchesTheBackend) {
  auto shared = std::make_shared<MemoryKvCache>();
  EmbeddingCache a(0, shared);
  a.put("m", "t", {1.f});
  EXPECT_FALSE(a.get("m", "t"));
  EXPECT_EQ(shared->stats().entries, 0u);
  EXPECT_EQ(shared->stats().misses, 0u);
}

}  // namespace
}  // namespace ragd::engine
