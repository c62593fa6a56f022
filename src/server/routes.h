// Route registration for `ragd serve`, one file per API area:
//   openai_routes.cpp    /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models
//   rag_routes.cpp       /v1/rag/query
//   document_routes.cpp  /v1/collections..., documents
//   admin_routes.cpp     /health, /ready, /metrics, /v1/cache, /v1/models/{name}/..., /v1/batch
// docs/api.md describes every endpoint. The run_* functions are the non-streamed cores of
// the generation endpoints, shared with /v1/batch; they throw ApiError for client errors.
#pragma once

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "server/server_context.h"

namespace ragd::server {

void register_openai_routes(HttpServer& http, ServerContext& ctx);
void register_rag_routes(HttpServer& http, ServerContext& ctx);
void register_search_routes(HttpServer& http, ServerContext& ctx);  // search_routes.cpp: /v1/search
void register_document_routes(HttpServer& http, ServerContext& ctx);
void register_admin_routes(HttpServer& http, ServerContext& ctx);
void register_rerank_routes(HttpServer& http, ServerContext& ctx);  // rerank_routes.cpp: /v1/rerank
void register_tokenize_routes(HttpServer& http, ServerContext& ctx);  // tokenize_routes.cpp: /tokenize, /detokenize
void register_ollama_routes(HttpServer& http, ServerContext& ctx);  // ollama_routes.cpp: Ollama's /api/...
void register_web_routes(HttpServer& http, ServerContext& ctx);  // web_routes.cpp: the web app at /

inline void register_all_routes(HttpServer& http, ServerContext& ctx) {
  register_openai_routes(http, ctx);
  register_rag_routes(http, ctx);
  register_search_routes(http, ctx);
  register_document_routes(http, ctx);
  register_admin_routes(http, ctx);
  register_rerank_routes(http, ctx);
  register_tokenize_routes(http, ctx);
  register_ollama_routes(http, ctx);
  register_web_routes(http, ctx);
}

nlohmann::json run_chat(ServerContext& ctx, const nlohmann::json& body, const RequestInfo& info);
nlohmann::json run_completion(ServerContext& ctx, const nlohmann::json& body, const RequestInfo& info);
nlohmann::json run_rag_query(ServerContext& ctx, const nlohmann::json& body, const RequestInfo& info);

}  // namespace ragd::server
