// Fusing a reranker's scores with the first-stage scores it was given.
//
// Both score lists are min-max normalised over the reranked candidates (a list whose
// scores are all equal maps to 1, as rag/fusion.h does), then mixed:
//   score = first_stage_weight × first' + (1 − first_stage_weight) × rerank'
// Normalising per query makes the mix independent of the first stage's scale (BM25,
// cosine, weighted or RRF fusion), at the price of scores that only order one query's
// candidates and are not comparable across queries.
#pragma once

#include <span>
#include <vector>

#include "rag/search/reranker.h"

namespace ragd::rag {

// rerank_scores[i] belongs to candidates[i]; first_stage_weight in [0, 1] (0: the
// reranker's order alone, still min-max normalised). Throws ragd::Error on a size mismatch.
void fuse_rerank_scores(std::vector<RerankCandidate>& candidates, std::span<const double> rerank_scores,
                        double first_stage_weight);

}  // namespace ragd::rag
