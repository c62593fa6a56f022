// Combining ranked lists from different retrievers (BM25, dense) into one ranking.
//
//  * weighted: each list's scores are min-max normalised to [0, 1], then summed with
//    weights (default 0.3 BM25 + 0.7 dense); an item missing from a list gets 0 there.
//  * rrf: reciprocal-rank fusion, score = Σ 1 / (k + rank), rank 1-based, k = 60; uses
//    only ranks, so it needs no score calibration at all.
//
// Output is best first; ties go to the lower id, so results are deterministic.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ragd::rag {

struct ScoredId {
  int64_t id = 0;
  double score = 0;
};

// One retriever's output: items best first (the order defines ranks for RRF).
struct RankedList {
  std::vector<ScoredId> items;
  double weight = 1.0;  // used by weighted fusion only
};

// Min-max normalisation in place; a list whose scores are all equal maps to 1.
void min_max_normalize(std::vector<ScoredId>& items);

std::vector<ScoredId> weighted_fusion(std::span<const RankedList> lists);
std::vector<ScoredId> reciprocal_rank_fusion(std::span<const RankedList> lists, double k = 60);

// Sorts best first, ties by lower id.
void sort_by_score(std::vector<ScoredId>& items);

}  // namespace ragd::rag
