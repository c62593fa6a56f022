#include "rag/search/fusion.h"

#include <gtest/gtest.h>

#include <array>

namespace ragd::rag {
namespace {

TEST(Fusion, MinMaxNormalisation) {
  std::vector<ScoredId> v = {{1, 10}, {2, 5}, {3, 0}};
  min_max_normalize(v);
  EXPECT_DOUBLE_EQ(v[0].score, 1.0);
  EXPECT_DOUBLE_EQ(v[1].score, 0.5);
  EXPECT_DOUBLE_EQ(v[2].score, 0.0);
  std::vector<ScoredId> flat = {{1, 3}, {2, 3}};
  min_max_normalize(flat);
  EXPECT_DOUBLE_EQ(flat[0].score, 1.0);
  EXPECT_DOUBLE_EQ(flat[1].score, 1.0);
}

TEST(Fusion, WeightedFusionOfNormalisedScores) {
  // BM25 scores: 1 → 12, 2 → 8, 3 → 4  ⇒ normalised 1, 0.5, 0
  // dense scores: 3 → 0.9, 4 → 0.5, 1 → 0.1 ⇒ normalised 1, 0.5, 0
  RankedList bm25{{{1, 12}, {2, 8}, {3, 4}}, 0.3};
  RankedList dense{{{3, 0.9}, {4, 0.5}, {1, 0.1}}, 0.7};
  RankedList lists[] = {bm25, dense};
  auto fused = weighted_fusion(lists);
  ASSERT_EQ(fused.size(), 4u);
  // 3: 0.3·0 + 0.7·1 = 0.7; 4: 0.7·0.5 = 0.35; 1: 0.3·1 + 0 = 0.3; 2: 0.3·0.5 = 0.15
  EXPECT_EQ(fused[0].id, 3);
  EXPECT_NEAR(fused[0].score, 0.7, 1e-12);
  EXPECT_EQ(fused[1].id, 4);
  EXPECT_NEAR(fused[1].score, 0.35, 1e-12);
  EXPECT_EQ(fused[2].id, 1);
  EXPECT_NEAR(fused[2].score, 0.3, 1e-12);
  EXPECT_EQ(fused[3].id, 2);
  EXPECT_NEAR(fused[3].score, 0.15, 1e-12);
}

TEST(Fusion, ReciprocalRankFusion) {
  RankedList a{{{1, 9}, {2, 8}, {3, 7}}};
  RankedList b{{{3, 0.9}, {1, 0.8}}};
  RankedList lists[] = {a, b};
  auto fused = reciprocal_rank_fusion(lists, 60);
  ASSERT_EQ(fused.size(), 3u);
  // 1: 1/61 + 1/62; 3: 1/63 + 1/61; 2: 1/62
  EXPECT_EQ(fused[0].id, 1);
  EXPECT_NEAR(fused[0].score, 1.0 / 61 + 1.0 / 62, 1e-12);
  EXPECT_EQ(fused[1].id, 3);
  EXPECT_NEAR(fused[1].score, 1.0 / 63 + 1.0 / 61, 1e-12);
  EXPECT_EQ(fused[2].id, 2);
  EXPECT_NEAR(fused[2].score, 1.0 / 62, 1e-12);
}

TEST(Fusion, EmptyListsAndTies) {
  // Built in place, not copied from a default-constructed list: GCC 12 under
  // -fsanitize=thread reports a false -Wmaybe-uninitialized for the copy of an empty vector.
  std::array<RankedList, 2> lists{};  // an empty list, then one with a tie
  lists[1].items = {{5, 1.0}, {4, 1.0}};
  auto fused = weighted_fusion(lists);
  ASSERT_EQ(fused.size(), 2u);
  EXPECT_EQ(fused[0].id, 4);  // equal scores: lower id first
  EXPECT_TRUE(weighted_fusion(std::span<const RankedList>{}).empty());
  EXPECT_TRUE(reciprocal_rank_fusion(std::span<const RankedList>(lists.data(), 1)).empty());
}

}  // namespace
}  // namespace ragd::rag
