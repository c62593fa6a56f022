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
//
// Persistence (save/load), so a restarted server does not re-embed its hot queries. File
// layout, little-endian:
//   "RAGDEMBC" u32 version(=1) u64 count
//   count × { u32 model_len, model bytes, u64 text hash, u64 text length, u32 dim, dim × f32 }
//   u64 FNV-1a 64 of every byte before it
// Entries are written least recently used first, so loading them in order restores the
// recency order.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ragd::engine {

class EmbeddingCache {
 public:
  explicit EmbeddingCache(size_t capacity = 10000) : capacity_(capacity) {}

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
  struct Entry {
    Key key;
    std::vector<float> vector;
  };
  static Key make_key(std::string_view model, std::string_view text);

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index_;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace ragd::engine
