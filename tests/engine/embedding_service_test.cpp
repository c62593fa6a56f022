// EmbeddingCache (LRU) and EmbeddingService (cache, de-duplication, truncation, batching,
// concurrent callers) on a tiny random-weight BERT converted on the fly.
#include "engine/embedding_service.h"

#include <gtest/gtest.h>

#include <thread>

#include "../model/tiny_bert.h"
#include "model/convert_bert.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

using ragd::testing::ScratchDir;
using ragd::testing::TinyBert;

TEST(EmbeddingCache, EvictsLeastRecentlyUsed) {
  EmbeddingCache c(2);
  c.put("m", "a", {1});
  c.put("m", "b", {2});
  ASSERT_TRUE(c.get("m", "a"));  // a is now most recent
  c.put("m", "c", {3});          // evicts b
  EXPECT_FALSE(c.get("m", "b"));
  EXPECT_EQ(*c.get("m", "a"), std::vector<float>{1});
  EXPECT_EQ(*c.get("m", "c"), std::vector<float>{3});
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.get("other-model", "a"));  // keys include the model
  c.put("m", "a", {9});                     // replace in place
  EXPECT_EQ(*c.get("m", "a"), std::vector<float>{9});
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.hits(), 4u);
  EXPECT_EQ(c.misses(), 2u);
  c.clear();
  EXPECT_EQ(c.size(), 0u);
  EmbeddingCache off(0);
  off.put("m", "a", {1});
  EXPECT_FALSE(off.get("m", "a"));
}

class EmbeddingServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tb_.write(dir_.path() / "ckpt");
    model::ConvertBertOptions o;
    o.name = "tiny";
    model::convert_bert((dir_.path() / "ckpt").string(), dir_ / "tiny.gguf", o);
  }
  std::shared_ptr<EmbeddingService> open(EmbeddingServiceOptions o = {}) {
    o.threads = 2;
    o.precision = model::BertPrecision::F32;  // exact against the naive forward; int8: embedding_precision_test
    return EmbeddingService::open(dir_ / "tiny.gguf", o);
  }
  ScratchDir dir_;
  TinyBert tb_;
};

TEST_F(EmbeddingServiceTest, EmbedsLikeTheNaiveForwardAndCaches) {
  auto s = open();
  EXPECT_EQ(s->name(), "tiny");
  EXPECT_EQ(s->model_id(), "tiny/f32");
  EXPECT_EQ(s->dim(), 32u);
  EXPECT_EQ(s->max_tokens(), 16u);
  const std::vector<std::string> texts = {"hello world", "the cat sat on a mat", "hello world",
                                          "dogs"};
  const auto v = s->embed(texts);
  ASSERT_EQ(v.size(), 4u);
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = s->tokenize(texts[i]);
    EXPECT_GT(ragd::testing::cosine(v[i], tb_.reference(ids)), 1 - 1e-6) << texts[i];
  }
  EXPECT_EQ(v[0], v[2]);
  auto st = s->stats();
  EXPECT_EQ(st.texts, 4u);
  EXPECT_EQ(st.computed, 3u);  // the repeated text is computed once
  EXPECT_EQ(st.cache_hits, 0u);
  EXPECT_EQ(s->embed("the cat sat on a mat"), v[1]);
  st = s->stats();
  EXPECT_EQ(st.cache_hits, 1u);
  EXPECT_EQ(st.computed, 3u);
  EXPECT_EQ(s->cache().size(), 3u);
}

TEST_F(EmbeddingServiceTest, TruncatesToMaxTokensKeepingSep) {
  auto s = open();
  std::string long_text;
  for (int i = 0; i < 30; ++i) long_text += "cat ";
  bool cut = false;
  const auto ids = s->tokenize(long_text, &cut);
  EXPECT_TRUE(cut);
  ASSERT_EQ(ids.size(), 16u);
  EXPECT_EQ(ids.front(), 2);  // [CLS]
  EXPECT_EQ(ids.back(), 3);   // [SEP]
  const auto v = s->embed(long_text);
  EXPECT_GT(ragd::testing::cosine(v, tb_.reference(ids)), 1 - 1e-6);
  EXPECT_EQ(s->stats().truncated, 1u);
  EmbeddingServiceOptions o;
  o.max_tokens = 5;
  auto short_s = open(o);
  EXPECT_EQ(short_s->tokenize(long_text).size(), 5u);
}

TEST_F(EmbeddingServiceTest, PacksBatchesByTokens) {
  EmbeddingServiceOptions o;
  o.max_batch_tokens = 8;
  o.cache_capacity = 0;
  auto s = open(o);
  std::vector<std::string> texts;
  for (int i = 0; i < 6; ++i) texts.push_back("hello world");  // 4 tokens each
  texts.push_back("the cat sat on a mat the cat sat on a mat");  // 14 tokens: alone
  texts.push_back("cat");
  const auto v = s->embed(texts);
  const auto st = s->stats();
  EXPECT_EQ(st.computed, 3u);  // duplicates collapse even without a cache
  EXPECT_EQ(st.batches, 2u);   // {cat, hello world} (3 + 4), then the long one
  EXPECT_EQ(s->cache().size(), 0u);
  for (size_t i = 1; i < 6; ++i) EXPECT_EQ(v[i], v[0]);
}

TEST_F(EmbeddingServiceTest, ConcurrentCallersGetTheirOwnResults) {
  EmbeddingServiceOptions o;
  o.cache_capacity = 0;
  auto s = open(o);
  const std::vector<std::string> texts = {"hello", "world", "the cat", "a dog", "mat on cat",
                                          "sat", "dogs sat", "hello cat world"};
  std::vector<std::vector<float>> want;
  for (const auto& t : texts) want.push_back(s->embed(t));
  std::vector<std::thread> threads;
  std::vector<int> bad(8, 0);
  for (size_t c = 0; c < 8; ++c) {
    threads.emplace_back([&, c] {
      for (int r = 0; r < 20; ++r) {
        const size_t i = (c + r) % texts.size();
        const auto got = s->embed(texts[i]);
        for (size_t e = 0; e < got.size(); ++e) bad[c] += std::abs(got[e] - want[i][e]) > 1e-5f;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int b : bad) EXPECT_EQ(b, 0);
  EXPECT_LE(s->stats().batches, texts.size() + 8u * 20u);
}

TEST_F(EmbeddingServiceTest, RejectsNonBertModels) {
  EXPECT_THROW(EmbeddingService::open(RAGD_SHARED_DIR "/models/stories260K.gguf"), Error);
  EXPECT_THROW(EmbeddingService::open(dir_ / "missing.gguf"), Error);
}

}  // namespace
}  // namespace ragd::engine
