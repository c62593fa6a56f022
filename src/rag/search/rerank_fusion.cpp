#include "rag/search/rerank_fusion.h"

#include <algorithm>

#include "util/error.h"

namespace ragd::rag {
namespace {

std::vector<double> min_max(std::vector<double> v) {
  if (v.empty()) return v;
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  const double min = *lo, range = *hi - *lo;
  for (double& x : v) x = range > 0 ? (x - min) / range : 1.0;
  return v;
}

}  // namespace

void fuse_rerank_scores(std::vector<RerankCandidate>& candidates, std::span<const double> rerank_scores,
                        double first_stage_weight) {
  if (rerank_scores.size() != candidates.size()) {
    fail("internal: {} rerank scores for {} candidates", rerank_scores.size(), candidates.size());
  }
  std::vector<double> first;
  for (const auto& c : candidates) first.push_back(c.score);
  first = min_max(std::move(first));
  auto second = min_max(std::vector<double>(rerank_scores.begin(), rerank_scores.end()));
  const double w = std::clamp(first_stage_weight, 0.0, 1.0);
  for (size_t i = 0; i < candidates.size(); ++i) candidates[i].score = w * first[i] + (1 - w) * second[i];
}

}  // namespace ragd::rag
