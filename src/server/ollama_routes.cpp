// Ollama's API (https://github.com/ollama/ollama/blob/main/docs/api.md), so that tools
// built for Ollama (Open WebUI, editors, agents, the `ollama` Python package) talk to ragd:
//   POST /api/chat, /api/generate   streamed as NDJSON by default; the last object has
//                                   done: true, done_reason and the counts and durations (ns)
//   POST /api/embed, /api/embeddings
//   GET  /api/tags, /api/ps, /api/version;  POST /api/show, /api/pull
// Requests are parsed by server/ollama_request.h and generated on the same path as the
// OpenAI endpoints (start_generation, stream_generation). Errors are Ollama's shape,
// {"error": "..."} with the status of the equivalent OpenAI error.
//
// /api/pull installs a catalog model into the server's model directory (server/ollama_pull.h).
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include "engine/model_store.h"
#include "model/gguf.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/generation_logprobs.h"
#include "server/generation_stream.h"
#include "server/known_fields.h"
#include "server/ollama_pull.h"
#include "server/ollama_request.h"
#include "server/ollama_template.h"
#include "server/routes.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::server {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr const char* kVersion = "0.1.0";  // ragd's version (as in `ragd --version`)

int64_t nanos(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

// RFC 3339 in UTC with microseconds, as Ollama writes created_at / modified_at.
std::string iso_time(Clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
}

std::string modified_at(const std::string& path) {
  std::error_code ec;
  auto t = std::filesystem::last_write_time(path, ec);
  return iso_time(ec ? Clock::time_point{} : std::chrono::file_clock::to_sys(t));
}

// Runs a handler, answering its errors in Ollama's shape.
template <typename F>
void with_ollama_errors(httplib::Response& res, F&& handler) {
  try {
    handler();
  } catch (const ApiError& e) {
    if (e.retry_after() > 0) res.set_header("Retry-After", std::to_string(static_cast<long>(e.retry_after() + 0.999)));
    send_json(res, e.status(), {{"error", redact_paths(e.what())}});
  } catch (const nlohmann::json::exception&) {
    send_json(res, 400, {{"error", "invalid JSON value types in the request"}});
  } catch (const Error& e) {
    if (is_storage_error(e.what())) throw;  // the server's failure: logged and answered 500 by the wrapper
    send_json(res, 400, {{"error", redact_paths(e.what())}});
  }
}

// One object, as NDJSON (one line) when the client asked for a stream.
void send_object(httplib::Response& res, const json& body, bool stream) {
  if (!stream) return send_json(res, 200, body);
  res.status = 200;
  res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n", "application/x-ndjson");
}

const engine::ModelStatus* find_status(const std::vector<engine::ModelStatus>& all, const std::string& name) {
  for (const auto& s : all) {
    if (s.spec.name == name) return &s;
  }
  return nullptr;
}

std::string parameter_size(uint64_t n) {
  return n >= 1000000000 ? fmt::format("{:.1f}B", n / 1e9) : fmt::format("{:.1f}M", n / 1e6);
}

json details_json(const std::string& architecture, const std::string& quantization, uint64_t parameters) {
  std::string level = quantization;
  for (char& c : level) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return {{"parent_model", ""},
          {"format", "gguf"},
          {"family", architecture},
          {"families", json::array({architecture})},
          {"parameter_size", parameters ? parameter_size(parameters) : ""},
          {"quantization_level", level}};
}

json model_entry(const engine::ModelStatus& s) {
  auto file = engine::describe_model_file(s.spec.path);
  return {{"name", s.spec.name},
          {"model", s.spec.name},
          {"modified_at", modified_at(s.spec.path)},
          {"size", file.bytes},
          {"digest", ""},
          {"details", details_json(file.architecture, file.quantization, 0)}};
}

// ---------------------------------------------------------------------------------------
// Chat and generate.

struct OllamaCall {
  bool chat = true;
  std::string model;
  double load_seconds = 0;
  Stopwatch total;
  std::optional<double> keep_alive;
};

json text_object(const OllamaCall& c, const std::string& text, bool done) {
  json o = {{"model", c.model}, {"created_at", iso_time(Clock::now())}};
  if (c.chat) o["message"] = {{"role", "assistant"}, {"content", text}};
  else o["response"] = text;
  o["done"] = done;
  return o;
}

json final_object(const OllamaCall& c, const std::string& text, const engine::GenerationSummary& s) {
  json o = text_object(c, text, true);
  o["done_reason"] = finish_reason_string(s.finish);
  o["total_duration"] = nanos(c.total.seconds());
  o["load_duration"] = nanos(c.load_seconds);
  o["prompt_eval_count"] = s.prompt_tokens;
  o["prompt_eval_duration"] = nanos(s.prefill_seconds);
  o["eval_count"] = s.completion_tokens;
  o["eval_duration"] = nanos(s.decode_seconds);
  return o;
}

// keep_alive > 0: the model's idle time before unloading; < 0: never unload. 0 unloads
// once the request is done (after_request).
void apply_keep_alive(ServerContext& ctx, const OllamaCall& c) {
  if (c.keep_alive && *c.keep_alive != 0) ctx.registry.set_keep_alive(c.model, *c.keep_alive > 0 ? *c.keep_alive : 0);
}

void after_request(ServerContext& ctx, const OllamaCall& c) {
  if (c.keep_alive && *c.keep_alive == 0) ctx.registry.unload(c.model);  // false while others use it
}

// Ollama's `logprobs` of the tokens an object brings: the OpenAI chat entries' shape
// ({token, logprob, bytes, top_logprobs}, server/generation_logprobs.h), at the top level of
// the object; left out when there are none, as Ollama omits the empty field.
void add_logprobs(json& o, const model::Tokenizer& tokenizer, const std::vector<engine::TokenLogprobs>& tokens) {
  if (!tokens.empty()) o["logprobs"] = chat_logprobs_content(tokenizer, tokens);
}

// options.num_ctx bounds prompt + generated tokens.
void fit_num_ctx(OllamaGenerateRequest& req, size_t prompt_tokens) {
  if (!req.num_ctx) return;
  if (prompt_tokens >= *req.num_ctx) {
    throw bad_request(fmt::format("the prompt is {} tokens, which leaves no room in options.num_ctx = {}",
                                  prompt_tokens, *req.num_ctx),
                      "num_ctx");
  }
  auto& max_tokens = req.gen.options.max_tokens;
  max_tokens = std::min(max_tokens, *req.num_ctx - prompt_tokens);
}

void handle_generation(ServerContext& ctx, const httplib::Request& http, httplib::Response& res,
                       const RequestInfo& info, bool chat) {
  json body = parse_json_body(http.body);
  const auto& d = ctx.options.generation;
  OllamaGenerateRequest req = chat ? parse_ollama_chat(body, d, http.body) : parse_ollama_generate(body, d, http.body);
  auto call = std::make_shared<OllamaCall>();
  call->chat = chat;
  call->keep_alive = req.keep_alive_seconds;
  Stopwatch load;
  auto model = ctx.acquire(req.gen.model, engine::ModelKind::Llm);
  call->load_seconds = load.seconds();
  call->model = model->spec.name;
  apply_keep_alive(ctx, *call);
  if (req.load_only) {  // a client preloading (or, with keep_alive 0, unloading) the model
    model.reset();
    after_request(ctx, *call);
    json o = text_object(*call, "", true);
    o["done_reason"] = call->keep_alive && *call->keep_alive == 0 ? "unload" : "load";
    return send_object(res, o, req.gen.stream);
  }
  const engine::Llm& llm = local_llm(*model, "the Ollama API");
  auto prompt = req.raw ? completion_prompt_tokens(llm, req.raw_prompt) : chat_prompt_tokens(llm, req.messages);
  fit_num_ctx(req, prompt.size());
  const char* endpoint = chat ? "/api/chat" : "/api/generate";
  auto g = std::make_shared<Generation>(
      start_generation(ctx, std::move(model), std::move(prompt), req.gen, info.user_for(""), endpoint));
  // Valid while the generation holds the model: until `finished` below lets it go.
  const model::Tokenizer* tokenizer = llm.tokenizer.get();
  if (!req.gen.stream) {
    std::vector<engine::TokenLogprobs> logprobs;
    std::string text = g->stream->wait_all(&logprobs);
    auto s = finish_generation(ctx, *g);
    json o = final_object(*call, text, s);
    add_logprobs(o, *tokenizer, logprobs);  // before the model (and its tokenizer) may go
    g->model.reset();
    after_request(ctx, *call);
    throw_if_failed(s);
    return send_json(res, 200, o);
  }
  ChoiceStreamShape shape;
  shape.delta = [call, tokenizer](size_t, const std::string& text, const std::vector<engine::TokenLogprobs>& lp) {
    json o = text_object(*call, text, false);
    add_logprobs(o, *tokenizer, lp);
    return o;
  };
  // `rest`: tokens whose text a stop string held back and never released.
  shape.final = [call, tokenizer](size_t, const engine::GenerationSummary& s,
                                  const std::vector<engine::TokenLogprobs>& rest) {
    json o = final_object(*call, "", s);
    add_logprobs(o, *tokenizer, rest);
    return o;
  };
  shape.error = [](const ApiError& e) { return json{{"error", redact_paths(e.what())}}; };
  shape.finished = [&ctx, call](std::vector<std::shared_ptr<Generation>>& done) {
    done.front()->model.reset();  // the handle would keep the model loaded
    after_request(ctx, *call);
  };
  stream_choices(res, ctx, {std::move(g)}, std::move(shape), StreamFormat::Ndjson);
}

// ---------------------------------------------------------------------------------------
// Embeddings.

void handle_embed(ServerContext& ctx, const httplib::Request& http, httplib::Response& res, bool legacy) {
  OllamaEmbedRequest req = parse_ollama_embed(parse_json_body(http.body), legacy);
  OllamaCall call;
  call.keep_alive = req.keep_alive_seconds;
  Stopwatch load;
  auto model = ctx.acquire(req.model, engine::ModelKind::Embedder);
  call.load_seconds = load.seconds();
  call.model = model->spec.name;
  apply_keep_alive(ctx, call);
  auto& service = *model->embedder;
  size_t tokens = 0;
  for (size_t i = 0; i < req.inputs.size(); ++i) {
    bool truncated = false;
    tokens += service.tokenize(req.inputs[i], &truncated).size();
    if (truncated && !req.truncate) {
      throw bad_request(fmt::format("input {} is longer than the model's window; send truncate: true to cut it", i),
                        "truncate");
    }
  }
  auto vectors = service.embed(req.inputs);
  model.reset();
  after_request(ctx, call);
  if (legacy) return send_json(res, 200, {{"embedding", vectors.at(0)}});
  send_json(res, 200,
            {{"model", call.model},
             {"embeddings", vectors},
             {"total_duration", nanos(call.total.seconds())},
             {"load_duration", nanos(call.load_seconds)},
             {"prompt_eval_count", tokens}});
}

// ---------------------------------------------------------------------------------------
// Models.

void handle_tags(ServerContext& ctx, httplib::Response& res) {
  json models = json::array();
  for (const auto& s : ctx.registry.status()) models.push_back(model_entry(s));
  send_json(res, 200, {{"models", models}});
}

void handle_ps(ServerContext& ctx, httplib::Response& res) {
  json models = json::array();
  const auto now = Clock::now();
  for (const auto& s : ctx.registry.status()) {
    if (!s.loaded) continue;
    json m = model_entry(s);
    m["size"] = s.memory_bytes;
    m["size_vram"] = 0;
    // Never unloaded by idling (pinned, or keep_alive <= 0): a far date, as Ollama shows.
    bool forever = s.spec.pinned || s.spec.keep_alive_seconds <= 0;
    double left = forever ? 100.0 * 365 * 86400 : std::max(0.0, s.spec.keep_alive_seconds - s.idle_seconds);
    m["expires_at"] = iso_time(now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(left)));
    models.push_back(std::move(m));
  }
  send_json(res, 200, {{"models", models}});
}

