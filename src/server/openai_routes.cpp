// The OpenAI-compatible endpoints (see docs/api.md): chat and text completions (streamed
// as chat.completion.chunk / text_completion SSE chunks ending in data: [DONE]),
// embeddings, and the model list. A chat with a `collection` is RAG (server/rag_chat.h).
#include <cstring>
#include <filesystem>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/generation_stream.h"
#include "server/rag_chat.h"
#include "server/routes.h"

namespace ragd::server {
namespace {

using nlohmann::json;

json chat_response(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                   const engine::GenerationSummary& s) {
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason_string(s.finish)}}})},
          {"usage", usage_json(s)}};
}

json completion_response(const std::string& id, int64_t created, const std::string& model, const std::string& text,
                         const engine::GenerationSummary& s) {
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", model},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", json::array({{{"index", 0},
                                    {"text", text},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason_string(s.finish)}}})},
          {"usage", usage_json(s)}};
}

// A whole (non-streamed) generation: the text, its summary (a failure has been thrown as
// ApiError) and the model's name. `prompt_of` turns the acquired model into prompt ids.
struct WholeGeneration {
  std::string text;
  engine::GenerationSummary summary;
  std::string model_name;
};

template <typename PromptOf>
WholeGeneration generate_whole(ServerContext& ctx, const GenerationParams& gen, const RequestInfo& info,
                               const char* endpoint, PromptOf prompt_of) {
  if (gen.stream) throw bad_request("streaming is not available here (batch requests)", "stream");
  auto model = ctx.acquire(gen.model, engine::ModelKind::Llm);
  Generation g = start_generation(ctx, model, prompt_of(*model->llm), gen, info.user_for(gen.user), endpoint);
  WholeGeneration out{g.stream->wait_all(), {}, g.model_name};
  out.summary = finish_generation(ctx, g);
  throw_if_failed(out.summary);
  return out;
}

// A whole (non-streamed) chat reply; `body` is what `req` was parsed from.
json chat_reply(ServerContext& ctx, const ChatRequest& req, const json& body, const RequestInfo& info) {
  if (req.gen.stream) throw bad_request("streaming is not available here (batch requests)", "stream");
  if (is_rag_chat(body)) return run_rag_chat(ctx, body, info);
  auto w = generate_whole(ctx, req.gen, info, "/v1/chat/completions",
                          [&](const engine::Llm& llm) { return chat_prompt_tokens(llm, req.messages); });
  return chat_response(random_id("chatcmpl-"), unix_time(), w.model_name, w.text, w.summary);
}

json completion_reply(ServerContext& ctx, const CompletionRequest& req, const RequestInfo& info) {
  auto w = generate_whole(ctx, req.gen, info, "/v1/completions",
                          [&](const engine::Llm& llm) { return completion_prompt_tokens(llm, req.prompt); });
  if (req.echo) w.text = req.prompt + w.text;
  return completion_response(random_id("cmpl-"), unix_time(), w.model_name, w.text, w.summary);
}

