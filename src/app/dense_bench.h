// Model-free timing of dense retrieval for `ragd bench rag`: synthetic unit vectors of the
// embedder's dimension in an exact and an HNSW index, queried for the retriever's default
// candidate count. Speed does not depend on what the vectors mean, only on their number,
// dimension and (for HNSW) how clustered they are, so the vectors are drawn around a few
// hundred random centroids, as real embeddings of a corpus cluster by topic.
#pragma once

#include <cstddef>
#include <string>

namespace ragd::app {

struct DenseBenchResult {
  double build_seconds = 0;
  double p50 = 0, p99 = 0, mean = 0;  // milliseconds per query
};

// kind: "exact" or "hnsw" (default HNSW parameters).
DenseBenchResult bench_dense_index(const std::string& kind, size_t vectors, size_t dim,
                                   size_t queries, size_t k);

}  // namespace ragd::app
