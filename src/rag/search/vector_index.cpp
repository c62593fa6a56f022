#include "rag/search/vector_index.h"

#include <algorithm>
#include <cmath>

#include "kernels/vector_ops.h"
#include "rag/search/exact_index.h"
#include "rag/search/hnsw_index.h"
#include "util/error.h"

namespace ragd::rag {

float dot(std::span<const float> a, std::span<const float> b) {
  return kernels::dot_f32(a.data(), b.data(), std::min(a.size(), b.size()));
}

void normalize(std::span<float> v) {
  float norm = std::sqrt(dot(v, v));
  if (norm > 0) {
    for (float& x : v) x /= norm;
  }
}

void VectorIndex::add_batch(std::span<const int64_t> ids, std::span<const float> rows) {
  if (rows.size() != ids.size() * dim()) fail("add_batch: {} ids but {} floats", ids.size(), rows.size());
  for (size_t i = 0; i < ids.size(); ++i) add(ids[i], rows.subspan(i * dim(), dim()));
}

std::unique_ptr<VectorIndex> make_vector_index(const std::string& kind, size_t dim, Metric metric,
                                               const HnswOptions& hnsw) {
  if (kind == "exact") return std::make_unique<ExactIndex>(dim, metric);
  if (kind == "hnsw") return std::make_unique<HnswIndex>(dim, metric, hnsw);
  fail("unknown vector index '{}' (use exact or hnsw)", kind);
}

}  // namespace ragd::rag
