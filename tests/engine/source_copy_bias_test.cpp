#include "engine/source_copy_bias.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/sampler.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

using Ids = std::vector<int32_t>;

// Two sources; token 5 occurs in both, followed by 6 in the first and by 9 in the second.
SourceCopyBias two_sources(size_t prompt_length, size_t min_match = 1) {
  return SourceCopyBias({{1, 2, 5, 6, 7}, {3, 5, 9, 5}}, prompt_length, 2.0f, min_match);
}

TEST(SourceCopyBias, NothingIsFavouredBeforeTheFirstGeneratedToken) {
  const auto bias = two_sources(/*prompt_length=*/3);
  // The prompt ends with 5, but the prompt is not the model's output.
  EXPECT_TRUE(bias.continuations(Ids{1, 2, 5}).empty());
}

TEST(SourceCopyBias, FavoursWhatFollowsEveryOccurrenceOfTheLastToken) {
  const auto bias = two_sources(2);
  EXPECT_EQ(bias.continuations(Ids{0, 0, 5}), (Ids{6, 9}));
  EXPECT_EQ(bias.continuations(Ids{0, 0, 1}), (Ids{2}));
  // 7 ends the first source and 4 occurs nowhere: nothing follows them.
  EXPECT_TRUE(bias.continuations(Ids{0, 0, 7}).empty());
  EXPECT_TRUE(bias.continuations(Ids{0, 0, 4}).empty());
}

TEST(SourceCopyBias, MinMatchCountsOnlyGeneratedTokens) {
  const auto bias = two_sources(2, /*min_match=*/2);
  // "2 5" matches the first source over two tokens: only its continuation.
  EXPECT_EQ(bias.continuations(Ids{0, 0, 2, 5}), (Ids{6}));
  // "3 5" matches the second.
  EXPECT_EQ(bias.continuations(Ids{0, 0, 3, 5}), (Ids{9}));
  // One generated token is not a two-token match, even though the prompt's last token (2)
  // precedes it as in the first source.
  EXPECT_TRUE(bias.continuations(Ids{0, 2, 5}).empty());
  // A last token that matches with a different predecessor.
  EXPECT_TRUE(bias.continuations(Ids{0, 0, 8, 5}).empty());
}

TEST(SourceCopyBias, TokensThePredicateRejectsAreNeverFavoured) {
  // Odd ids stand for punctuation here.
  const SourceCopyBias bias({{1, 2, 5, 6, 7}, {3, 5, 9, 5}}, 0, 1.0f, 1, [](int32_t id) { return id % 2 == 0; });
  EXPECT_EQ(bias.continuations(Ids{5}), (Ids{6}));
  EXPECT_TRUE(bias.continuations(Ids{6}).empty());
  EXPECT_EQ(bias.continuations(Ids{1}), (Ids{2}));
}

TEST(SourceCopyBias, ApplyAddsTheBonusOncePerToken) {
  // Token 5 is followed by 9 twice in this source: 9 still gets the bonus once.
  const SourceCopyBias bias({{5, 9, 5, 9}}, 0, 1.5f);
  std::vector<float> logits(12, 0.0f);
  bias.apply(logits, Ids{5});
  for (size_t id = 0; id < logits.size(); ++id) EXPECT_FLOAT_EQ(logits[id], id == 9 ? 1.5f : 0.0f) << id;
}

TEST(SourceCopyBias, ContinuationsOutsideTheVocabularyAreIgnored) {
  const SourceCopyBias bias({{1, 100}}, 0, 1.0f);
  std::vector<float> logits(4, 0.0f);
  bias.apply(logits, Ids{1});
  for (float l : logits) EXPECT_EQ(l, 0.0f);
}

TEST(SourceCopyBias, RefusesBadSettings) {
  EXPECT_THROW(SourceCopyBias({{1, 2}}, 0, 0.0f), Error);
  EXPECT_THROW(SourceCopyBias({{1, 2}}, 0, -1.0f), Error);
  EXPECT_THROW(SourceCopyBias({{1, 2}}, 0, 25.0f), Error);
  EXPECT_THROW(SourceCopyBias({{1, 2}}, 0, 1.0f, 0), Error);
  EXPECT_THROW(SourceCopyBias({{1, 2}}, 0, 1.0f, SourceCopyBias::kMaxMatch + 1), Error);
}

TEST(SourceCopyBias, GreedySamplerFollowsTheSourceOnlyWhenTheBonusCoversTheGap) {
  // After generated token 1, the source continues with 2; the model prefers 3 by 1.0.
  const std::vector<float> row = {0.0f, 0.0f, 2.0f, 3.0f};
  const Ids history = {0, 1};  // prompt {0}, generated {1}
  auto greedy_with = [&](float b) {
    SamplingParams params;
    params.temperature = 0.0f;
    params.copy_bias = std::make_shared<const SourceCopyBias>(std::vector<Ids>{{1, 2}}, 1, b);
    Sampler sampler(params);
    std::vector<float> logits = row;
    return sampler.sample(logits, history);
  };
  EXPECT_EQ(greedy_with(0.5f), 3);
  EXPECT_EQ(greedy_with(1.5f), 2);
  SamplingParams plain;
  plain.temperature = 0.0f;
  Sampler sampler(plain);
  std::vector<float> logits = row;
  EXPECT_EQ(sampler.sample(logits, history), 3);
}

}  // namespace
}  // namespace ragd::engine
