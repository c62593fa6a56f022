#include "rag/search/hnsw_index.h"

#include <fmt/format.h>
// hnswlib 0.6.2's searchBaseLayer prefetches the neighbour after the last one of a list
// (`*(datal + j + 1)` under USE_SSE): a 4-byte read past the end of a full upper-level link
// list, which AddressSanitizer reports as a heap-buffer-overflow. The value only feeds
// _mm_prefetch and the read stays inside glibc's malloc chunk (a 69-byte list gets 72
// usable bytes), so release builds keep the prefetches; under ASan they are compiled out
// (NO_MANUAL_VECTORIZATION only drops the prefetches and hnswlib's own SIMD spaces, which
// ragd does not use: distances come from DispatchedIpSpace below). docs/reliability.md.
#if defined(__SANITIZE_ADDRESS__) && !defined(NO_MANUAL_VECTORIZATION)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "kernels/vector_ops.h"
#include "util/durable_file.h"
#include "util/error.h"

namespace ragd::rag {

namespace {

// hnswlib's own inner-product space picks its SIMD width at compile time (SSE for a
// portable build); this one uses kernels::dot_f32, dispatched at run time.
// Distance = 1 - inner product, as hnswlib's InnerProductSpace, so files are compatible.
class DispatchedIpSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit DispatchedIpSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float distance(const void* a, const void* b, const void* dim) {
    return 1.0f - kernels::dot_f32(static_cast<const float*>(a), static_cast<const float*>(b),
                                   *static_cast<const size_t*>(dim));
  }
  size_t dim_;
};

}  // namespace

struct HnswIndex::Impl {
  // Declaration order matters: the space must outlive the graph that points to it.
  std::unique_ptr<DispatchedIpSpace> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

namespace {

// Copies the vector, normalised for cosine (hnswlib then scores 1 - inner product).
std::vector<float> prepare(std::span<const float> v, Metric metric) {
  std::vector<float> out(v.begin(), v.end());
  if (metric == Metric::Cosine) normalize(out);
  return out;
}

}  // namespace

HnswIndex::HnswIndex(size_t dim, Metric metric, std::unique_ptr<Impl> impl)
    : dim_(dim), metric_(metric), impl_(std::move(impl)) {}

HnswIndex::HnswIndex(size_t dim, Metric metric, const HnswOptions& options,
                     size_t initial_capacity)
    : dim_(dim), metric_(metric), impl_(std::make_unique<Impl>()) {
  if (dim == 0) fail("vector index dimension must be positive");
  if (options.m < 2 || options.m > 256) fail("hnsw M must be in 2..256 (got {})", options.m);
  impl_->space = std::make_unique<DispatchedIpSpace>(dim);
  impl_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
      impl_->space.get(), std::max<size_t>(initial_capacity, 16), options.m,
      std::max(options.ef_construction, options.m), options.seed);
  set_ef_search(options.ef_search);
}

HnswIndex::~HnswIndex() = default;

std::unique_ptr<HnswIndex> HnswIndex::load(const std::filesystem::path& file, size_t dim,
                                           Metric metric, const HnswOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->space = std::make_unique<DispatchedIpSpace>(dim);
  try {
    impl->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(impl->space.get(),
                                                                    file.string());
  } catch (const std::exception& e) {
    fail("cannot load vector index {}: {}", file.string(), e.what());
  }
  auto& g = *impl->graph;
  // The file's vector size is the gap between the links and the label of an element
  // (hnswlib takes data_size_ from the space we pass, not from the file).
  size_t file_dim = (g.label_offset_ - g.offsetData_) / sizeof(float);
  if (file_dim != dim) {
    fail("vector index {} holds {}-dimensional vectors, expected {}", file.string(), file_dim, dim);
  }
  // This hnswlib version leaves num_deleted_ uninitialised on load before counting into it.
  g.num_deleted_ = 0;
  for (size_t i = 0; i < g.cur_element_count; ++i) {
    if (g.isMarkedDeleted(static_cast<hnswlib::tableint>(i))) ++g.num_deleted_;
  }
  auto index = std::unique_ptr<HnswIndex>(new HnswIndex(dim, metric, std::move(impl)));
  index->set_ef_search(options.ef_search);
  return index;
}

namespace {

// The bytes hnswlib's saveIndex writes for `g`, field by field as it writes them. saveIndex
// does not check its std::ofstream, so a failed write (a full disk) is only visible as a
// file shorter than this.
size_t saved_size(const hnswlib::HierarchicalNSW<float>& g) {
  size_t n = sizeof(g.offsetLevel0_) + sizeof(g.max_elements_) + sizeof(g.cur_element_count) +
             sizeof(g.size_data_per_element_) + sizeof(g.label_offset_) + sizeof(g.offsetData_) +
             sizeof(g.maxlevel_) + sizeof(g.enterpoint_node_) + sizeof(g.maxM_) +
             sizeof(g.maxM0_) + sizeof(g.M_) + sizeof(g.mult_) + sizeof(g.ef_construction_);
  const size_t count = g.cur_element_count;
  n += count * g.size_data_per_element_;
  for (size_t i = 0; i < count; ++i) {
    const int level = g.element_levels_[i];
    n += sizeof(unsigned int) + (level > 0 ? g.size_links_per_element_ * level : 0);
  }
  return n;
}

}  // namespace

