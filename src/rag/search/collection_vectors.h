// The vector index of one collection, kept consistent with the embeddings in SQLite.
//
// SQLite is the source of truth; the index is a cache of it. An HNSW index is persisted
// next to the database (DIR/vectors/<collection>.hnsw) with a JSON sidecar recording the
// store's EmbeddingState (vector count, id checksum, vector_version), the build parameters
// and the index file's own hash. open() loads the file only when all of these still match;
// otherwise (missing, stale, corrupt, other parameters) it rebuilds from SQLite and saves.
// An exact index is never persisted: below `exact_threshold` vectors rebuilding it from
// SQLite is as fast as loading a file.
#pragma once

#include <filesystem>
#include <memory>
#include <shared_mutex>
#include <string>

#include "rag/store/store.h"
#include "rag/search/vector_index.h"

namespace ragd::rag {

struct VectorIndexConfig {
  std::string kind = "auto";       // "auto", "exact" or "hnsw"
  size_t exact_threshold = 20000;  // "auto": exact search below this many vectors
  Metric metric = Metric::Cosine;
  HnswOptions hnsw;
};

class CollectionVectors {
 public:
  static std::unique_ptr<CollectionVectors> open(Store& store, const Collection& collection,
                                                 const VectorIndexConfig& config = {});

  static std::filesystem::path index_path(const std::filesystem::path& store_dir,
                                          const std::string& collection);

  // Which implementation is in use ("none" before the collection has any embedding).
  std::string kind() const;
  size_t size() const;
  // Whether open() had to rebuild from SQLite (false: loaded, or nothing to build).
  bool rebuilt() const { return rebuilt_; }

  // Stores the embedding in SQLite and adds it to the index (both or, on error, neither
  // in the index). The caller owns the SQLite transaction; call save() after committing.
  void upsert(Collection& collection, int64_t chunk_id, std::span<const float> vector,
              const std::string& model);
  // Drops a chunk from the index (its SQLite rows go with its document).
  void remove(int64_t chunk_id);
  // Persists an HNSW index stamped with the store's current state (no-op for exact).
  void save();

  std::vector<VectorHit> search(std::span<const float> query, size_t k,
                                const IdFilter& filter = nullptr) const;

 private:
  CollectionVectors(Store& store, Collection collection, VectorIndexConfig config)
      : store_(store), collection_(std::move(collection)), config_(std::move(config)) {}
  std::string choose_kind(int64_t count) const;
  bool try_load(const EmbeddingState& state);
  void rebuild(const EmbeddingState& state);

  Store& store_;
  Collection collection_;
  VectorIndexConfig config_;
  std::unique_ptr<VectorIndex> index_;
  bool rebuilt_ = false;
  mutable std::shared_mutex mutex_;  // search shared; add/remove exclusive
};

}  // namespace ragd::rag
