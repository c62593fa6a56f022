// The vector index of one collection, kept consistent with the embeddings in SQLite.
//
// SQLite is the source of truth; the index is a cache of it. An HNSW index is persisted
// next to the database (DIR/vectors/<collection>.hnsw) with a JSON sidecar recording the
// store's EmbeddingState (vector count, id checksum, vector_version), the build parameters
// and the index file's own hash. open() loads the file when all of these still match, or
// when it holds an older vector_version of the same collection and model (then it catches
// up from the change log, below); otherwise (missing, ahead of the store, corrupt, other
// parameters, a log that no longer reaches back) it rebuilds from the store and saves.
// Invariant: a file's stamp never claims a vector the file lacks — rebuilds stamp the
// state read before their vectors, persist_changes() writes only a current index.
// An exact index is never persisted: below `exact_threshold` vectors rebuilding it from
// SQLite is as fast as loading a file.
//
// A long-lived index (StoreAccess's, one per replica) follows later writes, its own
// replica's or another's, with catch_up(): it applies the store's change log since the
// vector_version it reflects (Store::vector_changes_since) and rebuilds only when the log
// cannot bring it up to date. Rebuilds rewrite the persisted HNSW file at once; incremental
// changes reach it through persist_changes() (the server calls it at shutdown), so a
// replica restarted after a clean stop loads its index instead of rebuilding it.
#pragma once

#include <atomic>
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
  // Whether open() or catch_up() had to rebuild from the store (false: loaded, caught up
  // from the change log, or nothing to build).
  bool rebuilt() const { return rebuilt_; }
  // The collection's vector_version the index reflects: every vector change up to it is
  // in the index (later ones may be too; applying them again is harmless).
  int64_t version() const;

  enum class CatchUp { Incremental, Rebuilt };
  // Brings the index up to the store's current vectors: the change log since version()
  // when it reaches back that far, else a full rebuild (logged with the reason). Uses the
  // store connection, so the caller must own it (StoreAccess: inside read()). On an error
  // the index may hold part of the changes and version() is unchanged, so the next call
  // applies them again.
  CatchUp catch_up();

  // Stores the embedding in SQLite and adds it to the index (both or, on error, neither
  // in the index). The caller owns the SQLite transaction; call save() after committing.
  void upsert(Collection& collection, int64_t chunk_id, std::span<const float> vector,
              const std::string& model);
  // Drops a chunk from the index (its SQLite rows go with its document).
  void remove(int64_t chunk_id);
  // Persists an HNSW index stamped with the store's current state (no-op for exact).
  void save();
  // Persists an HNSW index changed since it was loaded, built or saved — but only when it
  // reflects the store's current vectors (its version() is the store's vector_version):
  // the sidecar's stamp must describe exactly the vectors in the file, and an index behind
  // a later write would be stamped with state it lacks. Returns whether it wrote. The
  // caller owns the store connection (StoreAccess: inside read()).
  bool persist_changes();

  std::vector<VectorHit> search(std::span<const float> query, size_t k,
                                const IdFilter& filter = nullptr) const;

 private:
  CollectionVectors(Store& store, Collection collection, VectorIndexConfig config)
      : store_(store), collection_(std::move(collection)), config_(std::move(config)) {}
  std::string choose_kind(int64_t count) const;
  bool try_load(const EmbeddingState& state);
  // A new index of `collection_` from every stored vector; `state` read before it.
  std::unique_ptr<VectorIndex> build(const EmbeddingState& state) const;
  // build() into index_, then writes it stamped with `state`; the caller holds no lock.
  void rebuild(const EmbeddingState& state);
  // Writes the index file and then its sidecar stamped with `state`; mutex_ held (shared).
  void write_files(const EmbeddingState& state);

  Store& store_;
  Collection collection_;
  VectorIndexConfig config_;
  std::unique_ptr<VectorIndex> index_;
  int64_t version_ = 0;
  bool rebuilt_ = false;
  std::atomic<bool> unsaved_changes_{false};  // index_ differs from the persisted file
  mutable std::shared_mutex mutex_;  // search shared; add/remove exclusive
};

}  // namespace ragd::rag
