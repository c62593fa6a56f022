// AnswerService: the one answering path (retrieve → rerank → prompt → generate → cite) of
// /v1/rag/query, RAG chat, `ragd ask` and `ragd eval qa`.
//
// Phases, so that each entry point can deliver the answer its own way:
//   plan()      retrieval (RetrievalService, result cache), the prompt, the answer-cache
//               lookup; everything known before generation. A plan whose sources fail
//               the relevance gate (relevance_gate.h), or that hit the answer cache, needs no
//               generation (needs_generation() is false; finish_without_generation()).
//   request()   the engine::GenerationRequest to submit to plan.llm's scheduler. The server
//               submits it itself (admission errors and metrics are HTTP concerns).
//   finish()    the generated text + summary → the Answer: citations with spans, timings,
//               and the answer cache filled for reuse.
//   answer()    all of it, blocking, text streamed to a callback (CLI, evaluation);
//               admission refusals become ServiceError.
//
// Answer-cache keys hold everything that changes the answer: model, retrieval settings,
// system prompt, decoding options and the collection's content version.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/model_registry.h"
#include "model/chat_template.h"
#include "rag/answer/citations.h"
#include "rag/answer/retrieval_service.h"
#include "rag/answer/answer_cache.h"
#include "rag/answer/prompt_builder.h"
#include "util/timing.h"

namespace ragd::rag {

// Renders chat messages to prompt token ids with the model's chat template.
using ChatEncoder =
    std::function<std::vector<int32_t>(const engine::Llm& llm, const std::vector<model::ChatMessage>& messages)>;

// The fixed answer when no retrieved source is relevant enough (no generation happens).
inline constexpr std::string_view kNoAnswer = "The documents do not contain the answer to this question.";

// The relevance gate (relevance_gate.h) for all-MiniLM-L6-v2 cosine scores, calibrated with
// `ragd eval qa --calibrate` on SQuAD dev questions 300..899 (docs/retrieval.md): a best
// source scoring under 0.30 and holding under half of the question's content words is not
// relevant. It refuses 1 % of answerable questions and 69 % of questions whose article is
// not in the corpus (the dense threshold alone, 0.29, refused 2 % and 67 %).
inline constexpr double kDefaultMinRelevance = 0.30;
inline constexpr double kDefaultMinCoverage = 0.5;

// Off: on SQuAD dev questions 300..399 no copy bias raised the gold-in-answer rate without
// doubling the answers' length (docs/retrieval.md); `ragd eval qa --copy-bias` measures it.
inline constexpr float kDefaultCopyBias = 0.0f;

struct AnswerOptions {
  PromptOptions prompt;
  AnswerCache* answer_cache = nullptr;  // optional
  ChatEncoder encode_chat;              // empty: the template, contents without special tokens
  // Dense (cosine) score the best source must reach, else kNoAnswer; applies when the
  // retrieval computed dense scores; <= -1 disables it.
  double min_relevance = kDefaultMinRelevance;
  // ... unless the best source holds at least this share of the question's content words
  // (relevance_gate.h); > 1: never.
  double min_coverage = kDefaultMinCoverage;
  // Check the answer's [n] markers against the sources (attribute() in citations.h): move a
  // marker to the source that supports its sentence, mark copied sentences. The final
  // answer text may then differ from the streamed pieces in its markers only.
  bool verify_citations = true;
  // Logit bonus for continuing a source passage the answer has begun to quote
  // (engine/source_copy_bias.h), so facts keep the sources' wording; 0: off. Local models
  // only (an upstream server samples by itself).
  float copy_bias = kDefaultCopyBias;
};

struct AnswerRequest {
  RetrievalRequest retrieval;            // retrieval.query is the question
  std::string model;                     // "" : the profile's model (profile_model())
  engine::GenerationOptions generation;  // max_tokens, stop, sampling
  std::string system;                    // replaces the default system prompt if set
  size_t priority = 1;
  std::string user;
};

struct AnswerTimings {
  double embed = 0, retrieve = 0, rerank = 0, queue = 0, prefill = 0, decode = 0, total = 0;  // ms
};

struct AnswerPlan {
  AnswerRequest request;
  Retrieval retrieval;
  RagPrompt prompt;
  std::shared_ptr<engine::LoadedModel> llm;
  std::vector<int32_t> prompt_tokens;    // empty when no generation is needed
  AnswerKey answer_key;
  std::optional<AnswerHit> cached;
  bool not_relevant = false;             // failed the relevance gate: answered with kNoAnswer
  Stopwatch watch;                       // since plan() began

  bool needs_generation() const { return !cached && !not_relevant; }
};

struct Answer {
  std::string text;
  std::vector<Citation> citations;
  size_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
  engine::FinishReason finish = engine::FinishReason::Stop;
  AnswerTimings timings;
};

class AnswerService {
 public:
  AnswerService(ServiceDeps deps, AnswerOptions options);

  AnswerPlan plan(AnswerRequest request) const;
  engine::GenerationRequest request(const AnswerPlan& plan) const;
  Answer finish(const AnswerPlan& plan, std::string text, const engine::GenerationSummary& summary) const;
  Answer finish_without_generation(const AnswerPlan& plan) const;
  // Streams text pieces to on_text (return false to cancel); throws ServiceError for
  // admission refusals and failed generations.
  Answer answer(const AnswerPlan& plan, const std::function<bool(std::string_view)>& on_text = {}) const;

  const RetrievalService& retrieval() const { return retrieval_; }
  const AnswerOptions& options() const { return options_; }

 private:
  RetrievalService retrieval_;
  AnswerOptions options_;
};

// Decoding defaults of RAG answers, for the fields a request did not set: the prompt asks
// for one short cited sentence, so the answer ends after its first cited sentence ("[n]."
// is kept, kAnswerEnd) or at a blank line (dropped, kAnswerStop; it also ends the
// repetition loops small models fall into), with kAnswerMaxTokens at most. Small models
// otherwise run on, copying source text after the answer (on squad-dev10 the first cited
// sentence held the answer in all but 1 of 60 answers that contained it anywhere).
inline constexpr size_t kAnswerMaxTokens = 128;
// Sources given to the model when a request does not say: on squad-dev10 two sources
// answered as often as four (hit@1 is 0.90, and a small model is distracted by more text)
// at half the prefill, which is most of an answer's time (docs/retrieval.md).
inline constexpr size_t kAnswerSources = 2;
inline constexpr std::string_view kAnswerStop = "\n\n";
inline constexpr std::string_view kAnswerEnd = "].";
void apply_answer_defaults(engine::GenerationOptions& generation, bool max_tokens_given, bool stop_given);

// The model a request that names none answers with: for the "fast" and "quality" profiles
// the catalog model of that name (engine/model_catalog.h; "fast" is the small, quick one)
// when the registry offers it, installed or added; otherwise, and always for "default",
// "" (the registry's default LLM, the one the server or CLI was started with).
std::string profile_model(std::string_view profile, const engine::ModelRegistry& registry);

// The answer-cache settings part of a plan (everything but collection and question).
std::string answer_settings_key(const AnswerRequest& request, const Retrieval& retrieval,
                                const std::string& model_name, float copy_bias);

}  // namespace ragd::rag
