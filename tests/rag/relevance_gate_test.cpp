// The relevance gate (dense score or question coverage) and its calibration.
#include "rag/answer/relevance_gate.h"

#include <gtest/gtest.h>

#include "rag/eval/relevance_calibration.h"

namespace ragd::rag {
namespace {

SearchHit hit(std::string text, std::optional<double> dense) {
  SearchHit h;
  h.text = std::move(text);
  h.dense_score = dense;
  return h;
}

TEST(RelevanceGate, CoverageCountsContentWordsOnly) {
  // "What", "is", "the", "of" are not content; "capital" and "mongolia" are.
  EXPECT_DOUBLE_EQ(question_coverage("What is the capital of Mongolia?", "Ulaanbaatar is in Mongolia."), 0.5);
  EXPECT_DOUBLE_EQ(question_coverage("What is the capital of Mongolia?", "Ulaanbaatar is Mongolia's capital."), 1.0);
  EXPECT_DOUBLE_EQ(question_coverage("What is the capital of Mongolia?", "The capital of Mongolia is Ulaanbaatar."), 1.0);
  EXPECT_DOUBLE_EQ(question_coverage("What is the capital of Mongolia?", "Green tea is brewed."), 0.0);
  // Auxiliaries and "many"/"much" are question words; case and a plural "s" do not matter.
  EXPECT_DOUBLE_EQ(question_coverage("How many lakes did Warsaw have?", "WARSAW has one lake."), 1.0);
  // "[n]" markers are not words; a question with no content word is covered by anything.
  EXPECT_DOUBLE_EQ(question_coverage("What is it?", "Anything at all."), 1.0);
  EXPECT_DOUBLE_EQ(question_coverage("Where is [2]?", ""), 1.0);
}

TEST(RelevanceGate, BestOfTheHits) {
  std::vector<SearchHit> hits{hit("Tea is green.", 0.2), hit("The Eiffel Tower is in Paris.", 0.1)};
  EXPECT_DOUBLE_EQ(best_question_coverage("Where is the Eiffel Tower?", hits), 1.0);
  EXPECT_DOUBLE_EQ(best_question_coverage("Where is the Eiffel Tower?", {}), 0.0);
  EXPECT_EQ(best_dense_score(hits), 0.2);
  EXPECT_EQ(best_dense_score({hit("x", std::nullopt)}), std::nullopt);
}

TEST(RelevanceGate, PassesOnEitherSignal) {
  const RelevanceThresholds t{0.3, 0.5};
  const std::string q = "When was the Eiffel Tower finished?";
  // A high dense score passes whatever the words.
  EXPECT_TRUE(sources_relevant(q, {hit("Unrelated words only.", 0.8)}, t));
  // A low dense score passes only when a source covers half the question's content words.
  EXPECT_TRUE(sources_relevant(q, {hit("The Eiffel Tower opened in 1889.", 0.1)}, t));
  EXPECT_FALSE(sources_relevant(q, {hit("Towers of Hanoi are a puzzle.", 0.1)}, t));
  EXPECT_FALSE(sources_relevant(q, {}, t));
  // Without dense scores (BM25 alone) nothing is calibrated: the sources pass.
  EXPECT_TRUE(sources_relevant(q, {hit("Towers of Hanoi.", std::nullopt)}, t));
  // min_dense -1 turns the gate off; min_coverage > 1 leaves the dense threshold alone.
  EXPECT_TRUE(sources_relevant(q, {hit("Green tea.", -0.5)}, {-1, 2}));
  EXPECT_FALSE(sources_relevant(q, {hit("The Eiffel Tower opened in 1889.", 0.1)}, {0.3, 2}));
}

TEST(RelevanceCalibration, GateRefusesAsManyNegativesWithFewerPositives) {
  // Negatives: low dense, low coverage, except one with a high coverage.
  const std::vector<RelevancePoint> negatives{{0.10, 0.0}, {0.20, 0.2}, {0.25, 0.9}, {0.30, 0.1}, {0.50, 0.0}};
  // Positives: one low dense score with a high coverage (the threshold alone refuses it).
  const std::vector<RelevancePoint> positives{{0.22, 1.0}, {0.60, 0.5}, {0.70, 1.0}};
  // The threshold alone at 0.27 refuses 3 of 5 negatives and 1 of 3 positives.
  const auto g = calibrate_gate(positives, negatives, 0.27, 0.6, 0.5);
  EXPECT_DOUBLE_EQ(g.min_coverage, 0.5);
  // Coverage lets the 0.25 negative through, so the threshold rises just past 0.30.
  EXPECT_GT(g.min_dense, 0.30);
  EXPECT_LT(g.min_dense, 0.31);
  EXPECT_DOUBLE_EQ(g.negatives_rejected, 0.6);
  EXPECT_DOUBLE_EQ(g.positives_rejected, 0.0);
}

TEST(RelevanceCalibration, GateKeepsTheThresholdWhenCoverageChangesNothing) {
  const std::vector<RelevancePoint> negatives{{0.10, 0.0}, {0.40, 0.0}};
  const std::vector<RelevancePoint> positives{{0.20, 0.0}, {0.60, 1.0}};
  const auto g = calibrate_gate(positives, negatives, 0.3, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(g.min_dense, 0.3);
  EXPECT_DOUBLE_EQ(g.positives_rejected, 0.5);
}

}  // namespace
}  // namespace ragd::rag
