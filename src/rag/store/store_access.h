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
// The vector index of each collection is cached on the read side and reopened when the
// collection's vector_version changes (a write added or removed embeddings).
#pragma once

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

  const std::filesystem::path& dir() const { return dir_; }

 private:
  struct CachedVectors {
    int64_t collection_id = 0;
    int64_t vector_version = -1;
    std::unique_ptr<CollectionVectors> index;
  };
  std::filesystem::path dir_;
  std::mutex read_mu_, write_mu_;
  std::unique_ptr<Store> reader_, writer_;
  std::map<std::string, CachedVectors> vectors_;  // guarded by read_mu_
};

}  // namespace ragd::rag
