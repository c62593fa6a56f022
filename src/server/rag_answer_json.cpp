#include "server/rag_answer_json.h"

#include "server/generation.h"

namespace ragd::server {

using nlohmann::json;

json sources_json(const rag::AnswerPlan& p) {
  json out = json::array();
  for (const auto& s : p.prompt.sources) {
    out.push_back({{"number", s.number}, {"id", s.external_id}, {"document_id", s.document_id},
                   {"chunk_id", s.chunk_id}, {"title", s.title}, {"score", s.score},
                   {"text", s.text}, {"truncated", s.truncated}});
  }
  return out;
}

json cache_json(const rag::AnswerPlan& p, bool use_cache) {
  std::string answer = "miss";
  if (!use_cache) answer = "off";
  else if (p.cached) answer = p.cached->kind == rag::AnswerHitKind::Exact ? "exact" : "semantic";
  json j = {{"result", !use_cache ? "off" : p.retrieval.cache_hit ? "hit" : "miss"}, {"answer", answer}};
  if (p.cached) {
    j["similarity"] = p.cached->similarity;
    j["cached_question"] = p.cached->cached_question;
  }
  return j;
}

json timings_json(const rag::AnswerTimings& t) {
  return {{"embed", t.embed},     {"retrieve", t.retrieve}, {"rerank", t.rerank}, {"queue", t.queue},
          {"prefill", t.prefill}, {"decode", t.decode},     {"total", t.total}};
}

json answer_usage_json(const rag::Answer& a) {
  json u = {{"prompt_tokens", a.prompt_tokens},
            {"completion_tokens", a.completion_tokens},
            {"total_tokens", a.prompt_tokens + a.completion_tokens}};
  if (a.cached_prompt_tokens > 0) u["prompt_tokens_details"] = {{"cached_tokens", a.cached_prompt_tokens}};
  return u;
}

json answer_json(const rag::AnswerPlan& p, const rag::Answer& a, bool use_cache) {
  return {{"id", random_id("rag-")},
          {"object", "rag.answer"},
          {"created", unix_time()},
          {"model", p.llm->spec.name},
          {"collection", p.retrieval.collection.name},
          {"mode", rag::search_mode_name(p.retrieval.options.mode)},
          {"question", p.request.retrieval.query},
          {"answer", a.text},
          {"citations", rag::citations_to_json(a.citations)},
          {"sources", sources_json(p)},
          {"usage", answer_usage_json(a)},
          {"finish_reason", finish_reason_string(a.finish)},
          {"cache", cache_json(p, use_cache)},
          {"timings", timings_json(a.timings)}};
}

}  // namespace ragd::server
