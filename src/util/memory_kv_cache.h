// MemoryKvCache: the in-process KvCache (util/kv_cache.h), an LruCache<string, string>
// whose byte budget counts each entry's key and value bytes.
#pragma once

#include <string>

#include "util/kv_cache.h"
#include "util/lru_cache.h"

namespace ragd {

class MemoryKvCache final : public KvCache {
 public:
  explicit MemoryKvCache(LruLimits limits = {}, std::function<LruCache<std::string, std::string>::Clock::time_point()> now = {})
      : lru_(limits, std::move(now)) {}

  std::optional<std::string> get(std::string_view key) override { return lru_.get(std::string(key)); }
  void put(std::string_view key, std::string_view value, Ttl ttl = std::nullopt) override {
    std::optional<LruCache<std::string, std::string>::Duration> d;
    if (ttl) d = std::chrono::duration_cast<LruCache<std::string, std::string>::Duration>(*ttl);
    lru_.put(std::string(key), std::string(value), key.size() + value.size(), d);
  }
  void erase(std::string_view key) override { lru_.erase(std::string(key)); }
  void clear() override { lru_.clear(); }
  KvCacheStats stats() const override {
    const LruStats s = lru_.stats();
    return KvCacheStats{s.hits, s.misses, s.evictions, 0, s.entries, s.bytes};
  }
  std::string location() const override { return "memory"; }

 private:
  LruCache<std::string, std::string> lru_;
};

}  // namespace ragd