// The scalar metadata of a GGUF file (arrays such as the vocabulary are left out, as
// Ollama does without `verbose`).
json model_info(const model::GgufFile& file, uint64_t parameters) {
  json info = json::object();
  for (const auto& [key, value] : file.metadata()) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string_view>) info[key] = std::string(v);
          else if constexpr (std::is_arithmetic_v<T>) info[key] = v;
        },
        value);
  }
  info["general.parameter_count"] = parameters;
  return info;
}

void handle_show(ServerContext& ctx, const httplib::Request& http, httplib::Response& res) {
  json body = parse_json_body(http.body);
  static constexpr std::string_view kShowFields[] = {"model", "name", "verbose"};
  refuse_unknown_fields(body, {kShowFields}, "/api/show");
  require_value(body, "verbose", false);
  std::string name = ollama_model_name(string_field(body, "model", string_field(body, "name")));
  if (name.empty()) throw bad_request("'model' is required", "model");
  auto all = ctx.registry.contains(name) ? ctx.registry.status() : std::vector<engine::ModelStatus>{};
  const engine::ModelStatus* s = find_status(all, name);
  if (!s) throw not_found("model '" + name + "' not found (GET /api/tags lists them)", "model");
  auto file = model::GgufFile::open(s->spec.path);
  uint64_t parameters = 0;
  for (const auto& t : file->tensors()) parameters += t.n_elements;
  auto described = engine::describe_model_file(s->spec.path);
  bool embedder = s->spec.kind == engine::ModelKind::Embedder;
  send_json(res, 200,
            {{"modelfile", ""},
             {"parameters", ""},
             {"template", embedder ? std::string() : ollama_show_template(*file)},
             {"license", std::string(file->get_string("general.license", ""))},
             {"details", details_json(described.architecture, described.quantization, parameters)},
             {"model_info", model_info(*file, parameters)},
             {"capabilities", json::array({embedder ? "embedding" : "completion"})},
             {"modified_at", modified_at(s->spec.path)}});
}

}  // namespace

