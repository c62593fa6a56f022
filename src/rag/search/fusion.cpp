#include "rag/search/fusion.h"

#include <algorithm>
#include <unordered_map>

namespace ragd::rag {
namespace {

std::vector<ScoredId> collect(const std::unordered_map<int64_t, double>& scores) {
  std::vector<ScoredId> out;
  out.reserve(scores.size());
  for (const auto& [id, s] : scores) out.push_back(ScoredId{id, s});
  sort_by_score(out);
  return out;
}

}  // namespace

void sort_by_score(std::vector<ScoredId>& items) {
  std::sort(items.begin(), items.end(), [](const ScoredId& a, const ScoredId& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
}

void min_max_normalize(std::vector<ScoredId>& items) {
  if (items.empty()) return;
  auto [lo, hi] = std::minmax_element(items.begin(), items.end(),
                                      [](const ScoredId& a, const ScoredId& b) {
                                        return a.score < b.score;
                                      });
  double min = lo->score, range = hi->score - lo->score;
  for (auto& it : items) it.score = range > 0 ? (it.score - min) / range : 1.0;
}

std::vector<ScoredId> weighted_fusion(std::span<const RankedList> lists) {
  std::unordered_map<int64_t, double> fused;
  for (const auto& list : lists) {
    std::vector<ScoredId> norm = list.items;
    min_max_normalize(norm);
    for (const auto& it : norm) fused[it.id] += list.weight * it.score;
  }
  return collect(fused);
}

std::vector<ScoredId> reciprocal_rank_fusion(std::span<const RankedList> lists, double k) {
  std::unordered_map<int64_t, double> fused;
  for (const auto& list : lists) {
    for (size_t rank = 0; rank < list.items.size(); ++rank) {
      fused[list.items[rank].id] += 1.0 / (k + static_cast<double>(rank + 1));
    }
  }
  return collect(fused);
}

}  // namespace ragd::rag
