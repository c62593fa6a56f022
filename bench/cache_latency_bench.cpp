// Cache get latency: the in-process LRU against Redis (docs/scaling.md, "Shared caches").
//
//   bench_cache_latency [redis://127.0.0.1:PORT/0] [iterations=20000]
//
// Prints p50/p99 of one get() hit, single thread, for: the typed EmbeddingCache (384-float
// vector: the per-chunk hot path), MemoryKvCache (1536-byte value), RedisKvCache (same
// value over loopback) and an EmbeddingCache whose local level misses and whose Redis level
// hits (what a replica pays for a vector another replica computed). Without a URL only the
// in-process rows are printed.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/embedding_cache.h"
#include "util/memory_kv_cache.h"
#include "util/redis_kv_cache.h"

namespace {

using Clock = std::chrono::steady_clock;

void report(const char* what, int n, const std::function<bool(int)>& get) {
  std::vector<double> us;
  us.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    const bool hit = get(i);
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!hit) {
      fmt::print(stderr, "{}: get {} missed\n", what, i);
      std::exit(1);
    }
  }
  std::sort(us.begin(), us.end());
  fmt::print("{:<44} p50 {:8.2f} us   p99 {:8.2f} us\n", what, us[us.size() / 2], us[us.size() * 99 / 100]);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string url = argc > 1 ? argv[1] : "";
  const int n = argc > 2 ? std::atoi(argv[2]) : 20000;
  constexpr int kKeys = 1000;
  const std::vector<float> vec(384, 0.5f);
  const std::string value(vec.size() * sizeof(float), 'v');
  auto key = [](int i) { return fmt::format("passage text number {}", i % kKeys); };

  ragd::engine::EmbeddingCache local(kKeys);
  for (int i = 0; i < kKeys; ++i) local.put("m/f32", key(i), vec);
  report("EmbeddingCache, in-process (typed)", n, [&](int i) { return local.get("m/f32", key(i)).has_value(); });

  ragd::MemoryKvCache mem(ragd::LruLimits{.max_entries = kKeys});
  for (int i = 0; i < kKeys; ++i) mem.put(key(i), value);
  report("MemoryKvCache, in-process (bytes)", n, [&](int i) { return mem.get(key(i)).has_value(); });

  if (url.empty()) return 0;
  auto client = ragd::connect_cache(ragd::CacheUrl::parse(url));
  auto redis = std::make_shared<ragd::RedisKvCache>(client, "bench");
  for (int i = 0; i < kKeys; ++i) redis->put(key(i), value);
  report("RedisKvCache, loopback (bytes)", n, [&](int i) { return redis->get(key(i)).has_value(); });

  // Local level of one entry, keys cycling over 1000: every get is a local miss and a
  // Redis hit, plus the decode and the local insert.
  ragd::engine::EmbeddingCache writer(kKeys, redis), reader(1, redis);
  for (int i = 0; i < kKeys; ++i) writer.put("m/f32", key(i), vec);
  report("EmbeddingCache, local miss + Redis hit", n, [&](int i) { return reader.get("m/f32", key(i)).has_value(); });
  redis->clear();
  return 0;
}