void register_ollama_routes(HttpServer& http, ServerContext& ctx) {
  using Req = const httplib::Request&;
  using Res = httplib::Response&;
  using Info = const RequestInfo&;
  http.post("/api/chat", "/api/chat",
            [&ctx](Req q, Res r, Info i) { with_ollama_errors(r, [&] { handle_generation(ctx, q, r, i, true); }); },
            Scope::Query);
  http.post("/api/generate", "/api/generate",
            [&ctx](Req q, Res r, Info i) { with_ollama_errors(r, [&] { handle_generation(ctx, q, r, i, false); }); },
            Scope::Query);
  http.post("/api/embed", "/api/embed",
            [&ctx](Req q, Res r, Info) { with_ollama_errors(r, [&] { handle_embed(ctx, q, r, false); }); },
            Scope::Query);
  http.post("/api/embeddings", "/api/embeddings",
            [&ctx](Req q, Res r, Info) { with_ollama_errors(r, [&] { handle_embed(ctx, q, r, true); }); },
            Scope::Query);
  http.get("/api/tags", "/api/tags", [&ctx](Req, Res r, Info) { with_ollama_errors(r, [&] { handle_tags(ctx, r); }); },
           Scope::Query);
  http.get("/api/ps", "/api/ps", [&ctx](Req, Res r, Info) { with_ollama_errors(r, [&] { handle_ps(ctx, r); }); },
           Scope::Query);
  http.post("/api/show", "/api/show",
            [&ctx](Req q, Res r, Info) { with_ollama_errors(r, [&] { handle_show(ctx, q, r); }); }, Scope::Query);
  http.post("/api/pull", "/api/pull",
            [&ctx](Req q, Res r, Info) { with_ollama_errors(r, [&] { handle_ollama_pull(ctx, q, r); }); }, Scope::Admin);
  http.get("/api/version", "/api/version",
           [](Req, Res r, Info) { send_json(r, 200, {{"version", kVersion}}); }, Scope::Query);
}

}  // namespace ragd::server
