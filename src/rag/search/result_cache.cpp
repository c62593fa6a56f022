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

ResultCache::ResultCache(Options options)
    : options_(std::move(options)), lru_(LruLimits{.max_entries = options_.capacity}, options_.now) {}

ResultCache::Clock::duration ResultCache::ttl() const {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.ttl_seconds));
}

ResultCache::Hits ResultCache::get(const ResultCacheKey& key) {
  if (options_.capacity == 0) return nullptr;
  const std::string k = key.encode();
  if (auto local = lru_.get(k)) return *local;
  if (!options_.shared) return nullptr;
  auto bytes = options_.shared->get(k);
  if (!bytes) return nullptr;
  auto decoded = decode_search_hits(*bytes);
  if (!decoded) {
    options_.shared->erase(k);  // not ours, or corrupt: never serve it
    return nullptr;
  }
  auto value = std::make_shared<const std::vector<SearchHit>>(std::move(*decoded));
  // The backend's remaining TTL is not known here; the local copy gets a full one, which is
  // safe because the key pins the content version.
  lru_.put(k, value, 0, ttl());
  shared_hits_.fetch_add(1, std::memory_order_relaxed);
  return value;
}

void ResultCache::put(const ResultCacheKey& key, std::vector<SearchHit> hits) {
  if (options_.capacity == 0) return;
  std::string k = key.encode();
  if (options_.shared) {
    options_.shared->put(k, encode_search_hits(hits),
                         std::chrono::duration_cast<std::chrono::milliseconds>(ttl()));
  }
  lru_.put(k, std::make_shared<const std::vector<SearchHit>>(std::move(hits)), 0, ttl());
}

void ResultCache::clear() {
  lru_.clear();
  if (options_.shared) options_.shared->clear();
}

ResultCacheStats ResultCache::stats() const {
  ResultCacheStats s;
  // Shared hits first: each was a local miss before it was counted, so misses cannot go
  // below zero however the two reads interleave with lookups.
  s.shared_hits = shared_hits_.load(std::memory_order_relaxed);
  const LruStats l = lru_.stats();
  s.hits = l.hits + s.shared_hits;
  s.misses = l.misses - s.shared_hits;  // every shared hit was first a local miss
  s.expired = l.expired;
  s.evicted = l.evictions;
  s.size = l.entries;
  if (options_.shared) s.shared_errors = options_.shared->stats().errors;
  return s;
}

std::string encode_search_hits(const std::vector<SearchHit>& hits) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& h : hits) {
    nlohmann::json j = {{"c", h.chunk_id}, {"d", h.document_id}, {"x", h.external_id}, {"t", h.title},
                        {"h", h.heading},  {"b", h.text},        {"m", h.metadata},    {"s", h.score}};
    if (h.bm25_score) j["s1"] = *h.bm25_score;
    if (h.dense_score) j["s2"] = *h.dense_score;
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<std::vector<SearchHit>> decode_search_hits(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return std::nullopt;
  std::vector<SearchHit> hits;
  try {
    for (const auto& e : j) {
      SearchHit h;
      h.chunk_id = e.at("c").get<int64_t>();
      h.document_id = e.at("d").get<int64_t>();
      h.external_id = e.at("x").get<std::string>();
      h.title = e.at("t").get<std::string>();
      h.heading = e.at("h").get<std::string>();
      h.text = e.at("b").get<std::string>();
      h.metadata = e.at("m").get<std::string>();
      h.score = e.at("s").get<double>();
      if (e.contains("s1")) h.bm25_score = e["s1"].get<double>();
      if (e.contains("s2")) h.dense_score = e["s2"].get<double>();
      hits.push_back(std::move(h));
    }
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
  return hits;
}

}  // namespace ragd::rag
