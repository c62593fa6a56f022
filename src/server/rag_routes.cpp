// POST /v1/rag/query: retrieve → build the prompt → generate, with the result cache (same
// query over an unchanged collection skips retrieval) and the answer cache (same or
// near-identical question skips generation). Streamed as SSE:
//   event: retrieval  {sources, mode, cache}
//   data: {"delta": "..."}            one per generated text piece
//   event: done       {answer, citations, usage, timings, finish_reason, cache}
// Non-streamed: one JSON object with the same fields.
#include <fmt/format.h>

#include "rag/embed_chunks.h"
#include "rag/model_embedder.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/routes.h"
#include "server/sse.h"
#include "util/error.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// The Embedder the Retriever sees: the query vector was computed before the store lock
// was taken (embedding is the slow part), so embed_query hands it back.
class PrecomputedQueryEmbedder final : public rag::Embedder {
 public:
  PrecomputedQueryEmbedder(std::string name, std::vector<float> query) : name_(std::move(name)), query_(std::move(query)) {}
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

// Everything known before generation starts.
struct RagPlan {
  RagQueryRequest req;
  rag::Collection collection;
  uint64_t content_version = 0;
  std::vector<rag::SearchHit> hits;
  bool result_cache_hit = false;
  std::vector<float> query_embedding;
  rag::RagPrompt prompt;
  std::shared_ptr<engine::LoadedModel> llm;
  rag::AnswerKey answer_key;
  std::optional<rag::AnswerHit> cached;
  double embed_ms = 0, retrieve_ms = 0, rerank_ms = 0;
  Stopwatch watch;
};

std::string settings_key(const RagPlan& p) {
  const auto& g = p.req.gen.options;
  const auto& s = g.sampling;
  std::string bias;
  for (const auto& [id, b] : s.logit_bias) bias += fmt::format("{}:{};", id, b);
  return fmt::format("model={}|mode={}|k={}|min={}|filters={}|sys={}|max={}|stop={}|t={}|p={}|topk={}|minp={}|fp={}|pp={}|rp={}|seed={}|bias={}",
                     p.llm->spec.name, rag::search_mode_name(p.req.mode), p.req.top_k,
                     p.req.min_score ? fmt::format("{}", *p.req.min_score) : "-", fmt::join(p.req.filters, ","),
                     p.req.system, g.max_tokens, fmt::join(g.stop, "\x1f"), s.temperature, s.top_p, s.top_k, s.min_p,
                     s.frequency_penalty, s.presence_penalty, s.repeat_penalty, s.seed, bias);
}

RagPlan plan_rag(ServerContext& ctx, const json& body) {
  RagPlan p;
  p.req = parse_rag_query(body, ctx.options.generation);
  if (!body.contains("collection")) p.req.collection = ctx.options.default_collection;
  if (!ctx.store) throw ApiError(503, "this server has no document store (ragd serve --db DIR)");
  auto found = ctx.store->read([&](rag::Store& s) {
    auto c = s.find_collection(p.req.collection);
    if (c) p.content_version = s.content_version(c->id);
    return c;
  });
  if (!found) throw not_found("collection '" + p.req.collection + "' does not exist (GET /v1/collections)", "collection");
  p.collection = *found;
  const bool has_vectors = p.collection.embedding_dim > 0;
  if (!p.req.mode_given) p.req.mode = has_vectors ? rag::SearchMode::Hybrid : rag::SearchMode::Bm25;
  if (p.req.mode != rag::SearchMode::Bm25 && !has_vectors) {
    throw bad_request("collection '" + p.collection.name + "' has no embeddings, so only mode \"bm25\" works", "mode");
  }
  rag::SearchOptions opts;
  opts.mode = p.req.mode;
  opts.top_k = p.req.top_k;
  opts.min_score = p.req.min_score;
  opts.level = rag::ResultLevel::Chunks;
  for (const auto& f : p.req.filters) {
    try {
      opts.filters.push_back(rag::MetadataFilter::parse(f));
    } catch (const Error& e) {
      throw bad_request(e.what(), "filters");
    }
  }
  // The query embedding: needed by dense/hybrid retrieval and by the semantic answer cache.
  std::unique_ptr<rag::ModelEmbedder> embedder;
  if (has_vectors || ctx.registry.default_model(engine::ModelKind::Embedder)) {
    auto em = ctx.acquire("", engine::ModelKind::Embedder);
    embedder = std::make_unique<rag::ModelEmbedder>(em->embedder);
    if (has_vectors) {
      try {
        rag::check_embedder_matches(p.collection, *embedder);
      } catch (const Error& e) {
        if (p.req.mode != rag::SearchMode::Bm25) throw bad_request(e.what(), "collection");
        embedder.reset();  // BM25 still works; only the semantic answer cache is lost
      }
    }
    if (embedder) {
      Stopwatch w;
      p.query_embedding = embedder->embed_query(p.req.question);
      p.embed_ms = w.millis();
      ctx.metrics.observe("ragd_embedding_duration_seconds", {}, p.embed_ms / 1000);
    }
  }
  rag::ResultCacheKey rkey{p.collection.name, p.content_version, p.req.question, opts.mode, opts.top_k,
                           rag::search_options_key(opts)};
  if (p.req.use_cache) {
    if (auto cached = ctx.result_cache.get(rkey)) {
      p.hits = *cached;
      p.result_cache_hit = true;
    }
  }
  if (!p.result_cache_hit) {
    rag::SearchTimings t;
    p.hits = ctx.store->read([&](rag::Store& s) {
      rag::CollectionVectors* vectors = opts.mode == rag::SearchMode::Bm25 ? nullptr : ctx.store->vectors(p.collection);
      PrecomputedQueryEmbedder fixed(embedder ? embedder->name() : "", p.query_embedding);
      rag::Retriever retriever(s, p.collection, embedder ? &fixed : nullptr, vectors);
      return retriever.search(p.req.question, opts, &t);
    });
    p.retrieve_ms = std::max(0.0, t.total_ms - t.embed_ms - t.rerank_ms);
    p.rerank_ms = t.rerank_ms;
    ctx.metrics.observe("ragd_retrieval_duration_seconds", {{"mode", rag::search_mode_name(opts.mode)}}, p.retrieve_ms / 1000);
    if (p.req.use_cache) ctx.result_cache.put(rkey, p.hits);
  }
  p.llm = ctx.acquire(p.req.gen.model, engine::ModelKind::Llm);
  rag::PromptOptions popts = ctx.options.prompt;
  if (!p.req.system.empty()) popts.system_prompt = p.req.system;
  const model::Tokenizer* tok = p.llm->llm->tokenizer.get();
  p.prompt = rag::build_rag_prompt(p.req.question, p.hits,
                                   [tok](std::string_view text) { return tok->encode(text, false, false).size(); }, popts);
  p.answer_key = {p.collection.name, p.content_version, settings_key(p), p.req.question};
  if (p.req.use_cache) p.cached = ctx.answer_cache.lookup(p.answer_key, p.query_embedding);
  return p;
}

json sources_json(const RagPlan& p) {
  json out = json::array();
  for (const auto& s : p.prompt.sources) {
    out.push_back({{"number", s.number}, {"id", s.external_id}, {"document_id", s.document_id},
                   {"chunk_id", s.chunk_id}, {"title", s.title}, {"score", s.score},
                   {"text", s.text}, {"truncated", s.truncated}});
  }
  return out;
}

json citations_json(const std::string& answer, const RagPlan& p) {
  json out = json::array();
  for (const auto& s : rag::citations(answer, p.prompt.sources)) {
    out.push_back({{"number", s.number}, {"id", s.external_id}, {"title", s.title}, {"chunk_id", s.chunk_id}});
  }
  return out;
}

json cache_json(const RagPlan& p) {
  std::string answer = "miss";
  if (!p.req.use_cache) answer = "off";
  else if (p.cached) answer = p.cached->kind == rag::AnswerHitKind::Exact ? "exact" : "semantic";
  json j = {{"result", !p.req.use_cache ? "off" : p.result_cache_hit ? "hit" : "miss"}, {"answer", answer}};
  if (p.cached) {
    j["similarity"] = p.cached->similarity;
    j["cached_question"] = p.cached->cached_question;
  }
  return j;
}

json timings_json(const RagPlan& p, const engine::GenerationSummary* s) {
  return {{"embed", p.embed_ms},
          {"retrieve", p.retrieve_ms},
          {"rerank", p.rerank_ms},
          {"queue", s ? s->queue_seconds * 1000 : 0.0},
          {"prefill", s ? s->prefill_seconds * 1000 : 0.0},
          {"decode", s ? s->decode_seconds * 1000 : 0.0},
          {"total", p.watch.millis()}};
}

json usage_of(size_t prompt, size_t completion) {
  return {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
}

// The final object (non-streamed response, or the `done` event plus answer/sources).
json answer_json(const RagPlan& p, const std::string& answer, const json& citations, const json& usage,
                 const json& timings, const std::string& finish) {
  return {{"id", random_id("rag-")},
          {"object", "rag.answer"},
          {"created", unix_time()},
          {"model", p.llm->spec.name},
          {"collection", p.collection.name},
          {"mode", rag::search_mode_name(p.req.mode)},
          {"question", p.req.question},
          {"answer", answer},
          {"citations", citations},
          {"sources", sources_json(p)},
          {"usage", usage},
          {"finish_reason", finish},
          {"cache", cache_json(p)},
          {"timings", timings}};
}

void remember(ServerContext& ctx, const RagPlan& p, const std::string& answer, const json& citations,
              const engine::GenerationSummary& s) {
  if (!p.req.use_cache || s.finish == engine::FinishReason::Cancelled) return;
  if (s.finish != engine::FinishReason::Stop && s.finish != engine::FinishReason::Length) return;
  ctx.answer_cache.insert(p.answer_key, p.query_embedding,
                          rag::CachedAnswer{answer, citations, {s.prompt_tokens, s.completion_tokens}});
}

void handle_rag_stream(ServerContext& ctx, std::shared_ptr<RagPlan> p, const RequestInfo& info, httplib::Response& res) {
  std::shared_ptr<Generation> g;
  if (!p->cached) {
    auto prompt = chat_prompt_tokens(*p->llm->llm, p->prompt.messages);
    g = std::make_shared<Generation>(
        start_generation(ctx, p->llm, std::move(prompt), p->req.gen, info.user_for(p->req.gen.user), "/v1/rag/query"));
  }
  set_sse_headers(res);
  res.set_chunked_content_provider(
      "text/event-stream",
      [&ctx, p, g](size_t, httplib::DataSink& sink) {
        SseWriter sse(sink);
        if (!sse.event("retrieval", {{"collection", p->collection.name},
                                     {"mode", rag::search_mode_name(p->req.mode)},
                                     {"sources", sources_json(*p)},
                                     {"cache", cache_json(*p)}})) {
          if (g) g->stream->cancel();
          return false;
        }
        if (p->cached) {
          const auto& c = p->cached->value;
          sse.data({{"delta", c.answer}});
          json done = answer_json(*p, c.answer, c.citations, usage_of(c.usage.prompt_tokens, c.usage.completion_tokens),
                                  timings_json(*p, nullptr), "stop");
          done.erase("sources");
          sse.event("done", done);
          sink.done();
          return true;
        }
        std::string answer;
        bool finished = pump_stream(*g->stream, sse, [&](std::string_view text) {
          answer += text;
          return sse.data({{"delta", text}});
        });
        if (!finished) {
          g->stream->wait_all();
          finish_generation(ctx, *g);
          return false;
        }
        auto s = finish_generation(ctx, *g);
        try {
          throw_if_failed(s);
        } catch (const ApiError& e) {
          sse.event("error", e.body());
          sink.done();
          return true;
        }
        json citations = citations_json(answer, *p);
        remember(ctx, *p, answer, citations, s);
        json done = answer_json(*p, answer, citations, usage_json(s), timings_json(*p, &s), finish_reason_string(s.finish));
        done.erase("sources");  // already sent in the retrieval event
        sse.event("done", done);
        sink.done();
        return true;
      },
      [g](bool) {
        if (g && !g->stream->finished()) g->stream->cancel();
      });
}

}  // namespace

json run_rag_query(ServerContext& ctx, const json& body, const RequestInfo& info) {
  RagPlan p = plan_rag(ctx, body);
  if (p.cached) {
    const auto& c = p.cached->value;
    return answer_json(p, c.answer, c.citations, usage_of(c.usage.prompt_tokens, c.usage.completion_tokens),
                       timings_json(p, nullptr), "stop");
  }
  auto prompt = chat_prompt_tokens(*p.llm->llm, p.prompt.messages);
  Generation g = start_generation(ctx, p.llm, std::move(prompt), p.req.gen, info.user_for(p.req.gen.user), "/v1/rag/query");
  std::string answer = g.stream->wait_all();
  auto s = finish_generation(ctx, g);
  throw_if_failed(s);
  json citations = citations_json(answer, p);
  remember(ctx, p, answer, citations, s);
  return answer_json(p, answer, citations, usage_json(s), timings_json(p, &s), finish_reason_string(s.finish));
}

void register_rag_routes(HttpServer& http, ServerContext& ctx) {
  http.post("/v1/rag/query", "/v1/rag/query",
            [&ctx](const httplib::Request& req, httplib::Response& res, const RequestInfo& info) {
              json body = parse_json_body(req.body);
              bool stream = body.contains("stream") && body["stream"].is_boolean() && body["stream"].get<bool>();
              if (!stream) {
                send_json(res, 200, run_rag_query(ctx, body, info));
                return;
              }
              body.erase("stream");  // the plan is the same; only the delivery differs
              auto plan = std::make_shared<RagPlan>(plan_rag(ctx, body));
              handle_rag_stream(ctx, plan, info, res);
            });
}

}  // namespace ragd::server
