// The OpenAI-compatible endpoints (see docs/api.md): chat and text completions (streamed
// as chat.completion.chunk / text_completion SSE chunks ending in data: [DONE]; `n`
// choices as n sequences, per-token `logprobs` from the sampler),
// embeddings, and the model list. A chat with a `collection` is RAG (server/rag_chat.h).
// Chat with `tools` returns calls as `tool_calls` (whole, or streamed as tool_calls deltas:
// each call's id and name first, then its arguments), finish_reason "tool_calls"
// (server/tool_calls.h).
#include <cstring>
#include <filesystem>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/generation_logprobs.h"
#include "server/generation_stream.h"
#include "server/rag_chat.h"
#include "server/routes.h"
#include "server/tool_calls.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// One choice of a whole (non-streamed) generation.
struct Choice {
  std::string text;
  engine::GenerationSummary summary;
  std::vector<engine::TokenLogprobs> logprobs;  // when the request asked for them
};

// A whole (non-streamed) generation: its choices (a failure has been thrown as ApiError),
// the model (for the tokenizer that names logprob tokens) and the model's name.
struct WholeGeneration {
  std::vector<Choice> choices;
  std::shared_ptr<engine::LoadedModel> model;
  std::string model_name;

  std::vector<engine::GenerationSummary> summaries() const {
    std::vector<engine::GenerationSummary> out;
    for (const auto& c : choices) out.push_back(c.summary);
    return out;
  }
};

