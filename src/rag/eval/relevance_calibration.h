// Calibrating the answer service's relevance threshold (AnswerOptions::min_relevance) on
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
};

// Questions skip .. skip+n-1 of `data` (n = 0: to the end). `request` is the retrieval
// template (collection, mode); its query and top_k are replaced.
RelevanceCalibration calibrate_relevance(const QaData& data, size_t skip, size_t n, const RetrievalService& service,
                                         RetrievalRequest request, double max_false_reject = 0.02);

// The article part of a SQuAD-style document id ("12_3" → "12").
std::string article_of(const std::string& document_id);

}  // namespace ragd::rag
