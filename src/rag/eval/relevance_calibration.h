// Calibrating the answer service's relevance gate (AnswerOptions::min_relevance and
// min_coverage, rag/answer/relevance_gate.h) on
// data rather than by hand.
//
// For each question the retrieval runs as answering runs it (deeper, to see more
// candidates), and two numbers are kept:
//   positive  the best dense score of the retrieved chunks, when the gold paragraph is
//             among them (the documents do contain the answer);
//   negative  the best dense score among chunks of *other* articles: what the best source
//             would score if the question's article were not in the corpus. The article of a
//             document is its id up to the last '_' (SQuAD-style ids "ARTICLE_PARAGRAPH").
// The threshold is the `max_false_reject` quantile of the positives: at most that share of
// answerable questions is refused; the report says which share of unanswerable ones is.
//
// The gate (relevance_gate.h) adds the question coverage of the best of the first sources
// (the request's top_k: what an answer sees; for a negative, the first sources of other
// articles): a source holding at least `min_coverage` of the question's content words passes
// whatever its dense score. Its dense threshold is the lowest that refuses at least as many
// unanswerable questions as the threshold alone does, so it refuses fewer answerable ones.
#pragma once

#include <cstddef>
#include <vector>

#include "rag/answer/retrieval_service.h"
#include "rag/eval/qa_eval.h"

namespace ragd::rag {

struct RelevanceCalibration {
  size_t questions = 0, positives = 0, negatives = 0;
  double threshold = 0;
  double positives_rejected = 0;  // share of positives below the threshold
  double negatives_rejected = 0;  // share of negatives below it
  std::vector<double> positive_quantiles, negative_quantiles;  // at 1, 5, 25, 50, 75, 95, 99 %
  struct Gate {
    double min_dense = 0, min_coverage = 0;
    double positives_rejected = 0, negatives_rejected = 0;
  } gate;
};

// One question's best dense score and best question coverage (relevance_gate.h).
struct RelevancePoint {
  double dense = 0, coverage = 0;
};

// The gate's dense threshold for `min_coverage`: the lowest from `dense_alone` up at which
// the gate refuses at least `negatives_to_refuse` (a share) of `negatives`. Refusals of
// positives only grow with the threshold, so this is the gate that refuses the fewest
// answerable questions while refusing as many unanswerable ones as the threshold alone.
RelevanceCalibration::Gate calibrate_gate(const std::vector<RelevancePoint>& positives,
                                          const std::vector<RelevancePoint>& negatives, double dense_alone,
                                          double negatives_to_refuse, double min_coverage);

// Questions skip .. skip+n-1 of `data` (n = 0: to the end). `request` is the retrieval
// template (collection, mode); its query and top_k are replaced.
RelevanceCalibration calibrate_relevance(const QaData& data, size_t skip, size_t n, const RetrievalService& service,
                                         RetrievalRequest request, double max_false_reject = 0.02,
                                         double min_coverage = 0.5);

// The article part of a SQuAD-style document id ("12_3" → "12").
std::string article_of(const std::string& document_id);

}  // namespace ragd::rag
