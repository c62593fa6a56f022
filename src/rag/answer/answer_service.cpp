#include "rag/answer/answer_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "engine/model_catalog.h"
#include "engine/source_copy_bias.h"
#include "rag/answer/relevance_gate.h"
#include "rag/answer/service_error.h"

namespace ragd::rag {
namespace {

// The model's chat template with every message's content tokenized without parsing special
// tokens: a question or a document that contains "<|im_start|>system" stays text, never a
// role boundary. The server's chat prompts are encoded the same way, so the CLI and the
// HTTP API give the same answers.
std::vector<int32_t> template_tokens(const engine::Llm& llm, const std::vector<model::ChatMessage>& messages) {
  const std::string tmpl(model::chat_template_for(*llm.file));
  return model::tokenize_chat(*llm.tokenizer, tmpl, messages, /*add_generation_prompt=*/true);
}

AnswerTimings retrieval_timings(const AnswerPlan& p) {
  AnswerTimings t;
  t.embed = p.retrieval.embed_ms;
  t.retrieve = p.retrieval.retrieve_ms;
  t.rerank = p.retrieval.rerank_ms;
  t.total = p.watch.millis();
  return t;
}

ServiceError admission_error(const engine::Admission& a) {
  switch (a.status) {
    case engine::AdmitStatus::Overloaded:
      return ServiceError(ServiceErrorKind::Overloaded, a.message, "", std::max(1.0, a.retry_after_seconds));
    case engine::AdmitStatus::UserLimit:
      return ServiceError(ServiceErrorKind::UserLimit, "too many concurrent requests for this user: " + a.message, "",
                          std::max(1.0, a.retry_after_seconds));
    case engine::AdmitStatus::TooLong: return ServiceError(ServiceErrorKind::TooLong, a.message, "messages");
    default: return ServiceError(ServiceErrorKind::BadRequest, a.message);
  }
}

}  // namespace

std::string profile_model(std::string_view profile, const engine::ModelRegistry& registry) {
  if (profile == "default") return "";
  const engine::CatalogModel* m = engine::ModelCatalog::builtin().find(profile);
  if (!m || !registry.contains(m->name)) return "";
  return m->name;
}

std::string answer_settings_key(const AnswerRequest& r, const Retrieval& retrieval, const std::string& model_name,
                                float copy_bias) {
  const auto& g = r.generation;
  const auto& s = g.sampling;
  std::string bias;
  for (const auto& [id, b] : s.logit_bias) bias += fmt::format("{}:{};", id, b);
  return fmt::format("model={}|mode={}|k={}|search={}|sys={}|max={}|stop={}|after={}|t={}|p={}|topk={}|minp={}|fp={}|pp={}|rp={}|seed={}|bias={}|copy={}",
                     model_name, search_mode_name(retrieval.options.mode), retrieval.options.top_k,
                     search_options_key(retrieval.options), r.system, g.max_tokens, fmt::join(g.stop, "\x1f"),
                     fmt::join(g.stop_after, "\x1f"),
                     s.temperature, s.top_p, s.top_k, s.min_p, s.frequency_penalty, s.presence_penalty,
                     s.repeat_penalty, s.seed, bias, copy_bias);
}

void apply_answer_defaults(engine::GenerationOptions& g, bool max_tokens_given, bool stop_given) {
  if (!max_tokens_given) g.max_tokens = kAnswerMaxTokens;
  if (!stop_given) {
    g.stop = {std::string(kAnswerStop)};
    g.stop_after = {std::string(kAnswerEnd)};
  }
}

AnswerService::AnswerService(ServiceDeps deps, AnswerOptions options)
    : retrieval_(std::move(deps)), options_(std::move(options)) {
  if (!options_.encode_chat) options_.encode_chat = template_tokens;
}

AnswerPlan AnswerService::plan(AnswerRequest request) const {
  AnswerPlan p;
  p.request = std::move(request);
  RetrievalRequest rr = p.request.retrieval;
  rr.embed_always = options_.answer_cache != nullptr;  // the semantic cache compares questions
  p.retrieval = retrieval_.retrieve(rr);
  if (p.request.model.empty()) p.request.model = profile_model(p.request.retrieval.profile, *retrieval_.deps().registry);
  p.llm = retrieval_.acquire(p.request.model, engine::ModelKind::Llm);
  p.not_relevant = !sources_relevant(p.request.retrieval.query, p.retrieval.hits,
                                     {options_.min_relevance, options_.min_coverage});

  PromptOptions popts = options_.prompt;
  if (!p.request.system.empty()) popts.system_prompt = p.request.system;
  // An upstream model's tokenizer is not here: its sources are budgeted at ~4 bytes a token
  // (English text in BPE vocabularies), which keeps rag.max_source_tokens a fair limit.
  const model::Tokenizer* tok = p.llm->llm ? p.llm->llm->tokenizer.get() : nullptr;
  auto count = [tok](std::string_view text) { return tok ? tok->encode(text, false, false).size() : (text.size() + 3) / 4; };
  p.prompt = build_rag_prompt(p.request.retrieval.query, p.retrieval.hits, count, popts);
  p.answer_key = {p.retrieval.collection.name, p.retrieval.content_version,
                  answer_settings_key(p.request, p.retrieval, p.llm->spec.name, options_.copy_bias),
                  p.request.retrieval.query};
  if (p.not_relevant) return p;
  if (rr.use_cache && options_.answer_cache) p.cached = options_.answer_cache->lookup(p.answer_key, p.retrieval.query_embedding);
  if (!p.cached && p.llm->llm) {
    p.prompt_tokens = options_.encode_chat(*p.llm->llm, p.prompt.messages);
    if (options_.copy_bias > 0.0f) {
      std::vector<std::vector<int32_t>> sources;
      for (const auto& s : p.prompt.sources) sources.push_back(tok->encode(s.text, false, false));
      auto has_word_character = [tok](int32_t id) {
        const std::string& piece = tok->token_to_piece(id);
        // A byte >= 0x80 belongs to a non-ASCII character: count it as a letter.
        return std::any_of(piece.begin(), piece.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
        });
      };
      p.request.generation.sampling.copy_bias = std::make_shared<const engine::SourceCopyBias>(
          std::move(sources), p.prompt_tokens.size(), options_.copy_bias, 1, has_word_character);
    }
  }
  return p;
}

