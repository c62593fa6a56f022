// Retrieval metrics computed as BEIR computes them (pytrec_eval for nDCG and recall, BEIR's
// own code for MRR), so that our figures compare with published ones:
//   * a run is ranked by score, highest first; equal scores by document id, descending
//     (trec_eval's order, which pytrec_eval inherits);
//   * nDCG@k: gain = the qrels relevance grade (linear, as trec_eval), discount log2(rank+1);
//     the ideal DCG comes from the qrels' grades sorted descending, cut at k;
//   * Recall@k: relevant documents (grade ≥ 1) in the top k / all relevant documents;
//   * MRR@k: 1 / rank of the first relevant document within the top k, else 0.
// Documents that are not in the qrels count as grade 0.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ragd::rag {

// document id → relevance grade, for one query
using Judgments = std::unordered_map<std::string, int>;
// query id → judgments
using Qrels = std::unordered_map<std::string, Judgments>;
// (document id, score) pairs in any order
using RetrievalRun = std::vector<std::pair<std::string, double>>;

// Sorts in trec_eval order (score descending, then document id descending).
void rank_run(RetrievalRun& run);

// All three take a run already in rank order (rank_run).
double ndcg_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k);
double recall_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k);
double mrr_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k);
// Hit@k (success@k): 1 if any relevant document (grade ≥ 1) is in the top k, else 0.
double hit_at_k(const RetrievalRun& ranked, const Judgments& judgments, size_t k);

// Percentile with linear interpolation between closest ranks (numpy's default);
// p in [0, 100]. Returns 0 for no values.
double percentile(std::vector<double> values, double p);

}  // namespace ragd::rag
