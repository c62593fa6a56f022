// Exact (brute-force) nearest-neighbour search: every query is scored against every
// stored vector. Contiguous row-major storage keeps the scan streaming through memory;
// O(n·dim) per query, which beats graph indexes below a few tens of thousands of vectors.
#pragma once

#include <unordered_map>

#include "rag/search/vector_index.h"

namespace ragd::rag {

class ExactIndex : public VectorIndex {
 public:
  ExactIndex(size_t dim, Metric metric);
  const char* kind() const override { return "exact"; }
  size_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  size_t size() const override { return ids_.size(); }
  void add(int64_t id, std::span<const float> vector) override;
  bool remove(int64_t id) override;
  std::vector<VectorHit> search(std::span<const float> query, size_t k,
                                const IdFilter& filter = nullptr) const override;

 private:
  size_t dim_;
  Metric metric_;
  std::vector<float> data_;  // size() rows of dim_ floats; row i belongs to ids_[i]
  std::vector<int64_t> ids_;
  std::unordered_map<int64_t, size_t> row_of_;
};

}  // namespace ragd::rag
