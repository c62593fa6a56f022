// KvCache: a byte-oriented cache (string keys, string values, optional TTL), the interface
// behind which ragd's caches can be shared by several replicas.
//
// Implementations: MemoryKvCache (util/memory_kv_cache.h, in-process, on the LruCache
// core) and RedisKvCache (util/redis_kv_cache.h, one Redis shared by every replica).
// CacheUrl below parses the `--cache` URL that selects the backend (connect_cache() in
// util/redis_kv_cache.h opens Redis).
//
// Contract (tests/util/kv_cache_contract_test.cpp runs it against both):
// - get() returns exactly the bytes of the latest put() of the key, until its TTL passes,
//   it is erased, cleared or evicted; nullopt otherwise.
// - A backend that cannot be reached never throws from get/put/erase/clear: get misses,
//   the others do nothing, and stats().errors counts each failed operation.
// - Each KvCache has a name (e.g. "answer"); names are separate namespaces, and clear()
//   empties only its own.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ragd {

struct KvCacheStats {
  uint64_t hits = 0, misses = 0;
  uint64_t evictions = 0;  // in-process only: Redis evicts by its own maxmemory policy
  uint64_t errors = 0;     // operations that failed because the backend was unreachable
  size_t entries = 0, bytes = 0;  // in-process only (a shared backend reports 0)
};

class KvCache {
 public:
  using Ttl = std::optional<std::chrono::milliseconds>;  // nullopt: no expiry

  virtual ~KvCache() = default;
  virtual std::optional<std::string> get(std::string_view key) = 0;
  virtual void put(std::string_view key, std::string_view value, Ttl ttl = std::nullopt) = 0;
  virtual void erase(std::string_view key) = 0;
  virtual void clear() = 0;
  virtual KvCacheStats stats() const = 0;
  // Where the entries live, for logs and /v1/cache: "memory" or "redis://host:port/db".
  virtual std::string location() const = 0;
};

// Parsed `--cache` URL: "memory" (or empty) is in-process; "redis://host:port[/db]" (port
// defaults to 6379, db to 0) is a shared Redis. Anything else throws ragd::Error naming it.
struct CacheUrl {
  enum class Kind { Memory, Redis } kind = Kind::Memory;
  std::string host;
  int port = 6379;
  int db = 0;
  static CacheUrl parse(std::string_view url);
  std::string str() const;
};

}  // namespace ragd
