// POST /v1/rag/query: parses the request, runs the answer service (rag/answer/), and
// serializes the answer. Streamed as SSE:
//   event: retrieval  {sources, mode, cache}
//   data: {"delta": "..."}            one per generated text piece
//   event: done       {answer, citations, usage, timings, finish_reason, cache}
// Non-streamed: one JSON object with the same fields. Generation is admitted through
// start_generation (HTTP errors, metrics); everything else is the service's.
#include "server/rag_answer_json.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/rag_services.h"
#include "server/routes.h"
#include "server/sse.h"

namespace ragd::server {
namespace {

using nlohmann::json;

// A planned answer and how it was asked for.
struct RagCall {
  rag::AnswerService service;
  rag::AnswerPlan plan;
  bool use_cache = true;
};

rag::AnswerRequest answer_request(const RagQueryRequest& q) {
  rag::AnswerRequest a;
  a.retrieval.query = q.question;
  a.retrieval.collection = q.collection;
  a.retrieval.top_k = q.top_k;
  if (q.mode_given) a.retrieval.mode = q.mode;
  a.retrieval.filters = q.filters;
  a.retrieval.min_score = q.min_score;
  a.retrieval.use_cache = q.use_cache;
  a.model = q.gen.model;
  a.generation = q.gen.options;
  a.system = q.system;
  a.priority = q.gen.priority;
  a.user = q.gen.user;
  return a;
}

std::shared_ptr<RagCall> plan_rag(ServerContext& ctx, const json& body, const RequestInfo& info) {
  RagQueryRequest q = parse_rag_query(body, ctx.options.generation);
  if (!body.contains("top_k")) q.top_k = rag::kAnswerSources;
  if (!body.contains("collection")) q.collection = ctx.options.default_collection;
  require_collection(info.key, q.collection);  // before the lookup: a 404 would reveal that it exists
  q.gen.user = info.user_for(q.gen.user);
  rag::AnswerRequest a = answer_request(q);
  rag::apply_answer_defaults(a.generation, body.contains("max_tokens") || body.contains("max_completion_tokens"),
                             body.contains("stop"));
  auto call = std::make_shared<RagCall>(RagCall{answer_service(ctx), {}, q.use_cache});
  call->plan = map_service_errors([&] { return call->service.plan(std::move(a)); });
  observe_retrieval(ctx, call->plan.retrieval);
  return call;
}

Generation start(ServerContext& ctx, const RagCall& c) {
  const auto& r = c.plan.request;
  GenerationParams params;
  params.options = r.generation;
  params.priority = r.priority;
  return start_generation(ctx, c.plan.llm, messages_input(c.plan.prompt.messages, c.plan.prompt_tokens), params, r.user,
                          "/v1/rag/query");
}

void handle_rag_stream(ServerContext& ctx, std::shared_ptr<RagCall> c, httplib::Response& res) {
  std::shared_ptr<Generation> g;
  if (c->plan.needs_generation()) g = std::make_shared<Generation>(start(ctx, *c));
  set_sse_headers(res);
  res.set_chunked_content_provider(
      "text/event-stream",
      [&ctx, c, g](size_t, httplib::DataSink& sink) {
        SseWriter sse(sink);
        const auto& p = c->plan;
        if (!sse.event("retrieval", {{"collection", p.retrieval.collection.name},
                                     {"mode", rag::search_mode_name(p.retrieval.options.mode)},
                                     {"sources", sources_json(p)},
                                     {"cache", cache_json(p, c->use_cache)}})) {
          if (g) g->stream->cancel();
          return false;
        }
        rag::Answer a;
        if (!g) {
          a = c->service.finish_without_generation(p);
          sse.data({{"delta", a.text}});
        } else {
          std::string text;
          bool finished = pump_stream(*g->stream, sse, [&](std::string_view piece) {
            text += piece;
            return sse.data({{"delta", piece}});
          });
          if (!finished) {
            // The client went away: wait for the scheduler to retire the sequence so the
            // summary (and metrics) are final.
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
          a = c->service.finish(p, std::move(text), s);
        }
        json done = answer_json(p, a, c->use_cache);
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
  auto c = plan_rag(ctx, body, info);
  if (!c->plan.needs_generation()) return answer_json(c->plan, c->service.finish_without_generation(c->plan), c->use_cache);
  Generation g = start(ctx, *c);
  std::string text = g.stream->wait_all();
  auto s = finish_generation(ctx, g);
  throw_if_failed(s);
  return answer_json(c->plan, c->service.finish(c->plan, std::move(text), s), c->use_cache);
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
              handle_rag_stream(ctx, plan_rag(ctx, body, info), res);
            }, Scope::Query);
}

}  // namespace ragd::server
