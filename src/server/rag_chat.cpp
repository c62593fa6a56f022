#include "server/rag_chat.h"

#include "rag/answer/followup.h"
#include "server/generation.h"
#include "server/known_fields.h"
#include "server/rag_answer_json.h"
#include "server/rag_services.h"
#include "server/retrieval_request.h"
#include "server/sse.h"

namespace ragd::server {
namespace {

using nlohmann::json;

constexpr size_t kMaxRagTopK = 50;

struct RagChat {
  rag::AnswerService service;
  rag::AnswerPlan plan;
  bool use_cache = true;
  bool include_usage = false;
  std::string id = random_id("chatcmpl-");
  int64_t created = unix_time();
};

std::shared_ptr<RagChat> plan_chat(ServerContext& ctx, const json& body, const RequestInfo& info) {
  ChatRequest chat = parse_chat_request(body, ctx.options.generation);
  const json& c = body["collection"];
  if (!c.is_string() || c.get<std::string>().empty()) {
    throw bad_request("'collection' must be the name of a collection", "collection");
  }
  rag::AnswerRequest a;
  a.retrieval.query = rag::followup_query(chat.messages);
  if (a.retrieval.query.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw bad_request("a RAG chat needs a user message with the question", "messages");
  }
  a.retrieval.collection = c.get<std::string>();
  a.retrieval.top_k = rag::kAnswerSources;  // unless the rag object's top_k says otherwise
  if (auto it = body.find("rag"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) throw bad_request("'rag' must be an object of retrieval options", "rag");
    refuse_unknown_fields(*it, {kRetrievalFields}, "rag");
    parse_retrieval_fields(*it, a.retrieval, kMaxRagTopK);
  }
  a.model = chat.gen.model;
  a.generation = chat.gen.options;
  rag::apply_answer_defaults(a.generation, body.contains("max_tokens") || body.contains("max_completion_tokens"),
                             body.contains("stop"));
  a.priority = chat.gen.priority;
  a.user = info.user_for(chat.gen.user);
  auto call = std::make_shared<RagChat>(RagChat{answer_service(ctx), {}, a.retrieval.use_cache, chat.gen.include_usage});
  call->plan = map_service_errors([&] { return call->service.plan(std::move(a)); });
  observe_retrieval(ctx, call->plan.retrieval);
  return call;
}

Generation start(ServerContext& ctx, const RagChat& c) {
  GenerationParams params;
  params.options = c.plan.request.generation;
  params.priority = c.plan.request.priority;
  return start_generation(ctx, c.plan.llm, messages_input(c.plan.prompt.messages, c.plan.prompt_tokens), params,
                          c.plan.request.user, "/v1/chat/completions");
}

json chat_json(const RagChat& c, const rag::Answer& a) {
  return {{"id", c.id},
          {"object", "chat.completion"},
          {"created", c.created},
          {"model", c.plan.llm->spec.name},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", json::array({{{"index", 0},
                                    {"message", {{"role", "assistant"}, {"content", a.text}}},
                                    {"logprobs", nullptr},
                                    {"finish_reason", finish_reason_string(a.finish)}}})},
          {"usage", answer_usage_json(a)},
          {"citations", rag::citations_to_json(a.citations)},
          {"sources", sources_json(c.plan)},
          {"rag",
           {{"collection", c.plan.retrieval.collection.name},
            {"query", c.plan.request.retrieval.query},
            {"mode", rag::search_mode_name(c.plan.retrieval.options.mode)},
            {"cache", cache_json(c.plan, c.use_cache)},
            {"timings", timings_json(a.timings)}}}};
}

json chunk(const RagChat& c, json delta, json finish) {
  return {{"id", c.id},
          {"object", "chat.completion.chunk"},
          {"created", c.created},
          {"model", c.plan.llm->spec.name},
          {"system_fingerprint", "ragd-0.1.0"},
          {"choices", json::array({{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}}})}};
}

// Streams the answer; returns false when the client went away.
bool stream_answer(ServerContext& ctx, const RagChat& c, const std::shared_ptr<Generation>& g, SseWriter& sse,
                   rag::Answer& a) {
  if (!g) {
    a = c.service.finish_without_generation(c.plan);
    return sse.data(chunk(c, {{"content", a.text}}, nullptr));
  }
  std::string text;
  bool finished = pump_stream(*g->stream, sse, [&](std::string_view piece) {
    text += piece;
    return sse.data(chunk(c, {{"content", piece}}, nullptr));
  });
  if (!finished) {
    g->stream->wait_all();  // the summary (and metrics) are final once it is retired
    finish_generation(ctx, *g);
    return false;
  }
  auto s = finish_generation(ctx, *g);
  throw_if_failed(s);
  a = c.service.finish(c.plan, std::move(text), s);
  return true;
}

}  // namespace

bool is_rag_chat(const json& body) { return body.contains("collection") && !body["collection"].is_null(); }

json run_rag_chat(ServerContext& ctx, const json& body, const RequestInfo& info) {
  auto c = plan_chat(ctx, body, info);
  if (!c->plan.needs_generation()) return chat_json(*c, c->service.finish_without_generation(c->plan));
  Generation g = start(ctx, *c);
  std::string text = g.stream->wait_all();
  auto s = finish_generation(ctx, g);
  throw_if_failed(s);
  return chat_json(*c, c->service.finish(c->plan, std::move(text), s));
}

void stream_rag_chat(ServerContext& ctx, const json& body, const RequestInfo& info, httplib::Response& res) {
  auto c = plan_chat(ctx, body, info);
  std::shared_ptr<Generation> g;
  if (c->plan.needs_generation()) g = std::make_shared<Generation>(start(ctx, *c));
  set_sse_headers(res);
  res.set_chunked_content_provider(
      "text/event-stream",
      [&ctx, c, g](size_t, httplib::DataSink& sink) {
        SseWriter sse(sink);
        json first = chunk(*c, {{"role", "assistant"}, {"content", ""}}, nullptr);
        first["sources"] = sources_json(c->plan);
        if (!sse.data(first)) {
          if (g) g->stream->cancel();
          return false;
        }
        rag::Answer a;
        try {
          if (!stream_answer(ctx, *c, g, sse, a)) return false;
        } catch (const ApiError& e) {
          sse.data(e.body());
          sse.done();
          sink.done();
          return true;
        }
        json last = chunk(*c, json::object(), finish_reason_string(a.finish));
        last["citations"] = rag::citations_to_json(a.citations);
        sse.data(last);
        if (c->include_usage) {
          sse.data({{"id", c->id}, {"object", "chat.completion.chunk"}, {"created", c->created},
                    {"model", c->plan.llm->spec.name}, {"choices", json::array()}, {"usage", answer_usage_json(a)}});
        }
        sse.done();
        sink.done();
        return true;
      },
      [g](bool) {
        if (g && !g->stream->finished()) g->stream->cancel();
      });
}

}  // namespace ragd::server
