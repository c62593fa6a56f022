#include "util/lru_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace ragd {
namespace {

using Cache = LruCache<std::string, int>;

struct FakeClock {
  Cache::Clock::time_point t{};
  void advance(std::chrono::milliseconds d) { t += d; }
};

TEST(LruCache, EvictsTheLeastRecentlyUsedByEntryCount) {
  Cache c(LruLimits{.max_entries = 2});
  c.put("a", 1);
  c.put("b", 2);
  ASSERT_EQ(c.get("a"), 1);  // b is now the least recently used
  c.put("c", 3);
  EXPECT_EQ(c.get("b"), std::nullopt);
  EXPECT_EQ(c.get("a"), 1);
  EXPECT_EQ(c.get("c"), 3);
  auto s = c.stats();
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 1u);
}

TEST(LruCache, ByteBudgetEvictsOldestUntilTheNewEntryFits) {
  Cache c(LruLimits{.max_entries = 100, .max_bytes = 100});
  c.put("a", 1, 40);
  c.put("b", 2, 40);
  c.put("c", 3, 40);  // 120 > 100: a goes
  EXPECT_EQ(c.get("a"), std::nullopt);
  EXPECT_EQ(c.stats().bytes, 80u);
  c.put("d", 4, 90);  // only d fits
  auto s = c.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, 90u);
  EXPECT_EQ(s.evictions, 3u);
  c.put("huge", 5, 101);  // larger than the whole budget: not stored, nothing evicted
  EXPECT_EQ(c.get("huge"), std::nullopt);
  EXPECT_EQ(c.get("d"), 4);
}

TEST(LruCache, ReplacingAnEntryKeepsTheByteCountExact) {
  Cache c(LruLimits{.max_entries = 10, .max_bytes = 1000});
  c.put("a", 1, 300);
  c.put("a", 2, 100);
  EXPECT_EQ(c.get("a"), 2);
  EXPECT_EQ(c.stats().bytes, 100u);
  EXPECT_EQ(c.stats().entries, 1u);
  EXPECT_EQ(c.stats().evictions, 0u);
  EXPECT_TRUE(c.erase("a"));
  EXPECT_FALSE(c.erase("a"));
  EXPECT_EQ(c.stats().bytes, 0u);
}

TEST(LruCache, TtlExpiresWithoutBeingExtendedByHits) {
  FakeClock clock;
  Cache c(LruLimits{.max_entries = 10}, [&] { return clock.t; });
  c.put("a", 1, 0, std::chrono::seconds(10));
  c.put("forever", 2);
  clock.advance(std::chrono::milliseconds(9999));
  EXPECT_EQ(c.get("a"), 1);
  clock.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(c.get("a"), std::nullopt);
  clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(c.get("forever"), 2);
  auto s = c.stats();
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.entries, 1u);
}

TEST(LruCache, GetIfDropsRejectedEntries) {
  Cache c(LruLimits{.max_entries = 10});
  c.put("a", 1);
  bool rejected = false;
  EXPECT_EQ(c.get_if("a", [](int v) { return v == 2; }, &rejected), std::nullopt);
  EXPECT_TRUE(rejected);
  EXPECT_EQ(c.stats().entries, 0u);
  EXPECT_EQ(c.get_if("a", [](int) { return true; }, &rejected), std::nullopt);
  EXPECT_FALSE(rejected);  // plain miss
}

TEST(LruCache, ScanVisitsMostRecentFirstAndErasesOnRequest) {
  FakeClock clock;
  Cache c(LruLimits{.max_entries = 10}, [&] { return clock.t; });
  c.put("a", 1);
  c.put("b", 2, 0, std::chrono::seconds(1));
  c.put("c", 3);
  clock.advance(std::chrono::seconds(2));  // b expired: dropped, not shown
  std::vector<std::string> seen;
  c.scan([&](const std::string& k, int v) {
    seen.push_back(k);
    return v == 3 ? Cache::Visit::Erase : Cache::Visit::Keep;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(c.stats().entries, 1u);
  EXPECT_EQ(c.stats().expired, 1u);
  std::vector<std::string> oldest_first;
  c.put("d", 4);
  c.for_each_oldest_first([&](const std::string& k, int) { oldest_first.push_back(k); });
  EXPECT_EQ(oldest_first, (std::vector<std::string>{"a", "d"}));
}

TEST(LruCache, ZeroEntriesDisablesTheCache) {
  Cache c(LruLimits{.max_entries = 0});
  c.put("a", 1);
  EXPECT_EQ(c.get("a"), std::nullopt);
  EXPECT_EQ(c.stats().entries, 0u);
}

TEST(LruCache, ClearEmptiesButKeepsCounters) {
  Cache c(LruLimits{.max_entries = 10});
  c.put("a", 1, 5);
  EXPECT_EQ(c.get("a"), 1);
  c.clear();
  EXPECT_EQ(c.get("a"), std::nullopt);
  auto s = c.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.hits, 1u);
}

// Run under TSan (build-tsan) to check the locking; here it checks the invariants.
TEST(LruCache, ConcurrentUseKeepsInvariants) {
  LruCache<int, std::vector<int>> c(LruLimits{.max_entries = 64, .max_bytes = 64 * 40});
  constexpr int kThreads = 4, kOps = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const int k = (i * 13 + t * 7) % 200;
        if (auto v = c.get(k)) {
          EXPECT_EQ(v->size(), static_cast<size_t>(k % 10 + 1));
          EXPECT_EQ(v->front(), k);
        } else {
          c.put(k, std::vector<int>(static_cast<size_t>(k % 10 + 1), k), static_cast<size_t>(k % 10 + 1) * 4,
                std::chrono::seconds(60));
        }
        if (i % 500 == 0) c.erase(k);
        if (i % 97 == 0) c.scan([](int, const std::vector<int>&) { return decltype(c)::Visit::Keep; });
      }
    });
  }
  for (auto& th : threads) th.join();
  auto s = c.stats();
  EXPECT_EQ(s.hits + s.misses, uint64_t{kThreads} * kOps);
  EXPECT_LE(s.entries, 64u);
  EXPECT_LE(s.bytes, 64u * 40);
  size_t bytes = 0, entries = 0;
  c.for_each_oldest_first([&](int, const std::vector<int>& v) {
    bytes += v.size() * 4;
    ++entries;
  });
  EXPECT_EQ(bytes, s.bytes);
  EXPECT_EQ(entries, s.entries);
}

}  // namespace
}  // namespace ragd
