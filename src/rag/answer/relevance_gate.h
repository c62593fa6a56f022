// The relevance gate: whether the retrieved sources are relevant enough to answer from, or
// the answer should say that the documents do not contain it.
//
// Two signals, each calibrated on data (`ragd eval qa --calibrate`, rag/eval/
// relevance_calibration.h): the best dense (cosine) score of the sources, and how much of
// the question the best source covers — the share of the question's content words it
// contains. A source that holds nearly every content word of a question is relevant even
// when its embedding is far from the question's (a rare name, a misspelling, a question
// phrased unlike the text); one that holds few of them and scores low on both is what
// retrieval returns when the documents are about something else.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "rag/search/retriever.h"

namespace ragd::rag {

// The share of a question's content words that a text contains, in [0, 1] (words compared
// lower-cased, a plural "s" ignored; question words such as "did" or "many" are not content).
// A question without content words is covered by any text (1). The question's words are
// found once, for every text it is compared with.
class QuestionCoverage {
 public:
  explicit QuestionCoverage(std::string_view question);
  double of(std::string_view text) const;

 private:
  std::set<std::string> asked_;
};

// QuestionCoverage(question).of(text).
double question_coverage(std::string_view question, std::string_view text);

// The largest question_coverage among the hits' texts; 0 without hits.
double best_question_coverage(std::string_view question, const std::vector<SearchHit>& hits);

// The best dense (cosine) score among the hits, if any hit has one.
std::optional<double> best_dense_score(const std::vector<SearchHit>& hits);

struct RelevanceThresholds {
  double min_dense = -1;     // <= -1: the gate is off
  double min_coverage = 2;   // > 1: coverage never passes a source by itself
};

// Relevant unless retrieval found nothing, or the sources have dense scores and both the
// best of them is below min_dense and the best coverage is below min_coverage. Sources
// without dense scores (BM25 alone) pass: there is nothing calibrated to compare.
bool sources_relevant(std::string_view question, const std::vector<SearchHit>& hits, const RelevanceThresholds& t);

}  // namespace ragd::rag
