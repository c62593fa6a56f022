#include "rag/eval/relevance_calibration.h"

#include <algorithm>

#include "rag/eval/eval_metrics.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

constexpr size_t kCalibrationDepth = 50;  // chunks looked at per question
const double kQuantiles[] = {1, 5, 25, 50, 75, 95, 99};

double share_below(const std::vector<double>& values, double threshold) {
  if (values.empty()) return 0;
  const auto below = std::count_if(values.begin(), values.end(), [&](double v) { return v < threshold; });
  return static_cast<double>(below) / static_cast<double>(values.size());
}

}  // namespace

std::string article_of(const std::string& id) {
  const size_t cut = id.rfind('_');
  return cut == std::string::npos ? id : id.substr(0, cut);
}

RelevanceCalibration calibrate_relevance(const QaData& data, size_t skip, size_t n, const RetrievalService& service,
                                         RetrievalRequest request, double max_false_reject) {
  if (skip >= data.examples.size()) fail("--skip {} leaves none of the {} questions", skip, data.examples.size());
  const size_t end = n ? std::min(data.examples.size(), skip + n) : data.examples.size();
  RelevanceCalibration out;
  std::vector<double> positives, negatives;
  request.top_k = kCalibrationDepth;
  request.use_cache = false;
  for (size_t i = skip; i < end; ++i) {
    const QaExample& e = data.examples[i];
    if (e.gold_documents.empty()) continue;
    ++out.questions;
    request.query = e.question;
    const auto hits = service.retrieve(request).hits;
    std::optional<double> best, best_other;
    bool gold_found = false;
    const std::string article = article_of(e.gold_documents.front());
    for (const auto& h : hits) {
      if (!h.dense_score) continue;
      const double s = *h.dense_score;
      best = std::max(best.value_or(s), s);
      if (std::find(e.gold_documents.begin(), e.gold_documents.end(), h.external_id) != e.gold_documents.end()) {
        gold_found = true;
      }
      if (article_of(h.external_id) != article) best_other = std::max(best_other.value_or(s), s);
    }
    if (best && gold_found) positives.push_back(*best);
    if (best_other) negatives.push_back(*best_other);
  }
  if (positives.empty()) fail("no question found its gold paragraph with a dense score: is the collection embedded?");
  out.positives = positives.size();
  out.negatives = negatives.size();
  out.threshold = percentile(positives, 100 * max_false_reject);
  out.positives_rejected = share_below(positives, out.threshold);
  out.negatives_rejected = share_below(negatives, out.threshold);
  for (double q : kQuantiles) {
    out.positive_quantiles.push_back(percentile(positives, q));
    out.negative_quantiles.push_back(percentile(negatives, q));
  }
  return out;
}

}  // namespace ragd::rag
