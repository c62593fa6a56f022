// StoreAccess: how concurrent callers (the server's handler threads, the answer service)
// share one store (SQLite or PostgreSQL, open_store.h).
//
// A Store is one connection and must be used by one thread at a time. The server
// keeps two: a read connection for retrieval and listings, and a write connection for
// ingestion, deletions and collection changes, each behind its own mutex. WAL mode lets
// the reader run beside a writer, so a long upload does not stall queries; readers wait
// only for each other, and their critical sections are BM25 + vector search (milliseconds;
// the query embedding and all generation happen outside the lock). One connection per
// handler thread would allow parallel reads, but the pool has 128+ threads and each
// connection caches up to 64 MiB of pages, so serialising short reads is the better trade.
//
// The vector index of each collection is cached on the read side. When the collection's
// vector_version moves (a write through this or any other replica added or removed
// embeddings) the next read that needs it catches up: the store's change log since the
// index's version is applied (CollectionVectors::catch_up), or, when the log no longer
// reaches back, the index is rebuilt. So a vector committed anywhere is searchable here
// from the next query of its collection on; there is no background polling.
#pragma once

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "rag/search/collection_vectors.h"
#include "rag/store/store.h"

namespace ragd::rag {

class StoreAccess {
 public:
  // Opens the store at `location` (open_store.h; "" is SQLite in DIR/ragd.db, created if
  // needed) twice.
  explicit StoreAccess(const std::filesystem::path& dir, const std::string& location = "");

  template <typename F>
  auto read(F&& fn) {
    std::lock_guard lock(read_mu_);
    return fn(*reader_);
  }
  template <typename F>
  auto write(F&& fn) {
    std::lock_guard lock(write_mu_);
    return fn(*writer_);
  }

  // The collection's vector index on the read connection; call only inside read().
  // Null when the collection has no embeddings.
  CollectionVectors* vectors(const Collection& collection);
  // Drops the cached index of a collection (deleted collections).
  void forget(const std::string& collection);
  // Writes the cached HNSW indexes that changed incrementally since they were loaded or
  // saved and are current with the store (CollectionVectors::persist_changes), so that the
  // next start loads them instead of rebuilding. For a clean shutdown; a failure is logged,
  // never thrown (the files are only a cache). Returns how many were written.
  size_t persist_indexes();

  // How cached indexes were brought up to date since this StoreAccess was made: opened
  // (first use, or a collection re-created under the same name), incremental (change log
  // applied), rebuilt (the log could not be used).
  struct IndexUpdates {
    uint64_t opened = 0, incremental = 0, rebuilt = 0;
  };
  IndexUpdates index_updates() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct CachedVectors {
    int64_t collection_id = 0;
    std::unique_ptr<CollectionVectors> index;
  };
  std::filesystem::path dir_;
  std::mutex read_mu_, write_mu_;
  std::unique_ptr<Store> reader_, writer_;
  std::map<std::string, CachedVectors> vectors_;  // guarded by read_mu_
  std::atomic<uint64_t> opened_{0}, incremental_{0}, rebuilt_{0};
};

}  // namespace ragd::rag
