#include "rag/answer/answer_cache.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "util/memory_kv_cache.h"

namespace ragd::rag {
namespace {

AnswerKey key(std::string question, uint64_t version = 1, std::string collection = "docs",
              std::string settings = "model=a") {
  return AnswerKey{std::move(collection), version, std::move(settings), std::move(question)};
}

CachedAnswer answer(std::string text) {
  CachedAnswer a;
  a.answer = std::move(text);
  a.citations = nlohmann::json::array({{{"number", 1}, {"chunk_id", 42}}});
  a.usage = {100, 20};
  return a;
}

// A unit vector at `degrees` from e0 in the (e0, e1) plane.
std::vector<float> at_angle(double degrees) {
  const double r = degrees * M_PI / 180.0;
  return {static_cast<float>(std::cos(r)), static_cast<float>(std::sin(r)), 0.f};
}

TEST(AnswerCache, NormalizesQuestions) {
  EXPECT_EQ(normalize_question("  What IS   the\tCapital of France?? "), "what is the capital of france");
  EXPECT_EQ(normalize_question("Hello, world!"), "hello, world");
  EXPECT_EQ(normalize_question("Ünïcode STAYS?"), "Ünïcode stays");  // only ASCII is folded
  EXPECT_EQ(normalize_question("?!."), "");
}

TEST(AnswerCache, ExactHitOnTheNormalisedQuestion) {
  AnswerCache cache;
  cache.insert(key("What is BM25?"), {}, answer("A ranking function [1]."));
  auto hit = cache.lookup(key("what is   bm25"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, AnswerHitKind::Exact);
  EXPECT_EQ(hit->value.answer, "A ranking function [1].");
  EXPECT_EQ(hit->value.citations[0]["chunk_id"], 42);
  EXPECT_EQ(hit->value.usage.completion_tokens, 20u);
  EXPECT_EQ(hit->cached_question, "What is BM25?");
  EXPECT_FALSE(cache.lookup(key("what is bm26")));
  EXPECT_FALSE(cache.lookup(key("What is BM25?", 1, "other")));           // other collection
  EXPECT_FALSE(cache.lookup(key("What is BM25?", 1, "docs", "model=b")));  // other settings
  auto s = cache.stats();
  EXPECT_EQ(s.exact_hits, 1u);
  EXPECT_EQ(s.misses, 3u);
}

TEST(AnswerCache, ScopeFieldsDoNotAlias) {
  AnswerCache cache;
  cache.insert(key("q", 1, "a", "b|c"), {}, answer("x"));
  EXPECT_FALSE(cache.lookup(key("q", 1, "a|b", "c")));
}

TEST(AnswerCache, AChangedCollectionInvalidatesItsAnswers) {
  AnswerCache cache;
  cache.insert(key("q", 1), at_angle(0), answer("old"));
  EXPECT_TRUE(cache.lookup(key("q", 1)));
  EXPECT_FALSE(cache.lookup(key("q", 2)));
  EXPECT_FALSE(cache.lookup(key("q", 1)));  // dropped, not just skipped
  cache.insert(key("p", 3), at_angle(0), answer("old"));
  EXPECT_FALSE(cache.lookup(key("other words", 4), at_angle(0)));  // semantic path too
  EXPECT_EQ(cache.stats().invalidated, 2u);
  EXPECT_EQ(cache.stats().size, 0u);
}

TEST(AnswerCache, SemanticHitAtOrAboveTheThreshold) {
  AnswerCache cache({.capacity = 10, .semantic_threshold = 0.95});
  cache.insert(key("How do I reset my password?"), at_angle(0), answer("Use the link [1]."));
  // cos(15°) ≈ 0.966 ≥ 0.95: same meaning.
  auto hit = cache.lookup(key("I forgot my password, how to reset it"), at_angle(15));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, AnswerHitKind::Semantic);
  EXPECT_NEAR(hit->similarity, std::cos(15 * M_PI / 180), 1e-6);
  EXPECT_EQ(hit->value.answer, "Use the link [1].");
  // cos(20°) ≈ 0.940 < 0.95: a different question.
  EXPECT_FALSE(cache.lookup(key("How do I change my email?"), at_angle(20)));
  // Without an embedding only exact hits are possible.
  EXPECT_FALSE(cache.lookup(key("I forgot my password, how to reset it")));
  // Other scopes are never searched.
  EXPECT_FALSE(cache.lookup(key("x", 1, "docs", "model=b"), at_angle(0)));
  auto s = cache.stats();
  EXPECT_EQ(s.semantic_hits, 1u);
  EXPECT_EQ(s.exact_hits, 0u);
  EXPECT_EQ(s.misses, 3u);
}

TEST(AnswerCache, SemanticPicksTheMostSimilarAndNormalises) {
  AnswerCache cache({.capacity = 10, .semantic_threshold = 0.9});
  cache.insert(key("a"), at_angle(0), answer("A"));
  cache.insert(key("b"), at_angle(20), answer("B"));
  std::vector<float> q = at_angle(16);
  for (float& x : q) x *= 3;  // not unit length: the cache normalises
  auto hit = cache.lookup(key("c"), q);
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->value.answer, "B");
}

TEST(AnswerCache, EvictsTheLeastRecentlyUsed) {
  AnswerCache cache({.capacity = 2, .semantic_threshold = 0.95});
  cache.insert(key("a"), {}, answer("A"));
  cache.insert(key("b"), {}, answer("B"));
  ASSERT_TRUE(cache.lookup(key("a")));
  cache.insert(key("c"), {}, answer("C"));
  EXPECT_TRUE(cache.lookup(key("a")));
  EXPECT_FALSE(cache.lookup(key("b")));
  EXPECT_TRUE(cache.lookup(key("c")));
  EXPECT_EQ(cache.stats().evicted, 1u);
  cache.insert(key("C?"), {}, answer("C2"));  // same normalised question: replaced
  EXPECT_EQ(cache.lookup(key("c"))->value.answer, "C2");
  EXPECT_EQ(cache.stats().size, 2u);
}

TEST(AnswerCache, ConcurrentUseKeepsCountsConsistent) {
  AnswerCache cache({.capacity = 20, .semantic_threshold = 0.99});
  constexpr int kThreads = 4, kOps = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOps; ++i) {
        const int q = (i * 5 + t) % 40;
        auto k = key(fmt::format("question {}", q), 1 + static_cast<uint64_t>(i / 500));
        if (auto hit = cache.lookup(k, at_angle(q))) {
          EXPECT_EQ(hit->value.answer.substr(0, 7), "answer ");
        } else {
          cache.insert(k, at_angle(q), answer(fmt::format("answer {}", q)));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  auto s = cache.stats();
  EXPECT_EQ(s.exact_hits + s.semantic_hits + s.misses, uint64_t{kThreads} * kOps);
  EXPECT_LE(s.size, 20u);
}

// Two caches on one backend stand for two replicas sharing Redis.
TEST(AnswerCache, ReplicasSharingABackendReuseExactAnswers) {
  auto shared = std::make_shared<MemoryKvCache>();
  AnswerCache a({.capacity = 10, .semantic_threshold = 0.95, .shared = shared});
  AnswerCache b({.capacity = 10, .semantic_threshold = 0.95, .shared = shared});
  a.insert(key("What is BM25?"), at_angle(0), answer("A ranking function [1]."));
  auto hit = b.lookup(key("what is   bm25"));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->kind, AnswerHitKind::Exact);
  EXPECT_EQ(hit->cached_question, "What is BM25?");
  EXPECT_EQ(hit->value.answer, "A ranking function [1].");
  EXPECT_EQ(hit->value.citations[0]["chunk_id"], 42);
  EXPECT_EQ(hit->value.usage.prompt_tokens, 100u);
  EXPECT_EQ(hit->value.usage.completion_tokens, 20u);
  // The fetched entry kept its embedding, so b now answers similar questions too.
  auto similar = b.lookup(key("explain bm25"), at_angle(5));
  ASSERT_TRUE(similar);
  EXPECT_EQ(similar->kind, AnswerHitKind::Semantic);
  EXPECT_FALSE(b.lookup(key("What is BM25?", 2)));  // the collection changed since
  EXPECT_FALSE(b.lookup(key("What is BM25?", 1, "docs", "model=b")));
  auto s = b.stats();
  EXPECT_EQ(s.shared_hits, 1u);
  EXPECT_EQ(s.exact_hits, 1u);
  EXPECT_EQ(s.semantic_hits, 1u);
  EXPECT_EQ(s.misses, 2u);
}

}  // namespace
}  // namespace ragd::rag
