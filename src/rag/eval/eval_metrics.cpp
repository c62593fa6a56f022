#include "rag/eval/eval_metrics.h"

#include <algorithm>
#include <cmath>

namespace ragd::rag {
namespace {

int grade(const Judgments& j, const std::string& doc) {
  auto it = j.find(doc);
  return it == j.end() ? 0 : it->second;
}

}  // namespace

void rank_run(RetrievalRun& run) {
  std::sort(run.begin(), run.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first > b.first;
  });
}

double ndcg_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k) {
  double dcg = 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    int g = grade(judgments, ranked[i].first);
    if (g > 0) dcg += g / std::log2(static_cast<double>(i) + 2);
  }
  std::vector<int> ideal;
  for (const auto& [doc, g] : judgments) {
    if (g > 0) ideal.push_back(g);
  }
  std::sort(ideal.rbegin(), ideal.rend());
  double idcg = 0;
  for (size_t i = 0; i < std::min(k, ideal.size()); ++i) {
    idcg += ideal[i] / std::log2(static_cast<double>(i) + 2);
  }
  return idcg > 0 ? dcg / idcg : 0;
}

double recall_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k) {
  size_t relevant = 0, found = 0;
  for (const auto& [doc, g] : judgments) relevant += g >= 1;
  if (relevant == 0) return 0;
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) found += grade(judgments, ranked[i].first) >= 1;
  return static_cast<double>(found) / static_cast<double>(relevant);
}

double mrr_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k) {
  for (size_t i = 0; i < std::min(k, ranked.size()); ++i) {
    if (grade(judgments, ranked[i].first) > 0) return 1.0 / static_cast<double>(i + 1);
  }
  return 0;
}

double hit_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k) {
  return mrr_at_k(ranked, judgments, k) > 0 ? 1.0 : 0.0;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double pos = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  auto lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace ragd::rag