json tool_calls_json(const std::vector<ToolCall>& calls) {
  json out = json::array();
  for (const auto& c : calls) {
    out.push_back({{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
  }
  return out;
}

json chat_response(const std::string& id, int64_t created, const WholeGeneration& w, bool logprobs,
                   const ToolRequest& tools) {
  json choices = json::array();
  for (size_t i = 0; i < w.choices.size(); ++i) {
    const Choice& c = w.choices[i];
    json message = {{"role", "assistant"}, {"content", c.text}};
    std::string finish = finish_reason_string(c.summary.finish);
    if (tools.active()) {
      ParsedReply reply = parse_reply(tools, c.text);
      message["content"] = reply.content ? json(*reply.content) : json();
      if (!reply.calls.empty()) {
        message["tool_calls"] = tool_calls_json(reply.calls);
        finish = "tool_calls";
      }
    }
    choices.push_back(
        {{"index", i},
         {"message", std::move(message)},
         {"logprobs", logprobs ? json{{"content", chat_logprobs_content(*w.model->llm->tokenizer, c.logprobs)}} : json()},
         {"finish_reason", std::move(finish)}});
  }
  return {{"id", id},
          {"object", "chat.completion"},
          {"created", created},
          {"model", w.model_name},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", std::move(choices)},
          {"usage", usage_json(w.summaries())}};
}

json completion_response(const std::string& id, int64_t created, const WholeGeneration& w, const std::string& echo,
                         bool logprobs) {
  json choices = json::array();
  for (size_t i = 0; i < w.choices.size(); ++i) {
    const Choice& c = w.choices[i];
    size_t offset = utf8_length(echo);
    choices.push_back({{"index", i},
                       {"text", echo + c.text},
                       {"logprobs", logprobs ? completion_logprobs(*w.model->llm->tokenizer, c.logprobs, offset) : json()},
                       {"finish_reason", finish_reason_string(c.summary.finish)}});
  }
  return {{"id", id},
          {"object", "text_completion"},
          {"created", created},
          {"model", w.model_name},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", std::move(choices)},
          {"usage", usage_json(w.summaries())}};
}

// gen.n choices of `prompt` are generated.
WholeGeneration generate_whole(ServerContext& ctx, const GenerationParams& gen, const RequestInfo& info,
                               const char* endpoint, const PromptInput& prompt) {
  if (gen.stream) throw bad_request("streaming is not available here (batch requests)", "stream");
  WholeGeneration out;
  out.model = ctx.acquire(gen.model, engine::ModelKind::Llm);
  auto gens = start_generations(ctx, out.model, prompt, gen, info.user_for(gen.user), endpoint);
  out.model_name = gens.front()->model_name;
  for (auto& g : gens) {
    Choice c;
    c.text = g->stream->wait_all(&c.logprobs);
    c.summary = finish_generation(ctx, *g);
    out.choices.push_back(std::move(c));
  }
  for (const auto& c : out.choices) throw_if_failed(c.summary);
  return out;
}

// A whole (non-streamed) chat reply; `body` is what `req` was parsed from.
json chat_reply(ServerContext& ctx, const ChatRequest& req, const json& body, const RequestInfo& info) {
  if (req.gen.stream) throw bad_request("streaming is not available here (batch requests)", "stream");
  if (is_rag_chat(body)) return run_rag_chat(ctx, body, info);
  auto w = generate_whole(ctx, req.gen, info, "/v1/chat/completions", chat_input(req));
  return chat_response(random_id("chatcmpl-"), unix_time(), w, req.gen.options.logprobs >= 0, req.tools);
}

json completion_reply(ServerContext& ctx, const CompletionRequest& req, const RequestInfo& info) {
  auto w = generate_whole(ctx, req.gen, info, "/v1/completions", completion_input(req.prompt));
  return completion_response(random_id("cmpl-"), unix_time(), w, req.echo ? req.prompt : "",
                             req.gen.options.logprobs >= 0);
}

// Streams with tools: each choice's text goes through a ToolCallSplitter, so markup is held
// back and each call is sent once complete: a delta with its index, id, type and name (empty
// arguments), then one with its arguments; the final chunk says "tool_calls" when a call was
// made. `chunk(index, delta, logprobs, finish)` builds one chunk.
template <typename Chunk>
void add_tool_calls(ChoiceStreamShape& shape, Chunk chunk, const ToolRequest& tools, size_t n) {
  struct State {
    std::vector<ToolCallSplitter> splitters;
    std::vector<size_t> sent;  // calls sent per choice: the next call's index
  };
  auto st = std::make_shared<State>();
  for (size_t i = 0; i < n; ++i) st->splitters.emplace_back(tools.constrained(), tools.allowed_names(), tools.parallel);
  st->sent.assign(n, 0);
  auto chunks_of = [st, chunk](size_t i, const std::vector<ToolCallSplitter::Event>& events) {
    json out = json::array();
    for (const auto& e : events) {
      if (!e.is_call) {
        out.push_back(chunk(i, {{"content", e.text}}, nullptr, nullptr));
        continue;
      }
      const size_t index = st->sent[i]++;
      json head = {{"index", index}, {"id", e.call.id}, {"type", "function"},
                   {"function", {{"name", e.call.name}, {"arguments", ""}}}};
      out.push_back(chunk(i, {{"tool_calls", json::array({head})}}, nullptr, nullptr));
      json args = {{"index", index}, {"function", {{"arguments", e.call.arguments}}}};
      out.push_back(chunk(i, {{"tool_calls", json::array({args})}}, nullptr, nullptr));
    }
    return out;
  };
  shape.delta = [st, chunks_of](size_t i, const std::string& text, const std::vector<engine::TokenLogprobs>&) {
    return chunks_of(i, st->splitters[i].feed(text));
  };
  shape.final = [st, chunk, chunks_of](size_t i, const engine::GenerationSummary& s,
                                       const std::vector<engine::TokenLogprobs>&) {
    json out = chunks_of(i, st->splitters[i].finish());
    const std::string finish = st->sent[i] > 0 ? std::string("tool_calls") : finish_reason_string(s.finish);
    out.push_back(chunk(i, json::object(), nullptr, finish));
    return out;
  };
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
  auto gens = start_generations(ctx, model, chat_input(req), req.gen, info.user_for(req.gen.user), "/v1/chat/completions");
  std::string id = random_id("chatcmpl-");
  int64_t created = unix_time();
  std::string name = gens.front()->model_name;
  const bool want_logprobs = req.gen.options.logprobs >= 0;
  auto chunk = [id, created, name](size_t index, json delta, json logprobs, json finish) {
    return json{{"id", id},
                {"object", "chat.completion.chunk"},
                {"created", created},
                {"model", name},
                {"system_fingerprint", "ragd-0.1.0"},
                {"choices", json::array({{{"index", index},
                                          {"delta", std::move(delta)},
                                          {"logprobs", std::move(logprobs)},
                                          {"finish_reason", std::move(finish)}}})}};
  };
  // A chunk's logprobs: those of its tokens when asked for (possibly none), else null.
  auto logprobs_of = [model, want_logprobs](const std::vector<engine::TokenLogprobs>& lps) {
    return want_logprobs ? json{{"content", chat_logprobs_content(*model->llm->tokenizer, lps)}} : json();
  };
  ChoiceStreamShape shape;
  shape.first = [chunk](size_t i) { return chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr); };
  shape.delta = [chunk, logprobs_of](size_t i, const std::string& text, const std::vector<engine::TokenLogprobs>& lps) {
    return chunk(i, {{"content", text}}, logprobs_of(lps), nullptr);
  };
  shape.final = [chunk, logprobs_of](size_t i, const engine::GenerationSummary& s,
                                     const std::vector<engine::TokenLogprobs>& rest) {
    return chunk(i, json::object(), rest.empty() ? json() : logprobs_of(rest), finish_reason_string(s.finish));
  };
  if (req.tools.active()) add_tool_calls(shape, chunk, req.tools, gens.size());
  if (req.gen.include_usage) {
    shape.usage = [id, created, name](const std::vector<engine::GenerationSummary>& s) {
      return json{{"id", id},       {"object", "chat.completion.chunk"}, {"created", created},
                  {"model", name},  {"choices", json::array()},          {"usage", usage_json(s)}};
    };
  }
  stream_choices(res, ctx, std::move(gens), std::move(shape), StreamFormat::Sse);
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
  auto gens = start_generations(ctx, model, completion_input(req.prompt), req.gen, info.user_for(req.gen.user),
                                "/v1/completions");
  std::string id = random_id("cmpl-");
  int64_t created = unix_time();
  std::string name = gens.front()->model_name;
  const bool want_logprobs = req.gen.options.logprobs >= 0;
  auto chunk = [id, created, name](size_t index, const std::string& text, json logprobs, json finish) {
    return json{{"id", id},
                {"object", "text_completion"},
                {"created", created},
                {"model", name},
                {"choices", json::array({{{"index", index},
                                          {"text", text},
                                          {"logprobs", std::move(logprobs)},
                                          {"finish_reason", std::move(finish)}}})}};
  };
  std::string echo = req.echo ? req.prompt : "";
  // Each choice's text_offset continues across its chunks, from the echoed prompt's end.
  auto offsets = std::make_shared<std::vector<size_t>>(gens.size(), utf8_length(echo));
  auto logprobs_of = [model, want_logprobs, offsets](size_t i, const std::vector<engine::TokenLogprobs>& lps) {
    return want_logprobs ? completion_logprobs(*model->llm->tokenizer, lps, (*offsets)[i]) : json();
  };
  ChoiceStreamShape shape;
  shape.first = [chunk, echo](size_t i) { return echo.empty() ? json() : chunk(i, echo, nullptr, nullptr); };
  shape.delta = [chunk, logprobs_of](size_t i, const std::string& text, const std::vector<engine::TokenLogprobs>& lps) {
    return chunk(i, text, logprobs_of(i, lps), nullptr);
  };
  shape.final = [chunk, logprobs_of](size_t i, const engine::GenerationSummary& s,
                                     const std::vector<engine::TokenLogprobs>& rest) {
    return chunk(i, "", rest.empty() ? json() : logprobs_of(i, rest), finish_reason_string(s.finish));
  };
  if (req.gen.include_usage) {
    shape.usage = [id, created, name](const std::vector<engine::GenerationSummary>& s) {
      return json{{"id", id}, {"object", "text_completion"}, {"created", created},
                  {"model", name}, {"choices", json::array()}, {"usage", usage_json(s)}};
    };
  }
  stream_choices(res, ctx, std::move(gens), std::move(shape), StreamFormat::Sse);
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
  json entry = {{"id", s.spec.name},
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
  if (!s.spec.upstreams.empty()) {  // served by other servers (engine/upstream_model.h): their health
    json ups = json::array();
    for (const auto& e : s.spec.upstreams) {
      json u = {{"url", e.url}, {"model", e.model_id.empty() ? s.spec.name : e.model_id}};
      for (const auto& st : s.upstreams) {
        if (st.url != e.url) continue;
        u.update({{"up", st.up}, {"in_flight", st.in_flight}, {"requests", st.requests}, {"failures", st.failures},
                  {"last_error", st.last_error}});
        break;
      }
      ups.push_back(std::move(u));
    }
    entry["ragd"]["upstreams"] = std::move(ups);
  }
  return entry;
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
