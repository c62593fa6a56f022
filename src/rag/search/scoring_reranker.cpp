#include "rag/search/scoring_reranker.h"

#include "rag/search/rerank_fusion.h"

namespace ragd::rag {

void ScoringReranker::rerank(std::string_view query, std::vector<RerankCandidate>& candidates) {
  if (candidates.empty()) return;
  std::vector<std::string_view> texts;
  texts.reserve(candidates.size());
  for (const auto& c : candidates) texts.push_back(c.text);
  std::vector<double> scores = score(query, texts);
  fuse_rerank_scores(candidates, scores, first_stage_weight_);
}

}  // namespace ragd::rag
