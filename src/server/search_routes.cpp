// POST /v1/search: retrieval only, through the same RetrievalService as RAG answers.
// Request (in the spirit of Qdrant's and Elasticsearch's search APIs):
//   {"collection": "docs", "query": "...", "top_k": 10, "level": "chunks" | "documents",
//    "mode": "hybrid", "fusion": "rrf", "profile": "fast", "filters": {"team": "search"},
//    "min_score": 0.2, "with_text": true}
// Response:
//   {"object": "search.result", "collection", "query", "mode", "level", "cache": "hit"|"miss"|"off",
//    "data": [{"rank", "score", "id", "document_id", "chunk_id", "title", "heading", "text",
//              "metadata", "bm25_score", "dense_score"}, ...],
//    "timings": {"embed", "retrieve", "rerank", "total"}}   (milliseconds)
#include "server/known_fields.h"
#include "server/rag_services.h"
#include "server/retrieval_request.h"
#include "server/routes.h"
#include "util/timing.h"

namespace ragd::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxSearchTopK = 1000;

json run_search(ServerContext& ctx, const json& body, const RequestInfo& info) {
  Stopwatch watch;
  static constexpr std::string_view kSearchFields[] = {"query", "collection", "with_text"};
  refuse_unknown_fields(body, {kSearchFields, kRetrievalFields}, "/v1/search");
  rag::RetrievalRequest r;
  r.top_k = 10;
  auto text = [&](const char* name) -> std::string {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) return "";
    if (!it->is_string()) throw bad_request(std::string("'") + name + "' must be a string", name);
    return it->get<std::string>();
  };
  r.query = text("query");
  if (r.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw bad_request("'query' is required: a non-empty string", "query");
  }
  r.collection = text("collection");
  if (r.collection.empty()) r.collection = ctx.options.default_collection;
  require_collection(info.key, r.collection);  // a key limited to other collections: 403
  parse_retrieval_fields(body, r, kMaxSearchTopK);
  bool with_text = true;
  if (auto it = body.find("with_text"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) throw bad_request("'with_text' must be true or false", "with_text");
    with_text = it->get<bool>();
  }
  rag::Retrieval result = map_service_errors([&] { return retrieval_service(ctx).retrieve(r); });
  observe_retrieval(ctx, result);
  json data = json::array();
  for (size_t i = 0; i < result.hits.size(); ++i) {
    json h = hit_json(result.hits[i], with_text);
    h["rank"] = i + 1;
    data.push_back(std::move(h));
  }
  return {{"object", "search.result"},
          {"collection", result.collection.name},
          {"query", r.query},
          {"mode", rag::search_mode_name(result.options.mode)},
          {"level", result.options.level == rag::ResultLevel::Documents ? "documents" : "chunks"},
          {"cache", !r.use_cache ? "off" : result.cache_hit ? "hit" : "miss"},
          {"data", data},
          {"timings",
           {{"embed", result.embed_ms}, {"retrieve", result.retrieve_ms}, {"rerank", result.rerank_ms},
            {"total", watch.millis()}}}};
}

}  // namespace

void register_search_routes(HttpServer& http, ServerContext& ctx) {
  http.post("/v1/search", "/v1/search",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
              send_json(res, 200, run_search(ctx, parse_json_body(req.body), info));
            }, Scope::Query);
}

}  // namespace ragd::server
