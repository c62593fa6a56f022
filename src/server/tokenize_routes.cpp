// POST /tokenize and POST /detokenize, as llama-server offers them:
//   /tokenize   {"content": "...", "add_special": false, "parse_special": true,
//                "with_pieces": false, "model": "..."}
//            → {"tokens": [ids]}  or, with_pieces, {"tokens": [{"id", "piece"}]} where a
//              piece that is not valid UTF-8 on its own (a byte token) is an array of bytes
//   /detokenize {"tokens": [ids], "model": "..."} → {"content": "..."}
// `model` names a language model or an embedder (each has its own vocabulary); without it
// the default language model. Special tokens are rendered by /detokenize and in pieces, as
// llama-server does; an id outside the vocabulary is a 400 naming it.
#include <fmt/format.h>

#include "model/tokenizer_unicode.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/known_fields.h"
#include "server/request_parsing.h"
#include "server/routes.h"

namespace ragd::server {
namespace {

using nlohmann::json;

constexpr std::string_view kTokenizeFields[] = {"model", "content", "add_special", "parse_special", "with_pieces"};
constexpr std::string_view kDetokenizeFields[] = {"model", "tokens"};

// The tokenizer of the named model, kept alive with it.
struct ModelTokenizer {
  std::shared_ptr<engine::LoadedModel> model;
  const model::Tokenizer* tokenizer = nullptr;
};

ModelTokenizer tokenizer_for(ServerContext& ctx, const std::string& name) {
  engine::ModelKind kind = engine::ModelKind::Llm;
  for (const auto& s : ctx.registry.status()) {
    if (s.spec.name == name) kind = s.spec.kind;
  }
  ModelTokenizer t;
  t.model = ctx.acquire(name, kind);
  t.tokenizer = kind == engine::ModelKind::Llm ? local_llm(*t.model, "tokenization").tokenizer.get() : &t.model->embedder->tokenizer();
  return t;
}

bool bool_field(const json& body, const char* name, bool fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw bad_request(fmt::format("'{}' must be true or false", name), name);
  return it->get<bool>();
}

json piece_json(const std::string& piece) {
  if (model::unicode::valid_utf8_prefix(piece) == piece.size()) return piece;
  json bytes = json::array();
  for (unsigned char c : piece) bytes.push_back(c);
  return bytes;
}

void handle_tokenize(ServerContext& ctx, const httplib::Request& http, httplib::Response& res) {
  json body = parse_json_body(http.body);
  refuse_unknown_fields(body, {kTokenizeFields}, "/tokenize");
  auto it = body.find("content");
  if (it == body.end() || !it->is_string()) throw bad_request("'content' is required: the text to tokenize", "content");
  const bool add_special = bool_field(body, "add_special", false);
  const bool parse_special = bool_field(body, "parse_special", true);
  const bool with_pieces = bool_field(body, "with_pieces", false);
  auto t = tokenizer_for(ctx, string_field(body, "model"));
  auto ids = t.tokenizer->encode(it->get<std::string>(), add_special, parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (with_pieces) {
      tokens.push_back({{"id", id}, {"piece", piece_json(t.tokenizer->token_to_piece(id, true))}});
    } else {
      tokens.push_back(id);
    }
  }
  send_json(res, 200, {{"tokens", tokens}});
}

void handle_detokenize(ServerContext& ctx, const httplib::Request& http, httplib::Response& res) {
  json body = parse_json_body(http.body);
  refuse_unknown_fields(body, {kDetokenizeFields}, "/detokenize");
  auto it = body.find("tokens");
  if (it == body.end() || !it->is_array()) throw bad_request("'tokens' is required: an array of token ids", "tokens");
  auto t = tokenizer_for(ctx, string_field(body, "model"));
  const size_t vocab = t.tokenizer->vocab_size();
  std::vector<int32_t> ids;
  for (const auto& v : *it) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= static_cast<int64_t>(vocab)) {
      throw bad_request(fmt::format("'tokens' holds {}, which is not a token id of this model (vocabulary: {} tokens)",
                                    v.dump(), vocab),
                        "tokens");
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  send_json(res, 200, {{"content", t.tokenizer->decode(ids, /*render_special=*/true)}});
}

}  // namespace

void register_tokenize_routes(HttpServer& http, ServerContext& ctx) {
  http.post("/tokenize", "/tokenize",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
              handle_tokenize(ctx, req, res);
            },
            Scope::Query);
  http.post("/detokenize", "/detokenize",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
              handle_detokenize(ctx, req, res);
            },
            Scope::Query);
}

}  // namespace ragd::server
