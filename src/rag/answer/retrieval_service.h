// RetrievalService: the retrieval use case shared by /v1/search, /v1/rag/query, RAG chat
// and the CLI (ask, eval qa): collection lookup, the query embedding, the result cache,
// the Retriever (with its optional rerank stage) under the store's read lock.
//
// The query is embedded before the store lock is taken (embedding is the slow part), and
// the Retriever then gets the precomputed vector. A collection with vectors searches in
// hybrid mode unless a mode is given; one without vectors only allows bm25.
//
// Errors a caller can cause are ServiceError (rag/answer/service_error.h); model loading
// errors come from the ModelAcquirer as whatever it throws.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_registry.h"
#include "rag/search/reranker.h"
#include "rag/search/result_cache.h"
#include "rag/search/retriever.h"
#include "rag/store/store_access.h"

namespace ragd::rag {

// Loads (or finds loaded) the named model, "" for the default of its kind.
using ModelAcquirer =
    std::function<std::shared_ptr<engine::LoadedModel>(const std::string& name, engine::ModelKind kind)>;

// What the services use; pointers are not owned and must outlive the service.
struct ServiceDeps {
  engine::ModelRegistry* registry = nullptr;  // required: default models
  StoreAccess* store = nullptr;               // null: every request fails Unavailable
  ResultCache* result_cache = nullptr;        // optional
  Reranker* reranker = nullptr;               // optional: the Retriever's rerank stage
  // Or, when `reranker` is null: the sentence reranker (rag/search/sentence_reranker.h) over
  // the embedding model acquired for each retrieval, so that it never outlives a model the
  // registry may unload (the server's way; the CLI owns its embedder and sets `reranker`).
  bool sentence_rerank = false;
  ModelAcquirer acquire;                      // empty: registry->acquire
};

struct RetrievalRequest {
  std::string query;
  std::string collection = "default";
  size_t top_k = 4;
  std::optional<SearchMode> mode;          // unset: hybrid with vectors, else bm25
  std::vector<std::string> filters;        // KEY=VALUE / KEY!=VALUE (metadata_filter.h)
  std::optional<double> min_score;
  ResultLevel level = ResultLevel::Chunks;
  std::string profile = "default";         // fast | default | quality
  std::optional<size_t> rerank_depth;      // candidates the reranker rescores; unset: the profile's
  std::optional<FusionMethod> fusion;      // hybrid only; unset: weighted
  bool use_cache = true;
  // Embed the query even when the mode does not need it (the semantic answer cache).
  bool embed_always = false;
};

struct Retrieval {
  Collection collection;
  uint64_t content_version = 0;
  SearchOptions options;                   // as searched (mode resolved)
  std::vector<SearchHit> hits;
  bool cache_hit = false;
  std::vector<float> query_embedding;      // empty when no embedder was used
  double embed_ms = 0, retrieve_ms = 0, rerank_ms = 0;
};

class RetrievalService {
 public:
  explicit RetrievalService(ServiceDeps deps);

  Retrieval retrieve(const RetrievalRequest& request) const;

  const ServiceDeps& deps() const { return deps_; }
  std::shared_ptr<engine::LoadedModel> acquire(const std::string& name, engine::ModelKind kind) const;

 private:
  SearchOptions search_options(const RetrievalRequest& r, const Collection& c) const;
  ServiceDeps deps_;
};

}  // namespace ragd::rag