engine::GenerationRequest AnswerService::request(const AnswerPlan& p) const {
  engine::GenerationRequest r;
  r.prompt = p.prompt_tokens;
  r.options = p.request.generation;
  r.priority = p.request.priority;
  r.user = p.request.user;
  return r;
}

Answer AnswerService::finish_without_generation(const AnswerPlan& p) const {
  Answer a;
  a.timings = retrieval_timings(p);
  if (p.cached) {
    const auto& c = p.cached->value;
    a.text = c.answer;
    a.citations = citations_from_json(c.citations);
    a.prompt_tokens = c.usage.prompt_tokens;
    a.completion_tokens = c.usage.completion_tokens;
  } else {
    a.text = std::string(kNoAnswer);
  }
  return a;
}

Answer AnswerService::finish(const AnswerPlan& p, std::string text, const engine::GenerationSummary& s) const {
  Answer a;
  a.text = options_.verify_citations ? attribute(text, p.prompt.sources).text : std::move(text);
  a.citations = cite(a.text, p.prompt.sources);
  a.prompt_tokens = s.prompt_tokens;
  a.completion_tokens = s.completion_tokens;
  a.cached_prompt_tokens = s.cached_prompt_tokens;
  a.finish = s.finish;
  a.timings = retrieval_timings(p);
  a.timings.queue = s.queue_seconds * 1000;
  a.timings.prefill = s.prefill_seconds * 1000;
  a.timings.decode = s.decode_seconds * 1000;
  const bool complete = s.finish == engine::FinishReason::Stop || s.finish == engine::FinishReason::Length;
  if (complete && p.request.retrieval.use_cache && options_.answer_cache) {
    options_.answer_cache->insert(p.answer_key, p.retrieval.query_embedding,
                                  CachedAnswer{a.text, citations_to_json(a.citations),
                                               {s.prompt_tokens, s.completion_tokens}});
  }
  return a;
}

Answer AnswerService::answer(const AnswerPlan& p, const std::function<bool(std::string_view)>& on_text) const {
  if (!p.needs_generation()) {
    Answer a = finish_without_generation(p);
    if (on_text) on_text(a.text);
    return a;
  }
  auto admission = p.llm->upstream ? p.llm->upstream->submit({{engine::UpstreamApi::Chat, p.prompt.messages, ""},
                                                              p.request.generation, p.request.user})
                                   : p.llm->scheduler->submit(request(p));
  if (admission.status != engine::AdmitStatus::Accepted) throw admission_error(admission);
  auto& stream = *admission.stream;
  std::string text, piece;
  while (true) {
    piece.clear();
    const bool more = stream.next(piece, std::chrono::milliseconds(50));
    if (!piece.empty()) {
      text += piece;
      if (on_text && !on_text(piece)) stream.cancel();
    }
    if (!more) break;
  }
  const auto s = stream.summary();
  if (s.finish == engine::FinishReason::Error || s.finish == engine::FinishReason::Timeout) {
    throw ServiceError(ServiceErrorKind::Failed,
                       "generation failed: " + (s.error.empty() ? std::string(engine::finish_reason_name(s.finish)) : s.error));
  }
  return finish(p, std::move(text), s);
}

}  // namespace ragd::rag
