#include "rag/search/exact_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/vector_ops.h"
#include "util/error.h"

namespace ragd::rag {

ExactIndex::ExactIndex(size_t dim, Metric metric) : dim_(dim), metric_(metric) {
  if (dim == 0) fail("vector index dimension must be positive");
}

void ExactIndex::add(int64_t id, std::span<const float> vector) {
  if (vector.size() != dim_) fail("vector has dimension {}, index expects {}", vector.size(), dim_);
  size_t row;
  if (auto it = row_of_.find(id); it != row_of_.end()) {
    row = it->second;
  } else {
    row = ids_.size();
    ids_.push_back(id);
    data_.resize(data_.size() + dim_);
    row_of_[id] = row;
  }
  std::span<float> dst(data_.data() + row * dim_, dim_);
  std::copy(vector.begin(), vector.end(), dst.begin());
  if (metric_ == Metric::Cosine) normalize(dst);
}

bool ExactIndex::remove(int64_t id) {
  auto it = row_of_.find(id);
  if (it == row_of_.end()) return false;
  // Swap the last row into the hole so that storage stays dense.
  size_t row = it->second, last = ids_.size() - 1;
  if (row != last) {
    std::memcpy(data_.data() + row * dim_, data_.data() + last * dim_, dim_ * sizeof(float));
    ids_[row] = ids_[last];
    row_of_[ids_[row]] = row;
  }
  ids_.pop_back();
  data_.resize(data_.size() - dim_);
  row_of_.erase(it);
  return true;
}

std::vector<VectorHit> ExactIndex::search(std::span<const float> query, size_t k,
                                          const IdFilter& filter) const {
  if (query.size() != dim_) fail("query has dimension {}, index expects {}", query.size(), dim_);
  std::vector<float> q(query.begin(), query.end());
  if (metric_ == Metric::Cosine) normalize(q);
  std::vector<VectorHit> hits;
  hits.reserve(ids_.size());
  for (size_t row = 0; row < ids_.size(); ++row) {
    if (filter && !filter(ids_[row])) continue;
    hits.push_back(VectorHit{ids_[row], kernels::dot_f32(q.data(), data_.data() + row * dim_, dim_)});
  }
  auto better = [](const VectorHit& a, const VectorHit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  };
  size_t n = std::min(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + static_cast<ptrdiff_t>(n), hits.end(), better);
  hits.resize(n);
  return hits;
}

}  // namespace ragd::rag
