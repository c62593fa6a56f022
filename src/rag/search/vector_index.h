// Vector indexes: the tiny interface every nearest-neighbour implementation offers, and a
// factory that picks one by name. Ids are chunk ids. Scores are similarities, higher is
// better: cosine similarity (vectors are normalised on the way in) or raw inner product.
//
// Implementations: "exact" (brute force, exact_index.h) and "hnsw" (hnswlib, hnsw_index.h).
// Thread safety: search() may run concurrently with other search() calls; add() and
// remove() need exclusive access (callers hold a lock, as CollectionVectors does).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace ragd::rag {

enum class Metric { Cosine, InnerProduct };

struct VectorHit {
  int64_t id = 0;
  float score = 0;
};

// Returns true for ids a search may return (metadata filters become one of these).
using IdFilter = std::function<bool(int64_t)>;

struct HnswOptions {
  size_t m = 16;                 // graph degree: memory and recall grow with it
  size_t ef_construction = 200;  // build-time beam width: build time and recall grow with it
  size_t ef_search = 128;        // query-time beam width (raised to k when smaller)
  uint64_t seed = 100;
};

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  virtual const char* kind() const = 0;
  virtual size_t dim() const = 0;
  virtual Metric metric() const = 0;
  // Live vectors (added and not removed).
  virtual size_t size() const = 0;
  // Adds or replaces the vector for `id`. Throws ragd::Error on a dimension mismatch.
  virtual void add(int64_t id, std::span<const float> vector) = 0;
  // Adds rows.size() / dim() vectors, row i under ids[i]. Implementations may use several
  // threads (HNSW does for large batches); the result equals adding them one by one.
  virtual void add_batch(std::span<const int64_t> ids, std::span<const float> rows);
  // Returns false if `id` was not present.
  virtual bool remove(int64_t id) = 0;
  // Up to k best hits, best first; ties broken by lower id. Only ids passing `filter`.
  virtual std::vector<VectorHit> search(std::span<const float> query, size_t k,
                                        const IdFilter& filter = nullptr) const = 0;
};

// kind: "exact" or "hnsw". Throws ragd::Error for other names.
std::unique_ptr<VectorIndex> make_vector_index(const std::string& kind, size_t dim, Metric metric,
                                               const HnswOptions& hnsw = {});

// Scales v to unit length in place (a zero vector stays zero).
void normalize(std::span<float> v);
// Inner product over min(a.size(), b.size()) elements, with the CPU's best SIMD kernel.
float dot(std::span<const float> a, std::span<const float> b);

}  // namespace ragd::rag
