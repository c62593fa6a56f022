#include "rag/answer/retrieval_service.h"

#include <algorithm>

#include "rag/answer/service_error.h"
#include "rag/ingest/embed_chunks.h"
#include "rag/search/model_embedder.h"
#include "rag/search/sentence_reranker.h"
#include "util/timing.h"

namespace ragd::rag {
namespace {

// The Embedder the Retriever sees: the query vector was computed before the store lock
// was taken, so embed_query hands it back.
class PrecomputedQueryEmbedder final : public Embedder {
 public:
  PrecomputedQueryEmbedder(std::string name, std::vector<float> query)
      : name_(std::move(name)), query_(std::move(query)) {}
  std::string name() const override { return name_; }
  size_t dim() const override { return query_.size(); }
  std::vector<float> embed_query(std::string_view) override { return query_; }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>&) override {
    throw Error("internal: passages are not embedded while answering a query");
  }

 private:
  std::string name_;
  std::vector<float> query_;
};

}  // namespace

RetrievalService::RetrievalService(ServiceDeps deps) : deps_(std::move(deps)) {
  if (!deps_.registry) throw Error("internal: RetrievalService needs a model registry");
}

std::shared_ptr<engine::LoadedModel> RetrievalService::acquire(const std::string& name,
                                                               engine::ModelKind kind) const {
  if (deps_.acquire) return deps_.acquire(name, kind);
  std::string n = name;
  if (n.empty()) {
    auto d = deps_.registry->default_model(kind);
    if (!d) {
      throw ServiceError(ServiceErrorKind::Unavailable,
                         std::string("no ") + (kind == engine::ModelKind::Llm ? "language" : "embedding") +
                             " model is configured");
    }
    n = *d;
  }
  return deps_.registry->acquire(n, kind);
}

SearchOptions RetrievalService::search_options(const RetrievalRequest& r, const Collection& c) const {
  const bool has_vectors = c.embedding_dim > 0;
  SearchOptions o;
  o.mode = r.mode.value_or(has_vectors ? SearchMode::Hybrid : SearchMode::Bm25);
  if (o.mode != SearchMode::Bm25 && !has_vectors) {
    throw ServiceError(ServiceErrorKind::BadRequest,
                       "collection '" + c.name + "' has no embeddings, so only mode \"bm25\" works", "mode");
  }
  if (r.top_k == 0) throw ServiceError(ServiceErrorKind::BadRequest, "top_k must be at least 1", "top_k");
  o.top_k = r.top_k;
  o.min_score = r.min_score;
  o.level = r.level;
  if (r.fusion) o.fusion = *r.fusion;
  try {
    o.profile = search_profile(r.profile);
    if (r.rerank_depth) o.profile.rerank_candidates = *r.rerank_depth;
  } catch (const Error& e) {
    throw ServiceError(ServiceErrorKind::BadRequest, e.what(), "profile");
  }
  for (const auto& f : r.filters) {
    try {
      o.filters.push_back(MetadataFilter::parse(f));
    } catch (const Error& e) {
      throw ServiceError(ServiceErrorKind::BadRequest, e.what(), "filters");
    }
  }
  return o;
}

Retrieval RetrievalService::retrieve(const RetrievalRequest& r) const {
  if (!deps_.store) {
    throw ServiceError(ServiceErrorKind::Unavailable, "this server has no document store (ragd serve --db DIR)");
  }
  StoreAccess& store = *deps_.store;
  Retrieval out;
  auto found = store.read([&](Store& s) {
    auto c = s.find_collection(r.collection);
    if (c) out.content_version = s.content_version(c->id);
    return c;
  });
  if (!found) {
    throw ServiceError(ServiceErrorKind::NotFound,
                       "collection '" + r.collection + "' does not exist (GET /v1/collections)", "collection");
  }
  out.collection = *found;
  out.options = search_options(r, out.collection);
  const SearchOptions& opts = out.options;
  const bool has_vectors = out.collection.embedding_dim > 0;
  const bool dense = opts.mode != SearchMode::Bm25;

  std::unique_ptr<ModelEmbedder> embedder;
  const bool sentence_rerank = !deps_.reranker && deps_.sentence_rerank;
  if ((dense || r.embed_always || sentence_rerank) && deps_.registry->default_model(engine::ModelKind::Embedder)) {
    embedder = std::make_unique<ModelEmbedder>(acquire("", engine::ModelKind::Embedder)->embedder);
    if (has_vectors) {
      try {
        check_embedder_matches(out.collection, *embedder);
      } catch (const Error& e) {
        if (dense) throw ServiceError(ServiceErrorKind::BadRequest, e.what(), "collection");
        embedder.reset();  // BM25 still works; only the query embedding is lost
      }
    }
    if (embedder) {
      Stopwatch w;
      out.query_embedding = embedder->embed_query(r.query);
      out.embed_ms = w.millis();
    }
  }
  if (dense && !embedder) {
    throw ServiceError(ServiceErrorKind::Unavailable,
                       "mode \"" + std::string(search_mode_name(opts.mode)) + "\" needs an embedding model", "mode");
  }
  std::optional<SentenceReranker> per_request;
  if (sentence_rerank && embedder) per_request.emplace(*embedder);
  Reranker* reranker = deps_.reranker ? deps_.reranker : per_request ? &*per_request : nullptr;
  ResultCacheKey key{out.collection.name, out.content_version, r.query, opts.mode, opts.top_k,
                     search_options_key(opts) + "|rerank=" + (reranker ? reranker->name() : "")};
  const bool cache = r.use_cache && deps_.result_cache;
  if (cache) {
    if (auto hits = deps_.result_cache->get(key)) {
      out.hits = *hits;
      out.cache_hit = true;
      return out;
    }
  }
  SearchTimings t;
  out.hits = store.read([&](Store& s) {
    CollectionVectors* vectors = dense ? store.vectors(out.collection) : nullptr;
    PrecomputedQueryEmbedder fixed(embedder ? embedder->name() : "", out.query_embedding);
    Retriever retriever(s, out.collection, embedder ? &fixed : nullptr, vectors, reranker);
    return retriever.search(r.query, opts, &t);
  });
  out.retrieve_ms = std::max(0.0, t.total_ms - t.embed_ms - t.rerank_ms);
  out.rerank_ms = t.rerank_ms;
  if (cache) deps_.result_cache->put(key, out.hits);
  return out;
}

}  // namespace ragd::rag