void handle_chat(ServerContext& ctx, const httplib::Request& http, httplib::Response& res, const RequestInfo& info) {
  json body = parse_json_body(http.body);
  ChatRequest req = parse_chat_request(body, ctx.options.generation, http.body);
  if (!req.gen.stream) {
    send_json(res, 200, chat_reply(ctx, req, body, info));
    return;
  }
  if (is_rag_chat(body)) {  // answered from a collection's documents (server/rag_chat.h)
    stream_rag_chat(ctx, body, info, res);
    return;
  }
  auto model = ctx.acquire(req.gen.model, engine::ModelKind::Llm);
  auto prompt = chat_prompt_tokens(*model->llm, req.messages);
  auto g = std::make_shared<Generation>(
      start_generation(ctx, model, std::move(prompt), req.gen, info.user_for(req.gen.user), "/v1/chat/completions"));
  std::string id = random_id("chatcmpl-");
  int64_t created = unix_time();
  std::string name = g->model_name;
  auto chunk = [id, created, name](json delta, json finish) {
    return json{{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", name},
                {"system_fingerprint", "ragd-0.1.0"},
                {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
  };
  StreamShape shape;
  shape.first = [chunk] { return chunk({{"role", "assistant"}, {"content", ""}}, nullptr); };
  shape.delta = [chunk](const std::string& text) { return chunk({{"content", text}}, nullptr); };
  shape.final = [chunk](const engine::GenerationSummary& s) {
    return chunk(json::object(), finish_reason_string(s.finish));
  };
  if (req.gen.include_usage) {
    shape.usage = [id, created, name](const engine::GenerationSummary& s) {
      return json{{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
                  {"model", name},  {"choices", json::array()},          {"usage", usage_json(s)}};
    };
  }
  stream_generation(res, ctx, g, shape, StreamFormat::Sse);
}

void handle_completion(ServerContext& ctx, const httplib::Request& http, httplib::Response& res,
                       const RequestInfo& info) {
  json body = parse_json_body(http.body);
  CompletionRequest req = parse_completion_request(body, ctx.options.generation, http.body);
  if (!req.gen.stream) {
    send_json(res, 200, completion_reply(ctx, req, info));
    return;
  }
  auto model = ctx.acquire(req.gen.model, engine::ModelKind::Llm);
  auto prompt = completion_prompt_tokens(*model->llm, req.prompt);
  auto g = std::make_shared<Generation>(
      start_generation(ctx, model, std::move(prompt), req.gen, info.user_for(req.gen.user), "/v1/completions"));
  std::string id = random_id("cmpl-");
  int64_t created = unix_time();
  std::string name = g->model_name;
  auto chunk = [id, created, name](const std::string& text, json finish) {
    return json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", name},
                {"choices", json::array({{{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
  };
  StreamShape shape;
  std::string echo = req.echo ? req.prompt : "";
  shape.first = [chunk, echo] { return echo.empty() ? json() : chunk(echo, nullptr); };
  shape.delta = [chunk](const std::string& text) { return chunk(text, nullptr); };
  shape.final = [chunk](const engine::GenerationSummary& s) { return chunk("", finish_reason_string(s.finish)); };
  if (req.gen.include_usage) {
    shape.usage = [id, created, name](const engine::GenerationSummary& s) {
      return json{{"id", id}, {"object", "text_completion"}, {"created", created},
                  {"model", name}, {"choices", json::array()}, {"usage", usage_json(s)}};
    };
  }
  stream_generation(res, ctx, g, shape, StreamFormat::Sse);
}

void handle_embeddings(ServerContext& ctx, const httplib::Request& http, httplib::Response& res, const RequestInfo&) {
  EmbeddingRequest req = parse_embedding_request(parse_json_body(http.body));
  auto model = ctx.acquire(req.model, engine::ModelKind::Embedder);
  auto& service = *model->embedder;
  auto vectors = service.embed(req.inputs);
  size_t tokens = 0;
  for (const auto& text : req.inputs) tokens += service.tokenize(text).size();
  json data = json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    json embedding;
    if (req.base64) {
      // Little-endian float32, as the openai client decodes it (x86 is little-endian).
      embedding = base64_encode({reinterpret_cast<const char*>(vectors[i].data()), vectors[i].size() * sizeof(float)});
    } else {
      embedding = vectors[i];
    }
    data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", embedding}});
  }
  send_json(res, 200,
            {{"object", "list"},
             {"data", data},
             {"model", model->spec.name},
             {"usage", {{"prompt_tokens", tokens}, {"total_tokens", tokens}}}});
}

// One /v1/models entry. The file is named without its directory: clients need the id, and
// an absolute path tells a caller about the server's file system.
json model_entry(const engine::ModelStatus& s) {
  return {{"id", s.spec.name},
          {"object", "model"},
          {"created", 0},
          {"owned_by", "ragd"},
          {"ragd",
           {{"kind", engine::model_kind_name(s.spec.kind)},
            {"loaded", s.loaded},
            {"pinned", s.spec.pinned},
            {"quantization", s.quantization},
            {"memory_bytes", s.memory_bytes},
            {"load_seconds", s.load_seconds},
            {"uses", s.uses},
            {"idle_seconds", s.idle_seconds},
            {"keep_alive_seconds", s.spec.keep_alive_seconds},
            {"file", std::filesystem::path(s.spec.path).filename().string()}}}};
}

void handle_models(ServerContext& ctx, const httplib::Request&, httplib::Response& res, const RequestInfo&) {
  json data = json::array();
  for (const auto& s : ctx.registry.status()) data.push_back(model_entry(s));
  send_json(res, 200, {{"object", "list"}, {"data", data}});
}

// GET /v1/models/{id}: one model in the shape of a /v1/models entry (OpenAI's retrieve
// model); installed models are found by name too.
void handle_model(ServerContext& ctx, const std::string& id, httplib::Response& res) {
  if (ctx.registry.contains(id)) {
    for (const auto& s : ctx.registry.status()) {
      if (s.spec.name != id) continue;
      send_json(res, 200, model_entry(s));
      return;
    }
  }
  throw ApiError(404, "model '" + id + "' does not exist (GET /v1/models lists them)", "", "model",
                 "model_not_found");
}

}  // namespace

json run_chat(ServerContext& ctx, const json& body, const RequestInfo& info) {
  return chat_reply(ctx, parse_chat_request(body, ctx.options.generation), body, info);
}

json run_completion(ServerContext& ctx, const json& body, const RequestInfo& info) {
  return completion_reply(ctx, parse_completion_request(body, ctx.options.generation), info);
}

void register_openai_routes(HttpServer& http, ServerContext& ctx) {
  auto bind = [&ctx](auto fn) {
    return [&ctx, fn](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
      fn(ctx, req, res, info);
    };
  };
  http.post("/v1/chat/completions", "/v1/chat/completions", bind(handle_chat), Scope::Query);
  http.post("/v1/completions", "/v1/completions", bind(handle_completion), Scope::Query);
  http.post("/v1/embeddings", "/v1/embeddings", bind(handle_embeddings), Scope::Query);
  http.get("/v1/models", "/v1/models", bind(handle_models), Scope::Query);
  http.get(R"(/v1/models/([^/]+))", "/v1/models/{id}",
           [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo&) {
             handle_model(ctx, req.matches[1], res);
           },
           Scope::Query);
}

}  // namespace ragd::server
