// Approximate nearest-neighbour search over an HNSW graph (hnswlib). Supports incremental
// add, replacement and deletion (hnswlib's markDelete: a deleted vector stays in the graph
// for navigation but is never returned; re-adding its id revives the slot). Capacity grows
// by doubling. hnswlib is included by hnsw_index.cpp only: its header defines non-inline
// functions and may appear in one translation unit per program.
#pragma once

#include <filesystem>
#include <memory>

#include "rag/search/vector_index.h"

namespace ragd::rag {

class HnswIndex : public VectorIndex {
 public:
  HnswIndex(size_t dim, Metric metric, const HnswOptions& options, size_t initial_capacity = 1024);
  ~HnswIndex() override;

  // Reads a file written by save(). hnswlib trusts its input, so callers must first verify
  // the file (CollectionVectors checks a stored checksum); a wrong dim is a ragd::Error.
  static std::unique_ptr<HnswIndex> load(const std::filesystem::path& file, size_t dim,
                                         Metric metric, const HnswOptions& options);
  // Writes to a temporary file and renames it over `file`, so a crash never leaves a
  // half-written index under the real name.
  void save(const std::filesystem::path& file) const;

  const char* kind() const override { return "hnsw"; }
  size_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  size_t size() const override;
  void add(int64_t id, std::span<const float> vector) override;
  // Large batches are inserted by several threads (hnswlib's insert is thread-safe once
  // capacity is reserved), which is what makes rebuilding a big index tolerable.
  void add_batch(std::span<const int64_t> ids, std::span<const float> rows) override;
  bool remove(int64_t id) override;
  std::vector<VectorHit> search(std::span<const float> query, size_t k,
                                const IdFilter& filter = nullptr) const override;
  void set_ef_search(size_t ef);

 private:
  struct Impl;
  HnswIndex(size_t dim, Metric metric, std::unique_ptr<Impl> impl);
  size_t dim_;
  Metric metric_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ragd::rag
