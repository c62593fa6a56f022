// EmbeddingCache: a thread-safe LRU cache of embedding vectors keyed by (model, text).
//
// Keys are (model id, 64-bit hash of the text, text length): texts themselves are not
// stored, so a cache of 10,000 passages costs ~10,000 vectors plus a few dozen bytes each.
// Two different texts of the same length would have to collide in a 64-bit hash to be
// confused (probability ~1e-11 for 10,000 entries); the model id keeps vectors of
// different models (or of the same model in another quantization) apart, so one cache may
// be shared by several services.
//
// Invariants: size() <= capacity(); a get() hit makes the entry most recently used; put()
// of a new key evicts the least recently used entry when full; capacity 0 disables caching.
// hits() + misses() == get() calls.
//
// Storage: the typed in-process LRU (util/lru_cache.h): this cache is asked once per chunk,
// so a local hit copies the vector and nothing is serialised. With a shared backend (a
// KvCache such as Redis, given to the constructor) it is the first level: a local miss
// asks the backend (key "<model>\n<hash hex>:<length>", value the raw little-endian f32s),
// a backend hit is kept locally, and put() writes both (backend entries live
// shared_ttl_seconds). Keys hold nothing process-local, so replicas share vectors.
//
// Persistence (save/load), so a restarted server does not re-embed its hot queries. File
// layout, little-endian:
//   "RAGDEMBC" u32 version(=1) u64 count
//   count × { u32 model_len, model bytes, u64 text hash, u64 text length, u32 dim, dim × f32 }
//   u64 FNV-1a 64 of every byte before it
// Entries are written least recently used first, so loading them in order restores the
// recency order.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/kv_cache.h"
#include "util/lru_cache.h"

namespace ragd::engine {

class EmbeddingCache {
 public:
  explicit EmbeddingCache(size_t capacity = 10000, std::shared_ptr<KvCache> shared = nullptr,
                          double shared_ttl_seconds = 86400);

  std::optional<std::vector<float>> get(std::string_view model, std::string_view text);
  void put(std::string_view model, std::string_view text, std::vector<float> vector);

  size_t size() const;
  size_t capacity() const { return capacity_; }
  void clear();
  // Writes every entry to path + ".tmp", fsyncs it and renames it over `path` (a crash never
  // leaves a half-written file under `path`). Throws ragd::Error on I/O failure.
  void save(const std::string& path) const;
  // Adds the file's entries as the most recently used (replacing equal keys; the oldest
  // go if they exceed capacity). Validates the whole file first: a missing, truncated or
  // corrupt file throws ragd::Error and leaves the cache unchanged. Returns the entries read.
  size_t load(const std::string& path);
  uint64_t hits() const;
  uint64_t misses() const;
  uint64_t shared_hits() const { return shared_hits_.load(std::memory_order_relaxed); }
  uint64_t shared_errors() const { return shared_ ? shared_->stats().errors : 0; }
  const KvCache* shared() const { return shared_.get(); }
  // The backend key of (model, text): "<model>\n<FNV-1a 64 hex>:<length>".
  static std::string shared_key(std::string_view model, std::string_view text) {
    return shared_key(make_key(model, text));
  }

 private:
  struct Key {
    std::string model;
    uint64_t hash;
    uint64_t length;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const noexcept;
  };
  static Key make_key(std::string_view model, std::string_view text);
  static std::string shared_key(const Key& key);

  const size_t capacity_;
  const std::shared_ptr<KvCache> shared_;
  const std::chrono::milliseconds shared_ttl_;
  LruCache<Key, std::vector<float>, KeyHash> lru_;
  std::atomic<uint64_t> shared_hits_{0};
};

}  // namespace ragd::engine
