// RedisKvCache: a KvCache (util/kv_cache.h) kept in Redis, so every replica sharing the
// Redis server sees the same entries.
//
// Keys are "ragd:<name>:<SHA-256 hex of the caller's key>": bounded in length whatever the
// caller's key holds (queries, system prompts), and namespaced per cache so clear() can
// remove exactly its own (SCAN + UNLINK). Values are stored as given, with SET ... PX
// for a TTL. Entries without a TTL stay until Redis evicts them: run Redis with a
// maxmemory and `maxmemory-policy allkeys-lru` (docs/scaling.md, "Shared caches").
// Unreachable Redis: see util/redis_client.h (misses, one warning per outage, backoff).
#pragma once

#include <atomic>
#include <memory>

#include "util/kv_cache.h"
#include "util/redis_client.h"

namespace ragd {

class RedisKvCache final : public KvCache {
 public:
  RedisKvCache(std::shared_ptr<RedisClient> client, std::string name);

  std::optional<std::string> get(std::string_view key) override;
  void put(std::string_view key, std::string_view value, Ttl ttl = std::nullopt) override;
  void erase(std::string_view key) override;
  void clear() override;
  KvCacheStats stats() const override;
  std::string location() const override { return client_->location(); }

  std::string redis_key(std::string_view key) const;  // exposed for tests

 private:
  void count(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  const std::shared_ptr<RedisClient> client_;
  const std::string prefix_;  // "ragd:<name>:"
  std::atomic<uint64_t> hits_{0}, misses_{0}, errors_{0};
};

// The Redis client for a `--cache` URL (util/kv_cache.h's CacheUrl), shared by every
// RedisKvCache of the process; null for "memory" (callers then use their typed in-process
// LruCache alone). Connects lazily: an unreachable Redis at start is an outage, not an error.
std::shared_ptr<RedisClient> connect_cache(const CacheUrl& url);

}  // namespace ragd
