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
// Invariants: size() <= capacity(); capacity 0 disables the cache (get always misses, put
// stores nothing). Thread-safe; values are shared immutable vectors, so a hit copies no
// chunk text.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "rag/search/retriever.h"

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
};

class ResultCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Hits = std::shared_ptr<const std::vector<SearchHit>>;

  struct Options {
    size_t capacity = 1000;
    double ttl_seconds = 1800;
    std::function<Clock::time_point()> now;  // injectable for tests; default Clock::now
  };

  explicit ResultCache(Options options);
  ResultCache() : ResultCache(Options{}) {}

  Hits get(const ResultCacheKey& key);  // null on a miss
  void put(const ResultCacheKey& key, std::vector<SearchHit> hits);
  void clear();

  size_t capacity() const { return options_.capacity; }
  double ttl_seconds() const { return options_.ttl_seconds; }
  ResultCacheStats stats() const;

 private:
  struct Entry {
    std::string key;
    Hits hits;
    Clock::time_point expires;
  };
  Clock::time_point now() const { return options_.now ? options_.now() : Clock::now(); }

  const Options options_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  ResultCacheStats stats_;
};

}  // namespace ragd::rag
