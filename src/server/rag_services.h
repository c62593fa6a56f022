// The rag/ use cases (retrieval, answering) as the routes see them: built over the
// server's registry, store and caches, with models acquired through ServerContext (HTTP
// errors, metrics observers), and their ServiceErrors mapped to HTTP statuses.
#pragma once

#include <nlohmann/json.hpp>

#include "rag/answer/answer_service.h"
#include "rag/answer/service_error.h"
#include "server/api_error.h"
#include "server/server_context.h"

namespace ragd::server {

rag::ServiceDeps service_deps(ServerContext& ctx);
rag::AnswerService answer_service(ServerContext& ctx);
rag::RetrievalService retrieval_service(ServerContext& ctx);

// 400/404/503/429/500 by kind, with the request field and Retry-After carried over.
ApiError api_error(const rag::ServiceError& e);

// Runs fn, rethrowing a ServiceError as its ApiError.
template <typename F>
auto map_service_errors(F&& fn) {
  try {
    return fn();
  } catch (const rag::ServiceError& e) {
    throw api_error(e);
  }
}

// Records the stage metrics of a retrieval (query embedding and search durations).
void observe_retrieval(ServerContext& ctx, const rag::Retrieval& r);

// The JSON of a hit as /v1/search and the RAG sources show it.
nlohmann::json hit_json(const rag::SearchHit& hit, bool with_text = true);

}  // namespace ragd::server