void HnswIndex::save(const std::filesystem::path& file) const {
  std::filesystem::path tmp = file;
  tmp += ".tmp";
  std::string err;
  try {
    impl_->graph->saveIndex(tmp.string());
    std::error_code ec;
    const auto written = std::filesystem::file_size(tmp, ec);
    const size_t expected = saved_size(*impl_->graph);
    if (ec) {
      err = ec.message();
    } else if (written != expected) {
      err = fmt::format("wrote {} of {} bytes (disk full?)", written, expected);
    }
  } catch (const std::exception& e) {
    err = e.what();
  }
  if (!err.empty()) {
    // Never let a short file replace the previous index.
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    fail("cannot write vector index {}: {}", file.string(), err);
  }
  commit_file_durably(tmp, file);  // fsync + rename: a crash leaves the old file or the new
}

size_t HnswIndex::size() const {
  return impl_->graph->cur_element_count - impl_->graph->num_deleted_;
}

void HnswIndex::set_ef_search(size_t ef) { impl_->graph->setEf(std::max<size_t>(ef, 1)); }

void HnswIndex::add(int64_t id, std::span<const float> vector) {
  if (vector.size() != dim_) fail("vector has dimension {}, index expects {}", vector.size(), dim_);
  auto& g = *impl_->graph;
  if (g.cur_element_count >= g.max_elements_ &&
      g.label_lookup_.find(static_cast<hnswlib::labeltype>(id)) == g.label_lookup_.end()) {
    g.resizeIndex(g.max_elements_ * 2);
  }
  std::vector<float> v = prepare(vector, metric_);
  g.addPoint(v.data(), static_cast<hnswlib::labeltype>(id));
}

void HnswIndex::add_batch(std::span<const int64_t> ids, std::span<const float> rows) {
  if (rows.size() != ids.size() * dim_) fail("add_batch: {} ids but {} floats", ids.size(), rows.size());
  auto& g = *impl_->graph;
  size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  if (ids.size() < 2000 || threads == 1) {
    VectorIndex::add_batch(ids, rows);
    return;
  }
  size_t need = g.cur_element_count + ids.size();
  if (need > g.max_elements_) g.resizeIndex(std::max(need, g.max_elements_ * 2));
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto work = [&] {
    std::vector<float> v;
    // No exception may escape a thread: a failure is recorded and rethrown below.
    try {
      for (size_t i = next++; i < ids.size() && !failed; i = next++) {
        v = prepare(rows.subspan(i * dim_, dim_), metric_);
        g.addPoint(v.data(), static_cast<hnswlib::labeltype>(ids[i]));
      }
    } catch (...) {
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failed) fail("adding vectors to the HNSW index failed");
}

bool HnswIndex::remove(int64_t id) {
  auto& g = *impl_->graph;
  auto it = g.label_lookup_.find(static_cast<hnswlib::labeltype>(id));
  if (it == g.label_lookup_.end() || g.isMarkedDeleted(it->second)) return false;
  g.markDelete(static_cast<hnswlib::labeltype>(id));
  return true;
}

std::vector<VectorHit> HnswIndex::search(std::span<const float> query, size_t k,
                                         const IdFilter& filter) const {
  if (query.size() != dim_) fail("query has dimension {}, index expects {}", query.size(), dim_);
  std::vector<float> q = prepare(query, metric_);
  size_t live = size();
  k = std::min(k, live);
  std::vector<VectorHit> hits;
  // Without filter support in this hnswlib, a filter is applied to a widened result: ask
  // for 4k, then for twice as many while too few pass, up to every live vector.
  size_t want = filter ? std::min(live, std::max<size_t>(k * 4, 32)) : k;
  while (k > 0) {
    auto result = impl_->graph->searchKnn(q.data(), want);
    hits.clear();
    while (!result.empty()) {
      auto [distance, label] = result.top();
      result.pop();
      auto id = static_cast<int64_t>(label);
      if (!filter || filter(id)) hits.push_back(VectorHit{id, 1.0f - distance});
    }
    if (hits.size() >= k || want >= live) break;
    want = std::min(live, want * 2);
  }
  std::sort(hits.begin(), hits.end(), [](const VectorHit& a, const VectorHit& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

}  // namespace ragd::rag
