// POST /v1/rerank: scores documents against a query, in the shape llama-server, vLLM, Jina
// and Cohere share:
//   request  {"model"?, "query", "documents": [string | {"text"}], "top_n"?, "return_documents"?}
//   response {"id", "object": "list", "model", "results": [{"index", "relevance_score",
//             "document"?: {"text"}}], "usage": {"prompt_tokens", "total_tokens"}}
// Results are sorted by relevance_score, best first (ties: lower index first), and cut to
// top_n. The scorer is rag::SentenceReranker over an embedding model: "model" may be
// omitted, "sentence", or the name of a registered embedding model; relevance_score is the
// best cosine similarity between the query and one sentence of the document, in [-1, 1].
// No cross-encoder is served: no registry ragd can reach ships one (docs/retrieval.md).
#include <algorithm>
#include <numeric>

#include "rag/search/model_embedder.h"
#include "rag/search/sentence_reranker.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/routes.h"

namespace ragd::server {
namespace {

using json = nlohmann::json;

// Each document is a separate embedding pass of its sentences; beyond this a client should
// first narrow its candidates with /v1/search.
constexpr size_t kMaxRerankDocuments = 256;

struct RerankRequest {
  std::string model;  // "" or "sentence": the default embedding model
  std::string query;
  std::vector<std::string> documents;
  size_t top_n = 0;   // 0: all
  bool return_documents = true;
};

RerankRequest parse_rerank_request(const json& body) {
  RerankRequest r;
  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) throw bad_request("'model' must be a string", "model");
    r.model = body["model"].get<std::string>();
    if (r.model == "sentence") r.model.clear();
  }
  if (!body.contains("query") || !body["query"].is_string() || body["query"].get<std::string>().empty()) {
    throw bad_request("'query' must be a non-empty string", "query");
  }
  r.query = body["query"].get<std::string>();
  if (!body.contains("documents") || !body["documents"].is_array() || body["documents"].empty()) {
    throw bad_request("'documents' must be a non-empty array of strings or {\"text\": ...} objects", "documents");
  }
  const json& docs = body["documents"];
  if (docs.size() > kMaxRerankDocuments) {
    throw bad_request("'documents' has " + std::to_string(docs.size()) + " entries; at most " +
                          std::to_string(kMaxRerankDocuments) + " can be reranked in one request",
                      "documents");
  }
  for (size_t i = 0; i < docs.size(); ++i) {
    const json& d = docs[i];
    if (d.is_string()) {
      r.documents.push_back(d.get<std::string>());
    } else if (d.is_object() && d.contains("text") && d["text"].is_string()) {
      r.documents.push_back(d["text"].get<std::string>());
    } else {
      throw bad_request("documents[" + std::to_string(i) + "] must be a string or an object with a string 'text'",
                        "documents");
    }
  }
  if (body.contains("top_n") && !body["top_n"].is_null()) {
    if (!body["top_n"].is_number_integer() || body["top_n"].get<int64_t>() < 1) {
      throw bad_request("'top_n' must be a positive integer", "top_n");
    }
    r.top_n = static_cast<size_t>(body["top_n"].get<int64_t>());
  }
  if (body.contains("return_documents") && !body["return_documents"].is_null()) {
    if (!body["return_documents"].is_boolean()) {
      throw bad_request("'return_documents' must be a boolean", "return_documents");
    }
    r.return_documents = body["return_documents"].get<bool>();
  }
  return r;
}

void handle_rerank(ServerContext& ctx, const httplib::Request& http, httplib::Response& res, const RequestInfo&) {
  RerankRequest req = parse_rerank_request(parse_json_body(http.body));
  auto model = ctx.acquire(req.model, engine::ModelKind::Embedder);
  rag::ModelEmbedder embedder(model->embedder);
  rag::SentenceReranker reranker(embedder);
  std::vector<std::string_view> texts(req.documents.begin(), req.documents.end());
  std::vector<double> scores = reranker.score(req.query, texts);

  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  if (req.top_n > 0 && req.top_n < order.size()) order.resize(req.top_n);
  json results = json::array();
  for (size_t i : order) {
    json r = {{"index", i}, {"relevance_score", scores[i]}};
    if (req.return_documents) r["document"] = {{"text", req.documents[i]}};
    results.push_back(std::move(r));
  }
  size_t tokens = model->embedder->tokenize(req.query).size();
  for (const auto& d : req.documents) tokens += model->embedder->tokenize(d).size();
  send_json(res, 200,
            {{"id", random_id("rerank-")},
             {"object", "list"},
             {"model", reranker.name() + ":" + model->spec.name},
             {"results", results},
             {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

}  // namespace

void register_rerank_routes(HttpServer& http, ServerContext& ctx) {
  http.post("/v1/rerank", "/v1/rerank",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
              handle_rerank(ctx, req, res, info);
            },
            Scope::Query);
}

}  // namespace ragd::server
