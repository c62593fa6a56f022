// What a caller asks of a generation and what it gets back, shared by every path that
// generates: the CLI's single-sequence Generator (engine/generator.h), the serving
// Scheduler (engine/scheduler.h) and upstream servers (engine/upstream_model.h). This header
// knows none of them, so each includes it instead of the others.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/sampler.h"

namespace ragd::model {
class Tokenizer;  // model/tokenizer.h
}  // namespace ragd::model

namespace ragd::engine {

class JsonSchemaGrammar;  // engine/json_schema.h
class GbnfGrammar;        // engine/gbnf_grammar.h

struct GenerationOptions {
  size_t max_tokens = 256;
  std::vector<std::string> stop;
  std::vector<std::string> stop_after;  // end generation too, but stay in the text (StopMatcher)
  std::vector<int32_t> stop_token_ids;  // sampled ids that end generation, like end-of-generation
  bool ignore_eos = false;
  SamplingParams sampling;
  // Structured output: when set, the output is constrained to JSON this grammar accepts
  // (engine/json_constraint.h) and generation ends as soon as the document is complete.
  std::shared_ptr<const JsonSchemaGrammar> json_constraint;
  // llama-server's `grammar`: when set, the output is constrained to sentences of this GBNF
  // grammar (engine/gbnf_constraint.h), with the same rules as json_constraint. At most one
  // of the two is set (request parsing refuses both).
  std::shared_ptr<const GbnfGrammar> grammar;
  // Log-probabilities of the generated tokens (engine/sampler.h: the model's raw
  // distribution): < 0 none (no cost); k >= 0 each token's logprob and its k
  // (<= kMaxTopLogprobs) most likely alternatives. Reported for the tokens of the text, not
  // for a final end-of-generation / stop_token_ids token (it adds no text).
  int32_t logprobs = -1;
};

// The sampler for one generation: options.sampling, constrained by options.json_constraint
// or options.grammar over `tokenizer`'s vocabulary when set. The generator and the
// scheduler both use it.
Sampler make_sampler(const GenerationOptions& options, const model::Tokenizer& tokenizer);


// Timeout and Error only come from the serving scheduler (engine/scheduler.h): a request
// that waited in the queue too long, or whose forward pass failed.
enum class FinishReason { Stop, Length, Cancelled, Timeout, Error };
// "stop", "length", "cancelled", "timeout", "error"
const char* finish_reason_name(FinishReason reason);

// Generator::generate's answer: the whole generation at once.
struct GenerationResult {
  std::string text;
  std::vector<int32_t> tokens;  // generated ids (including a final end-of-generation id)
  FinishReason finish = FinishReason::Length;
  size_t prompt_tokens = 0;
  size_t reused_prompt_tokens = 0;  // prefix found in the cache, not recomputed
  double prefill_seconds = 0.0;
  double decode_seconds = 0.0;
  std::vector<double> token_seconds;  // wall time of each decode step
  std::vector<TokenLogprobs> logprobs;  // options.logprobs >= 0: one per token of `text`
};

// A request to the serving scheduler (Scheduler::submit).
struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, already templated
  GenerationOptions options;
  size_t priority = 1;          // 0 = highest; clamped to priority_levels - 1
  std::string user;             // fairness key (API key or client); "" is one key too
};

// Everything known about a served request once it has finished (and partial figures before).
struct GenerationSummary {
  FinishReason finish = FinishReason::Length;
  std::string error;                 // why it failed (finish: Error, Timeout); else empty
  size_t prompt_tokens = 0;
  size_t cached_prompt_tokens = 0;   // served from the prefix cache
  size_t completion_tokens = 0;
  double queue_seconds = 0;          // submit -> first scheduled
  double prefill_seconds = 0;        // first scheduled -> first token sampled
  double ttft_seconds = 0;           // submit -> first token sampled
  double decode_seconds = 0;         // first token -> finish
};

}  // namespace ragd::engine
