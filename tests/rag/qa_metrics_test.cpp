// SQuAD scoring and the QA summary, with expected values computed by hand.
#include "rag/eval/qa_metrics.h"

#include <gtest/gtest.h>

#include "rag/eval/qa_eval.h"
#include "rag/eval/eval_metrics.h"

namespace ragd::rag {
namespace {

TEST(QaMetrics, NormalizeFollowsSquad) {
  // lower → drop punctuation (so "brown-fox" joins) → drop articles → collapse spaces
  EXPECT_EQ(normalize_answer("The  Quick, brown-fox!"), "quick brownfox");
  EXPECT_EQ(normalize_answer("  An apple a day  "), "apple day");
  EXPECT_EQ(normalize_answer("theatre Anthem"), "theatre anthem");  // articles only as words
  EXPECT_EQ(normalize_answer("Skłodowska-Curie"), "skłodowskacurie");  // non-ASCII kept
  EXPECT_EQ(normalize_answer("..."), "");
}

TEST(QaMetrics, ExactMatch) {
  EXPECT_EQ(exact_match("The Nobel Prize.", "nobel prize"), 1.0);
  EXPECT_EQ(exact_match("Nobel Prize in Physics", "Nobel Prize"), 0.0);
  EXPECT_EQ(best_exact_match("1745", {"in 1745", "1745"}), 1.0);
}

TEST(QaMetrics, TokenF1) {
  // pred "cat sat on mat" (4), gold "cat on mat" (3): 3 shared → P 3/4, R 1, F1 6/7
  EXPECT_NEAR(token_f1("The cat sat on the mat", "a cat on a mat"), 6.0 / 7.0, 1e-12);
  // multiset overlap: "a a b" vs "a b b" share {a, b}: P 2/3, R 2/3
  EXPECT_NEAR(token_f1("x x y", "x y y"), 2.0 / 3.0, 1e-12);
  EXPECT_EQ(token_f1("nothing shared", "else"), 0.0);
  EXPECT_EQ(token_f1("the", "a"), 0.0);  // both normalize to nothing
  // best over golds: "1745" exact (1.0) beats "born 1745" (P 1, R 1/2 → 2/3)
  EXPECT_NEAR(best_token_f1("1745", {"born 1745", "1745"}), 1.0, 1e-12);
  EXPECT_NEAR(best_token_f1("1745", {"born 1745"}), 2.0 / 3.0, 1e-12);
}

TEST(QaMetrics, ContainsOnTokenBoundaries) {
  EXPECT_TRUE(contains_answer("Pulaski was born in 1745.", {"1745"}));
  EXPECT_TRUE(contains_answer("He won the Nobel Prize!", {"Turing Award", "the Nobel Prize"}));
  EXPECT_FALSE(contains_answer("The year 17450.", {"1745"}));
  EXPECT_FALSE(contains_answer("anything", {"..."}));  // an empty gold never matches
}

TEST(QaMetrics, StripCitations) {
  EXPECT_EQ(strip_citations("Born in 1745 [1]. Died in 1779 [2, 3]."), "Born in 1745 . Died in 1779 .");
  EXPECT_EQ(strip_citations("Keep [a] and [1.5] as text"), "Keep [a] and [1.5] as text");
  EXPECT_EQ(strip_citations("[1]"), "");
}

TEST(QaMetrics, PercentileInterpolates) {
  std::vector<double> v = {10, 1, 9, 2, 8, 3, 7, 4, 6, 5};
  EXPECT_NEAR(percentile(v, 50), 5.5, 1e-12);   // rank 4.5 between 5 and 6
  EXPECT_NEAR(percentile(v, 95), 9.55, 1e-12);  // rank 8.55 between 9 and 10
  EXPECT_EQ(percentile({}, 50), 0.0);
}

TEST(QaMetrics, SummaryAveragesAndMicroPrecision) {
  QaResult a, b;
  a.exact_match = 1, a.f1 = 1, a.contains = true, a.citations = 1, a.gold_citations = 1, a.hit_at_1 = true,
  a.hit_at_4 = true;
  a.timings.total = 100;
  b.f1 = 0.5, b.citations = 3, b.gold_citations = 1, b.hit_at_4 = true, b.finish = engine::FinishReason::Length;
  b.timings.total = 300;
  QaResult c;  // no citation, nothing found
  c.timings.total = 200;
  auto r = summarize_qa({a, b, c});
  EXPECT_EQ(r.questions, 3u);
  EXPECT_NEAR(r.exact_match, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.f1, 0.5, 1e-12);
  EXPECT_NEAR(r.contains, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.citation_rate, 2.0 / 3, 1e-12);
  EXPECT_NEAR(r.citation_precision, 2.0 / 4, 1e-12);  // 2 gold of 4 citations
  EXPECT_NEAR(r.hit_at_1, 1.0 / 3, 1e-12);
  EXPECT_NEAR(r.hit_at_4, 2.0 / 3, 1e-12);
  EXPECT_NEAR(r.length_stop_rate, 1.0 / 3, 1e-12);
  ASSERT_EQ(r.latency.back().stage, "total");
  EXPECT_NEAR(r.latency.back().p50, 200, 1e-12);
  EXPECT_NEAR(r.latency.back().p95, 290, 1e-12);  // rank 1.9 between 200 and 300
}

}  // namespace
}  // namespace ragd::rag
