// AnswerCache: generated RAG answers, reused for the same question (exact) or a question
// that means the same (semantic), over an unchanged collection with the same settings.
//
// - Scope: an entry belongs to one (collection, settings) pair; `settings` is the caller's
//   canonical string of everything that shapes the answer (model, retrieval options,
//   sampling, prompt). Lookups never cross scopes.
// - Exact: the question is normalised (ASCII lower-case, whitespace runs collapsed to one
//   space, leading/trailing whitespace and trailing punctuation trimmed), so "What is X?"
//   and "what is  x" share an entry.
// - Semantic: when no exact entry matches and the caller gives the question's embedding,
//   the entry of the same scope whose question embedding has the highest cosine similarity
//   is returned if that similarity is >= semantic_threshold (default 0.95). Embeddings are
//   normalised on the way in, so callers may pass any non-zero vector.
// - Invalidation: each entry remembers the collection's content version
//   (Store::content_version) it was answered from; a lookup with another version drops it.
// - Capacity: least recently used entries go first; capacity 0 disables the cache.
// - Storage: the in-process LRU (util/lru_cache.h) of typed entries. With a shared backend
//   (AnswerCacheOptions::shared, a KvCache such as Redis) it is the first level: an exact
//   lookup that misses locally asks the backend under the key (scope, normalised question,
//   content version), so replicas sharing one store and backend reuse each other's answers;
//   the entry found is kept locally. Semantic lookups search the local entries only (those
//   answered or fetched here): a similarity scan over a remote store would cost a round
//   trip per entry. Backend entries live shared_ttl_seconds; old content versions are never
//   asked for again and expire.
//
// Thread-safe. Semantic lookup scans the local entries (capacity is expected in the
// thousands, and one dot product per entry is far cheaper than one generated token).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/kv_cache.h"
#include "util/lru_cache.h"

namespace ragd::rag {

// The question as the exact cache compares it (see above).
std::string normalize_question(std::string_view question);

struct AnswerKey {
  std::string collection;
  uint64_t content_version = 0;
  std::string settings;
  std::string question;  // as asked; normalised by the cache
};

struct AnswerUsage {
  size_t prompt_tokens = 0;
  size_t completion_tokens = 0;
};

struct CachedAnswer {
  std::string answer;
  nlohmann::json citations = nlohmann::json::array();
  AnswerUsage usage;  // of the generation that produced it
};

enum class AnswerHitKind { Exact, Semantic };

struct AnswerHit {
  AnswerHitKind kind = AnswerHitKind::Exact;
  double similarity = 1;         // cosine of the question embeddings (1 for exact hits)
  std::string cached_question;   // the question the answer was generated for
  CachedAnswer value;
};

struct AnswerCacheStats {
  uint64_t exact_hits = 0, semantic_hits = 0, misses = 0;
  uint64_t invalidated = 0;  // entries dropped because their collection changed
  uint64_t evicted = 0;      // entries dropped for capacity
  size_t size = 0;
  uint64_t shared_hits = 0;    // of the exact hits, those served by the shared backend
  uint64_t shared_errors = 0;  // backend operations that failed (each a miss or a lost write)
};

struct AnswerCacheOptions {
  size_t capacity = 1000;
  double semantic_threshold = 0.95;  // > 1 disables semantic hits
  std::shared_ptr<KvCache> shared = nullptr;  // optional second level shared by replicas
  double shared_ttl_seconds = 86400;
};

class AnswerCache {
 public:
  explicit AnswerCache(AnswerCacheOptions options = {});

  // `embedding` may be empty: then only an exact hit is possible.
  std::optional<AnswerHit> lookup(const AnswerKey& key, std::span<const float> embedding = {});
  // Stores (or replaces) the answer for the key's normalised question.
  void insert(const AnswerKey& key, std::span<const float> embedding, CachedAnswer value);
  void clear();

  const AnswerCacheOptions& options() const { return options_; }
  AnswerCacheStats stats() const;

 private:
  struct Entry {
    std::string scope;
    std::string question;  // as first asked
    uint64_t content_version = 0;
    std::vector<float> embedding;  // unit length; empty when none was given
    CachedAnswer value;
  };
  using EntryPtr = std::shared_ptr<const Entry>;  // copies out of the LRU are cheap

  std::optional<AnswerHit> lookup_shared(const std::string& exact_key, const AnswerKey& key);
  void count(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

  const AnswerCacheOptions options_;
  LruCache<std::string, EntryPtr> lru_;  // key: scope + "\n" + normalised question
  std::atomic<uint64_t> exact_hits_{0}, semantic_hits_{0}, misses_{0}, invalidated_{0}, shared_hits_{0};
};

}  // namespace ragd::rag
