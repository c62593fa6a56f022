#include "app/dense_bench.h"

#include <random>
#include <vector>

#include "rag/eval/eval_metrics.h"
#include "rag/search/vector_index.h"
#include "util/timing.h"

namespace ragd::app {
namespace {

std::vector<float> gaussian_rows(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::vector<float> rows(n * dim);
  for (auto& x : rows) x = gauss(rng);
  return rows;
}

// Row-major unit vectors around the given centres (noise ~ a third of the signal).
std::vector<float> clustered_vectors(size_t n, size_t dim, const std::vector<float>& centres,
                                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss(0.f, 1.f);
  std::uniform_int_distribution<size_t> pick(0, centres.size() / dim - 1);
  std::vector<float> rows(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const float* c = &centres[pick(rng) * dim];
    std::span<float> row(&rows[i * dim], dim);
    for (size_t d = 0; d < dim; ++d) row[d] = c[d] + 0.35f * gauss(rng);
    rag::normalize(row);
  }
  return rows;
}

}  // namespace

DenseBenchResult bench_dense_index(const std::string& kind, size_t vectors, size_t dim,
                                   size_t queries, size_t k) {
  constexpr size_t kCentroids = 256;
  const std::vector<float> centres = gaussian_rows(kCentroids, dim, 1);
  std::vector<float> rows = clustered_vectors(vectors, dim, centres, 7);
  std::vector<int64_t> ids(vectors);
  for (size_t i = 0; i < vectors; ++i) ids[i] = static_cast<int64_t>(i + 1);
  auto index = rag::make_vector_index(kind, dim, rag::Metric::Cosine);
  DenseBenchResult r;
  Stopwatch build;
  index->add_batch(ids, rows);
  r.build_seconds = build.seconds();
  // Queries from the same distribution as the corpus (another seed): like real queries,
  // they land near some topic rather than in empty space.
  std::vector<float> qs = clustered_vectors(queries, dim, centres, 8);
  std::vector<double> ms;
  for (size_t q = 0; q < queries; ++q) {
    std::span<const float> query(&qs[q * dim], dim);
    Stopwatch w;
    auto hits = index->search(query, k);
    ms.push_back(w.millis());
  }
  r.p50 = rag::percentile(ms, 50);
  r.p99 = rag::percentile(ms, 99);
  double sum = 0;
  for (double m : ms) sum += m;
  r.mean = ms.empty() ? 0 : sum / static_cast<double>(ms.size());
  return r;
}

}  // namespace ragd::app
