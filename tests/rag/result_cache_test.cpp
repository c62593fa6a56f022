#include "rag/search/result_cache.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <thread>

#include "util/memory_kv_cache.h"

namespace ragd::rag {
namespace {

// A clock the test moves by hand.
struct FakeClock {
  ResultCache::Clock::time_point t{};
  void advance(double s) {
    t += std::chrono::duration_cast<ResultCache::Clock::duration>(std::chrono::duration<double>(s));
  }
};

ResultCacheKey key(std::string query, uint64_t version = 1) {
  return ResultCacheKey{"docs", version, std::move(query), SearchMode::Hybrid, 5, "{}"};
}

std::vector<SearchHit> hits(int64_t first_chunk) {
  SearchHit h;
  h.chunk_id = first_chunk;
  h.text = fmt::format("text {}", first_chunk);
  return {h};
}

TEST(ResultCache, HitsUntilTheTtlExpires) {
  FakeClock clock;
  ResultCache cache({.capacity = 10, .ttl_seconds = 1800, .now = [&] { return clock.t; }});
  EXPECT_EQ(cache.get(key("q")), nullptr);
  cache.put(key("q"), hits(7));
  clock.advance(1799);
  auto got = cache.get(key("q"));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->at(0).chunk_id, 7);
  clock.advance(2);  // a hit does not extend the entry's life
  EXPECT_EQ(cache.get(key("q")), nullptr);
  auto s = cache.stats();
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 2u);
  EXPECT_EQ(s.expired, 1u);
  EXPECT_EQ(s.size, 0u);
}

TEST(ResultCache, DefaultTtlIsHalfAnHour) {
  EXPECT_EQ(ResultCache().ttl_seconds(), 1800);
}

TEST(ResultCache, EveryKeyFieldSeparatesEntries) {
  ResultCache cache;
  cache.put(key("q"), hits(1));
  EXPECT_NE(cache.get(key("q")), nullptr);
  EXPECT_EQ(cache.get(key("q", 2)), nullptr);  // collection content changed
  auto k = key("q");
  k.collection = "other";
  EXPECT_EQ(cache.get(k), nullptr);
  k = key("q");
  k.mode = SearchMode::Bm25;
  EXPECT_EQ(cache.get(k), nullptr);
  k = key("q");
  k.top_k = 6;
  EXPECT_EQ(cache.get(k), nullptr);
  k = key("q");
  k.options = "{\"x\":1}";
  EXPECT_EQ(cache.get(k), nullptr);
  // Fields cannot bleed into each other through separators.
  ResultCacheKey a{"a|b", 1, "c", SearchMode::Bm25, 1, ""};
  ResultCacheKey b{"a", 1, "b|c", SearchMode::Bm25, 1, ""};
  EXPECT_NE(a.encode(), b.encode());
}

TEST(ResultCache, OptionsKeyIsCanonical) {
  SearchOptions a, b;
  a.filters = {{"lang", "en", false}, {"year", "2020", true}};
  b.filters = {{"year", "2020", true}, {"lang", "en", false}};
  EXPECT_EQ(search_options_key(a), search_options_key(b));  // filter order is irrelevant
  b.min_score = 0.5;
  EXPECT_NE(search_options_key(a), search_options_key(b));
  b = a;
  b.level = ResultLevel::Chunks;
  EXPECT_NE(search_options_key(a), search_options_key(b));
  b = a;
  b.dense_weight = 0.6;
  EXPECT_NE(search_options_key(a), search_options_key(b));
  b = a;
  b.profile = search_profile("quality");
  EXPECT_NE(search_options_key(a), search_options_key(b));
}

TEST(ResultCache, EvictsTheLeastRecentlyUsed) {
  ResultCache cache({.capacity = 2, .ttl_seconds = 1800, .now = {}});
  cache.put(key("a"), hits(1));
  cache.put(key("b"), hits(2));
  ASSERT_NE(cache.get(key("a")), nullptr);  // b is now the least recently used
  cache.put(key("c"), hits(3));
  EXPECT_NE(cache.get(key("a")), nullptr);
  EXPECT_EQ(cache.get(key("b")), nullptr);
  EXPECT_NE(cache.get(key("c")), nullptr);
  EXPECT_EQ(cache.stats().evicted, 1u);
  EXPECT_EQ(cache.stats().size, 2u);
}

