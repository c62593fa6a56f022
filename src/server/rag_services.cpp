#include "server/rag_services.h"

namespace ragd::server {

rag::ServiceDeps service_deps(ServerContext& ctx) {
  rag::ServiceDeps d;
  d.registry = &ctx.registry;
  d.store = ctx.store.get();
  d.result_cache = &ctx.result_cache;
  d.sentence_rerank = ctx.options.sentence_rerank;
  d.acquire = [&ctx](const std::string& name, engine::ModelKind kind) { return ctx.acquire(name, kind); };
  return d;
}

rag::AnswerService answer_service(ServerContext& ctx) {
  rag::AnswerOptions o;
  o.prompt = ctx.options.prompt;
  o.answer_cache = &ctx.answer_cache;
  return rag::AnswerService(service_deps(ctx), std::move(o));
}

rag::RetrievalService retrieval_service(ServerContext& ctx) { return rag::RetrievalService(service_deps(ctx)); }

ApiError api_error(const rag::ServiceError& e) {
  using K = rag::ServiceErrorKind;
  switch (e.kind()) {
    case K::BadRequest: return bad_request(e.what(), e.param());
    case K::NotFound: return not_found(e.what(), e.param());
    case K::Unavailable: return ApiError(503, e.what(), "", e.param());
    case K::Overloaded: return ApiError(503, e.what(), "", "", "overloaded").with_retry_after(e.retry_after_seconds());
    case K::UserLimit: return ApiError(429, e.what(), "", "", "user_limit").with_retry_after(e.retry_after_seconds());
    case K::TooLong: return ApiError(400, e.what(), "", e.param(), "context_length_exceeded");
    case K::Failed: return ApiError(500, e.what());
  }
  return ApiError(500, e.what());
}

void observe_retrieval(ServerContext& ctx, const rag::Retrieval& r) {
  if (!r.query_embedding.empty() && r.embed_ms > 0) {
    ctx.metrics.observe("ragd_embedding_duration_seconds", {}, r.embed_ms / 1000);
  }
  if (!r.cache_hit) {
    ctx.metrics.observe("ragd_retrieval_duration_seconds", {{"mode", rag::search_mode_name(r.options.mode)}},
                        r.retrieve_ms / 1000);
  }
}

nlohmann::json hit_json(const rag::SearchHit& h, bool with_text) {
  nlohmann::json j = {{"id", h.external_id},   {"document_id", h.document_id}, {"chunk_id", h.chunk_id},
                      {"title", h.title},      {"heading", h.heading},         {"score", h.score},
                      {"bm25_score", h.bm25_score ? nlohmann::json(*h.bm25_score) : nlohmann::json(nullptr)},
                      {"dense_score", h.dense_score ? nlohmann::json(*h.dense_score) : nlohmann::json(nullptr)}};
  j["metadata"] = nlohmann::json::parse(h.metadata.empty() ? "{}" : h.metadata, nullptr, false);
  if (j["metadata"].is_discarded()) j["metadata"] = nlohmann::json::object();
  if (with_text) j["text"] = h.text;
  return j;
}

}  // namespace ragd::server
