#include "rag/search/result_cache.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace ragd::rag {

std::string ResultCacheKey::encode() const {
  // A JSON array cannot be confused by separators inside the query or collection name.
  return nlohmann::json::array({collection, content_version, query, search_mode_name(mode), top_k,
                                options})
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string search_options_key(const SearchOptions& o) {
  std::vector<std::string> filters;
  for (const auto& f : o.filters) {
    filters.push_back(nlohmann::json::array({f.key, f.value, f.negate})
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  std::sort(filters.begin(), filters.end());  // ANDed: their order does not matter
  nlohmann::json j = {
      {"level", o.level == ResultLevel::Documents ? "documents" : "chunks"},
      {"min_score", o.min_score ? nlohmann::json(*o.min_score) : nlohmann::json(nullptr)},
      {"filters", filters},
      {"profile",
       {o.profile.name, o.profile.bm25_candidates, o.profile.dense_candidates, o.profile.oversample,
        o.profile.rerank_candidates}},
      {"fusion", o.fusion == FusionMethod::Weighted ? "weighted" : "rrf"},
      {"weights", {o.bm25_weight, o.dense_weight, o.rrf_k}},
      {"fts", {o.fts.drop_stopwords, o.fts.max_terms, o.fts.max_term_bytes}},
  };
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

ResultCache::ResultCache(Options options) : options_(std::move(options)) {}

ResultCache::Hits ResultCache::get(const ResultCacheKey& key) {
  if (options_.capacity == 0) return nullptr;
  const std::string k = key.encode();
  const auto t = now();
  std::lock_guard lock(mu_);
  auto it = index_.find(k);
  if (it == index_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (t >= it->second->expires) {
    ++stats_.misses;
    ++stats_.expired;
    lru_.erase(it->second);
    index_.erase(it);
    return nullptr;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->hits;
}

void ResultCache::put(const ResultCacheKey& key, std::vector<SearchHit> hits) {
  if (options_.capacity == 0) return;
  std::string k = key.encode();
  auto value = std::make_shared<const std::vector<SearchHit>>(std::move(hits));
  const auto expires =
      now() + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(options_.ttl_seconds));
  std::lock_guard lock(mu_);
  if (auto it = index_.find(k); it != index_.end()) {
    it->second->hits = std::move(value);
    it->second->expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  if (lru_.size() >= options_.capacity) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evicted;
  }
  lru_.push_front(Entry{k, std::move(value), expires});
  index_.emplace(std::move(k), lru_.begin());
}

void ResultCache::clear() {
  std::lock_guard lock(mu_);
  lru_.clear();
  index_.clear();
}

ResultCacheStats ResultCache::stats() const {
  std::lock_guard lock(mu_);
  ResultCacheStats s = stats_;
  s.size = lru_.size();
  return s;
}

}  // namespace ragd::rag