TEST(ResultCache, ZeroCapacityDisablesIt) {
  ResultCache cache({.capacity = 0, .ttl_seconds = 1800, .now = {}});
  cache.put(key("a"), hits(1));
  EXPECT_EQ(cache.get(key("a")), nullptr);
  EXPECT_EQ(cache.stats().size, 0u);
}

TEST(ResultCache, ConcurrentUseKeepsCountsConsistent) {
  ResultCache cache({.capacity = 50, .ttl_seconds = 1800, .now = {}});
  constexpr int kThreads = 4, kOps = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        auto k = key(fmt::format("q{}", (i * 7 + t) % 100));
        if (auto got = cache.get(k)) {
          EXPECT_EQ(got->at(0).text, fmt::format("text {}", got->at(0).chunk_id));
        } else {
          cache.put(k, hits(i));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto s = cache.stats();
  EXPECT_EQ(s.hits + s.misses, uint64_t{kThreads} * kOps);
  EXPECT_LE(s.size, 50u);
}

// Two caches on one backend stand for two replicas sharing Redis.
TEST(ResultCache, ReplicasSharingABackendServeEachOthersResults) {
  auto shared = std::make_shared<MemoryKvCache>();
  ResultCache a({.capacity = 10, .ttl_seconds = 1800, .now = {}, .shared = shared});
  ResultCache b({.capacity = 10, .ttl_seconds = 1800, .now = {}, .shared = shared});
  a.put(key("q"), hits(7));
  auto got = b.get(key("q"));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->at(0).chunk_id, 7);
  EXPECT_EQ(got->at(0).text, "text 7");
  ASSERT_NE(b.get(key("q")), nullptr);  // now held locally too
  EXPECT_EQ(b.get(key("q", 2)), nullptr);  // another content version is another key
  auto s = b.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.shared_hits, 1u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.size, 1u);
  b.clear();  // clears the shared level too: a no longer finds it there
  a.clear();
  EXPECT_EQ(a.get(key("q")), nullptr);
}

TEST(ResultCache, HitsSurviveTheSharedEncoding) {
  SearchHit h;
  h.chunk_id = 3;
  h.document_id = 4;
  h.external_id = "doc-4";
  h.title = "T";
  h.heading = "H";
  h.text = "line\nwith \"quotes\" and ünïcode";
  h.metadata = R"({"lang":"en"})";
  h.score = 0.25;
  h.dense_score = 0.5;
  auto back = decode_search_hits(encode_search_hits({h, SearchHit{}}));
  ASSERT_TRUE(back);
  ASSERT_EQ(back->size(), 2u);
  const SearchHit& r = back->at(0);
  EXPECT_EQ(r.chunk_id, 3);
  EXPECT_EQ(r.document_id, 4);
  EXPECT_EQ(r.external_id, "doc-4");
  EXPECT_EQ(r.title, "T");
  EXPECT_EQ(r.heading, "H");
  EXPECT_EQ(r.text, h.text);
  EXPECT_EQ(r.metadata, h.metadata);
  EXPECT_EQ(r.score, 0.25);
  EXPECT_FALSE(r.bm25_score);
  EXPECT_EQ(r.dense_score, 0.5);
  EXPECT_FALSE(decode_search_hits("not json"));
  EXPECT_FALSE(decode_search_hits(R"([{"c":1}])"));
}

TEST(ResultCache, AForeignSharedEntryIsAMissAndIsDropped) {
  auto shared = std::make_shared<MemoryKvCache>();
  ResultCache cache({.capacity = 10, .ttl_seconds = 1800, .now = {}, .shared = shared});
  shared->put(key("q").encode(), "garbage");
  EXPECT_EQ(cache.get(key("q")), nullptr);
  EXPECT_EQ(shared->get(key("q").encode()), std::nullopt);
}

}  // namespace
}  // namespace ragd::rag
