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
//
// Thread-safe. Semantic lookup scans the scope's entries (capacity is expected in the
// thousands, and one dot product per entry is far cheaper than one generated token).
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

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
};

struct AnswerCacheOptions {
  size_t capacity = 1000;
  double semantic_threshold = 0.95;  // > 1 disables semantic hits
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
    std::string exact_key;  // scope + normalised question
    std::string scope;
    std::string question;
    uint64_t content_version = 0;
    std::vector<float> embedding;  // unit length; empty when none was given
    CachedAnswer value;
  };
  using Iter = std::list<Entry>::iterator;
  void erase(Iter it);

  const AnswerCacheOptions options_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<std::string, Iter> exact_;
  AnswerCacheStats stats_;
};

}  // namespace ragd::rag
