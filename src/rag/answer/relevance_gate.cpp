#include "rag/answer/relevance_gate.h"

#include <algorithm>
#include <set>
#include <string>

#include "rag/answer/content_words.h"

namespace ragd::rag {
namespace {

// Auxiliaries and interrogatives beyond content_words' function words: a question has them
// because it is a question, not because of what it asks about.
bool question_word(const std::string& w) {
  static const std::set<std::string> words = {"did", "does", "do", "why", "whose", "whom", "has", "have", "had",
                                              "can", "could", "would", "should", "will", "may", "might", "many",
                                              "much"};
  return words.count(w) > 0;
}

// "terraces" and "terrace" are one word here; short words ("is", "gas") keep their "s".
std::string singular(std::string w) {
  if (w.size() > 3 && w.back() == 's' && w[w.size() - 2] != 's') w.pop_back();
  return w;
}

std::set<std::string> normalized_words(std::string_view text, bool drop_question_words) {
  std::set<std::string> out;
  for (const auto& w : content_words(text)) {
    if (drop_question_words && question_word(w)) continue;
    out.insert(singular(w));
  }
  return out;
}

}  // namespace

QuestionCoverage::QuestionCoverage(std::string_view question) : asked_(normalized_words(question, true)) {}

double QuestionCoverage::of(std::string_view text) const {
  if (asked_.empty()) return 1.0;
  return static_cast<double>(shared_words(asked_, normalized_words(text, false))) / static_cast<double>(asked_.size());
}

double question_coverage(std::string_view question, std::string_view text) {
  return QuestionCoverage(question).of(text);
}

double best_question_coverage(std::string_view question, const std::vector<SearchHit>& hits) {
  const QuestionCoverage coverage(question);
  double best = 0;
  for (const auto& h : hits) best = std::max(best, coverage.of(h.text));
  return best;
}

std::optional<double> best_dense_score(const std::vector<SearchHit>& hits) {
  std::optional<double> best;
  for (const auto& h : hits) {
    if (h.dense_score && (!best || *h.dense_score > *best)) best = h.dense_score;
  }
  return best;
}

bool sources_relevant(std::string_view question, const std::vector<SearchHit>& hits, const RelevanceThresholds& t) {
  if (hits.empty()) return false;
  const auto dense = best_dense_score(hits);
  if (!dense || *dense >= t.min_dense) return true;
  return best_question_coverage(question, hits) >= t.min_coverage;
}

}  // namespace ragd::rag
