#include "rag/eval/eval_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ragd::rag {
namespace {

TEST(EvalMetrics, RankingFollowsTrecEval) {
  RetrievalRun run = {{"a", 1.0}, {"c", 2.0}, {"b", 2.0}};
  rank_run(run);
  // Score descending, ties by document id descending.
  EXPECT_EQ(run[0].first, "c");
  EXPECT_EQ(run[1].first, "b");
  EXPECT_EQ(run[2].first, "a");
}

TEST(EvalMetrics, NdcgWithGradedRelevance) {
  // Ranked: d1 (grade 0), d2 (grade 2), d3 (grade 1). Qrels also hold d4 (grade 2), unretrieved.
  RetrievalRun run = {{"d1", 3}, {"d2", 2}, {"d3", 1}};
  Judgments j = {{"d2", 2}, {"d3", 1}, {"d4", 2}, {"d5", 0}};
  double dcg = 2 / std::log2(3.0) + 1 / std::log2(4.0);
  double idcg = 2 / std::log2(2.0) + 2 / std::log2(3.0) + 1 / std::log2(4.0);
  EXPECT_NEAR(ndcg_at_k(run, j, 10), dcg / idcg, 1e-12);
  // @2: only d2 counts; ideal is the two grade-2 documents.
  EXPECT_NEAR(ndcg_at_k(run, j, 2), (2 / std::log2(3.0)) / (2 + 2 / std::log2(3.0)), 1e-12);
  EXPECT_DOUBLE_EQ(ndcg_at_k({{"d4", 1}, {"d2", 0.5}, {"d3", 0.1}}, j, 10), 1.0);
  EXPECT_DOUBLE_EQ(ndcg_at_k({}, j, 10), 0.0);
  EXPECT_DOUBLE_EQ(ndcg_at_k(run, {}, 10), 0.0);
}

TEST(EvalMetrics, RecallAndMrr) {
  RetrievalRun run = {{"x", 5}, {"y", 4}, {"r1", 3}, {"z", 2}, {"r2", 1}};
  Judgments j = {{"r1", 1}, {"r2", 1}, {"r3", 1}, {"x", 0}};
  EXPECT_NEAR(recall_at_k(run, j, 100), 2.0 / 3, 1e-12);
  EXPECT_NEAR(recall_at_k(run, j, 3), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(mrr_at_k(run, j, 10), 1.0 / 3);
  EXPECT_DOUBLE_EQ(mrr_at_k(run, j, 2), 0.0);
}

TEST(EvalMetrics, PercentileInterpolatesLikeNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
  EXPECT_NEAR(percentile(v, 99), 3.97, 1e-12);
  EXPECT_DOUBLE_EQ(percentile({}, 50), 0);
}

}  // namespace
}  // namespace ragd::rag
