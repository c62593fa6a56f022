#include "rag/eval/relevance_calibration.h"

#include <algorithm>
#include <cmath>

#include "rag/answer/relevance_gate.h"
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

double share_refused(const std::vector<RelevancePoint>& points, double min_dense, double min_coverage) {
  if (points.empty()) return 0;
  const auto n = std::count_if(points.begin(), points.end(),
                               [&](const RelevancePoint& p) { return p.dense < min_dense && p.coverage < min_coverage; });
  return static_cast<double>(n) / static_cast<double>(points.size());
}

}  // namespace

RelevanceCalibration::Gate calibrate_gate(const std::vector<RelevancePoint>& positives, const std::vector<RelevancePoint>& negatives,
                                          double dense_alone, double negatives_to_refuse, double min_coverage) {
  std::vector<double> candidates{dense_alone};
  for (const auto& p : negatives) {
    // Just above a negative's score refuses that negative (the gate compares with <).
    if (p.dense >= dense_alone) candidates.push_back(std::nextafter(p.dense, 2.0));
  }
  std::sort(candidates.begin(), candidates.end());
  RelevanceCalibration::Gate g;
  g.min_coverage = min_coverage;
  g.min_dense = candidates.back();
  for (double t : candidates) {
    if (share_refused(negatives, t, min_coverage) >= negatives_to_refuse) {
      g.min_dense = t;
      break;
    }
  }
  g.positives_rejected = share_refused(positives, g.min_dense, min_coverage);
  g.negatives_rejected = share_refused(negatives, g.min_dense, min_coverage);
  return g;
}

std::string article_of(const std::string& id) {
  const size_t cut = id.rfind('_');
  return cut == std::string::npos ? id : id.substr(0, cut);
}

RelevanceCalibration calibrate_relevance(const QaData& data, size_t skip, size_t n, const RetrievalService& service,
                                         RetrievalRequest request, double max_false_reject, double min_coverage) {
  if (skip >= data.examples.size()) fail("--skip {} leaves none of the {} questions", skip, data.examples.size());
  const size_t end = n ? std::min(data.examples.size(), skip + n) : data.examples.size();
  RelevanceCalibration out;
  std::vector<RelevancePoint> positive_points, negative_points;
  const size_t sources = request.top_k;
  request.top_k = kCalibrationDepth;
  request.use_cache = false;
  for (size_t i = skip; i < end; ++i) {
    const QaExample& e = data.examples[i];
    if (e.gold_documents.empty()) continue;
    ++out.questions;
    request.query = e.question;
    const auto hits = service.retrieve(request).hits;
    const QuestionCoverage question_coverage(e.question);
    std::optional<double> best, best_other;
    double coverage = 0, coverage_other = 0;
    size_t seen = 0, seen_other = 0;
    bool gold_found = false;
    const std::string article = article_of(e.gold_documents.front());
    for (const auto& h : hits) {
      if (!h.dense_score) continue;
      const double s = *h.dense_score;
      best = std::max(best.value_or(s), s);
      if (std::find(e.gold_documents.begin(), e.gold_documents.end(), h.external_id) != e.gold_documents.end()) {
        gold_found = true;
      }
      const bool other = article_of(h.external_id) != article;
      const bool first = seen++ < sources;
      const bool first_other = other && seen_other++ < sources;
      const double c = first || first_other ? question_coverage.of(h.text) : 0;
      if (first) coverage = std::max(coverage, c);
      if (other) best_other = std::max(best_other.value_or(s), s);
      if (first_other) coverage_other = std::max(coverage_other, c);
    }
    if (best && gold_found) positive_points.push_back({*best, coverage});
    if (best_other) negative_points.push_back({*best_other, coverage_other});
  }
  auto dense_of = [](const std::vector<RelevancePoint>& points) {
    std::vector<double> out;
    for (const auto& p : points) out.push_back(p.dense);
    return out;
  };
  const std::vector<double> positives = dense_of(positive_points), negatives = dense_of(negative_points);
  if (positives.empty()) fail("no question found its gold paragraph with a dense score: is the collection embedded?");
  out.positives = positives.size();
  out.negatives = negatives.size();
  out.threshold = percentile(positives, 100 * max_false_reject);
  out.positives_rejected = share_below(positives, out.threshold);
  out.negatives_rejected = share_below(negatives, out.threshold);
  out.gate = calibrate_gate(positive_points, negative_points, out.threshold, out.negatives_rejected, min_coverage);
  for (double q : kQuantiles) {
    out.positive_quantiles.push_back(percentile(positives, q));
    out.negative_quantiles.push_back(percentile(negatives, q));
  }
  return out;
}

}  // namespace ragd::rag
