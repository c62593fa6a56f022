// ResultCache: recent retrieval results, so that a repeated query over an unchanged
// collection skips BM25, the query embedding and vector search.
//
// Key: (collection name, collection content version, query text, mode, top_k, canonical
// string of every other search option). The content version (Store::content_version) is
// part of the key, so results computed before a collection changed are never served after
// it: they simply stop being asked for and age out. Entries expire ttl_seconds after they
// were stored (a hit does not extend them) and the least recently used entry goes when
// the cache is full.
//
// Storage: the in-process LRU (util/lru_cache.h) holds shared immutable hit vectors, so a
// local hit copies no chunk text. With a shared backend (Options::shared, a KvCache such as
// Redis) it is the first level: a local miss asks the backend, whose hit is decoded (JSON)
// and kept locally; put() writes both, the backend with the same TTL. Keys hold nothing
// process-local (the content version is the store's), so replicas sharing one store and
// one backend serve each other's results.
//
// Invariants: size() <= capacity(); capacity 0 disables the cache (get always misses, put
// stores nothing, the backend is not asked). hits + misses == get() calls. Thread-safe.
#pragma once

#include <chrono>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string_view>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rag/search/retriever.h"
#include "util/kv_cache.h"
#include "util/lru_cache.h"

namespace ragd::rag {

struct ResultCacheKey {
  std::string collection;
  uint64_t content_version = 0;
  std::string query;
  SearchMode mode = SearchMode::Bm25;
  size_t top_k = 10;
  std::string options;  // search_options_key() of the remaining options

  // Unambiguous encoding of all fields (used as the map key).
  std::string encode() const;
};

// Canonical text of the options that change results other than mode and top_k: level,
// min_score, filters (order-independent), profile, fusion and its weights, FTS options.
std::string search_options_key(const SearchOptions& options);

struct ResultCacheStats {
  uint64_t hits = 0, misses = 0;
  uint64_t expired = 0;  // misses that found an entry past its TTL
  uint64_t evicted = 0;  // entries dropped for capacity
  size_t size = 0;
  uint64_t shared_hits = 0;    // of the hits, those served by the shared backend
  uint64_t shared_errors = 0;  // backend operations that failed (each a miss or a lost write)
};

// The JSON text a hit list is stored as in a shared backend, and back; decode returns
// nullopt for text that is not such a list (a foreign or corrupt entry is a miss).
std::string encode_search_hits(const std::vector<SearchHit>& hits);
std::optional<std::vector<SearchHit>> decode_search_hits(std::string_view text);

class ResultCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Hits = std::shared_ptr<const std::vector<SearchHit>>;

  struct Options {
    size_t capacity = 1000;
    double ttl_seconds = 1800;
    std::function<Clock::time_point()> now;  // injectable for tests; default Clock::now
    std::shared_ptr<KvCache> shared = nullptr;  // optional second level shared by replicas
  };

  explicit ResultCache(Options options);
  ResultCache() : ResultCache(Options{}) {}

  Hits get(const ResultCacheKey& key);  // null on a miss
  void put(const ResultCacheKey& key, std::vector<SearchHit> hits);
  void clear();

  size_t capacity() const { return options_.capacity; }
  double ttl_seconds() const { return options_.ttl_seconds; }
  const KvCache* shared() const { return options_.shared.get(); }
  ResultCacheStats stats() const;

 private:
  Clock::duration ttl() const;

  const Options options_;
  LruCache<std::string, Hits> lru_;
  std::atomic<uint64_t> shared_hits_{0};
};

}  // namespace ragd::rag
