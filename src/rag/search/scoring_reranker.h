// ScoringReranker: a Reranker built from a relevance function score(query, texts), fused
// with the first-stage scores (rag/search/rerank_fusion.h) when used inside retrieval.
// POST /v1/rerank calls score() directly: there is no first stage there, so the raw
// relevance is what a client gets.
//
// Implementations must be safe to call from several threads at once (the server shares
// one instance across requests).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rag/search/reranker.h"

namespace ragd::rag {

class ScoringReranker : public Reranker {
 public:
  // first_stage_weight in [0, 1]: the first stage's share of the fused score.
  explicit ScoringReranker(double first_stage_weight) : first_stage_weight_(first_stage_weight) {}

  // Relevance of each text to the query, higher is better, in the texts' order. Scores of
  // one reranker are comparable across calls; their scale is the implementation's.
  virtual std::vector<double> score(std::string_view query, std::span<const std::string_view> texts) = 0;

  void rerank(std::string_view query, std::vector<RerankCandidate>& candidates) final;

  double first_stage_weight() const { return first_stage_weight_; }

 private:
  double first_stage_weight_;
};

}  // namespace ragd::rag
