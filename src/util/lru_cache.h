// LruCache<K, V>: the one in-process LRU/TTL cache of ragd (DESIGN.md, util: "one LRU/TTL
// cache primitive"). The answer, result and embedding caches and the byte-oriented
// MemoryKvCache (util/memory_kv_cache.h) are all built on it.
//
// Why a template and not only the byte interface (util/kv_cache.h): the embedding cache is
// consulted once per chunk and the result cache hands out shared immutable hit vectors;
// serialising those to bytes on every in-process hit would cost more than the lookup. So
// in-process caches keep typed values here, and bytes are used only where they must cross
// a process boundary (the shared Redis backend, util/redis_kv_cache.h).
//
// Limits: at most `max_entries` entries (0 disables the cache: put stores nothing, get
// always misses) and at most `max_bytes` bytes, where each entry's size is the `charge`
// its caller gives put(). Whichever limit is exceeded evicts least recently used entries
// first; an entry whose charge alone exceeds max_bytes is not stored.
//
// TTL: put() may give a time to live; an entry past it is never returned (the lookup that
// finds it drops it and counts a miss and an expiry). A hit does not extend the TTL.
//
// Invariants: entries <= max_entries, bytes <= max_bytes, bytes == the sum of the stored
// charges; hits + misses == lookups. Every method is thread-safe (one mutex; callbacks of
// get_if/scan run under it and must not call back into the cache).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace ragd {

struct LruStats {
  uint64_t hits = 0, misses = 0;
  uint64_t expired = 0;    // misses that found an entry past its TTL
  uint64_t evictions = 0;  // entries dropped for the entry or byte limit
  size_t entries = 0;
  size_t bytes = 0;  // sum of the stored entries' charges
};

struct LruLimits {
  size_t max_entries = 1000;                               // 0 disables the cache
  size_t max_bytes = std::numeric_limits<size_t>::max();  // default: entry count only
};

template <class K, class V, class Hash = std::hash<K>>
class LruCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Duration = Clock::duration;
  // What scan()'s visitor does with the entry it was shown.
  enum class Visit { Keep, Erase };

  explicit LruCache(LruLimits limits = {}, std::function<Clock::time_point()> now = {})
      : limits_(limits), now_(std::move(now)) {}

  const LruLimits& limits() const { return limits_; }

  // A copy of the value (and the entry becomes the most recently used), or nullopt.
  std::optional<V> get(const K& key) {
    return get_if(key, [](const V&) { return true; });
  }

  // Like get(), but an entry that `keep(value)` rejects is dropped and reported as a miss;
  // *rejected tells the caller why (e.g. the answer cache's content-version check).
  template <class Pred>
  std::optional<V> get_if(const K& key, Pred&& keep, bool* rejected = nullptr) {
    if (rejected) *rejected = false;
    if (limits_.max_entries == 0) return std::nullopt;
    const auto t = now();
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) {
      ++stats_.misses;
      return std::nullopt;
    }
    if (t >= it->second->expires) {
      ++stats_.expired;
      ++stats_.misses;
      drop(it->second);
      return std::nullopt;
    }
    if (!keep(std::as_const(it->second->value))) {
      if (rejected) *rejected = true;
      ++stats_.misses;
      drop(it->second);
      return std::nullopt;
    }
    ++stats_.hits;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->value;
  }

  // Stores or replaces the value; the entry becomes the most recently used.
  void put(const K& key, V value, size_t charge = 0, std::optional<Duration> ttl = std::nullopt) {
    if (limits_.max_entries == 0 || charge > limits_.max_bytes) return;
    const auto expires = ttl ? now() + *ttl : Clock::time_point::max();
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) drop(it->second);
    lru_.push_front(Entry{key, std::move(value), charge, expires});
    index_.emplace(key, lru_.begin());
    stats_.bytes += charge;
    while (lru_.size() > limits_.max_entries || stats_.bytes > limits_.max_bytes) {
      drop(std::prev(lru_.end()));  // never the new entry: its charge alone fits
      ++stats_.evictions;
    }
  }

  bool erase(const K& key) {
    std::lock_guard lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    drop(it->second);
    return true;
  }

  void clear() {
    std::lock_guard lock(mu_);
    lru_.clear();
    index_.clear();
    stats_.bytes = 0;
  }

  // Shows every live entry, most recently used first, to visit(key, value), which returns
  // Visit::Keep or Visit::Erase; expired entries are dropped without being shown. Neither
  // recency nor hit/miss counts change.
  template <class F>
  void scan(F&& visit) {
    const auto t = now();
    std::lock_guard lock(mu_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      auto cur = it++;
      if (t >= cur->expires) {
        ++stats_.expired;
        drop(cur);
      } else if (visit(std::as_const(cur->key), std::as_const(cur->value)) == Visit::Erase) {
        drop(cur);
      }
    }
  }

  // Calls f(key, value) for every entry, least recently used first (the order in which
  // put() calls rebuild the same recency), e.g. to save the cache to a file.
  template <class F>
  void for_each_oldest_first(F&& f) const {
    std::lock_guard lock(mu_);
    for (auto it = lru_.rbegin(); it != lru_.rend(); ++it) f(it->key, it->value);
  }

  LruStats stats() const {
    std::lock_guard lock(mu_);
    LruStats s = stats_;
    s.entries = lru_.size();
    return s;
  }

 private:
  struct Entry {
    K key;
    V value;
    size_t charge = 0;
    Clock::time_point expires;
  };
  using Iter = typename std::list<Entry>::iterator;

  Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
  void drop(Iter it) {  // caller holds mu_
    stats_.bytes -= it->charge;
    index_.erase(it->key);
    lru_.erase(it);
  }

  const LruLimits limits_;
  const std::function<Clock::time_point()> now_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<K, Iter, Hash> index_;
  LruStats stats_;
};

}  // namespace ragd
