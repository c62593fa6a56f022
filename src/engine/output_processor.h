// OutputProcessor: the per-token rules of one generation, the same for the CLI's Generator
// (engine/generator.h) and the serving Scheduler (engine/scheduler.h, including a
// speculative round's several accepted tokens), so both give the same text and the same
// finish reason for the same tokens.
//
// For each sampled id, in this order:
//   1. an end-of-generation id (ends_generation) ends with Stop; it adds no text and its
//      logprobs are not reported (TokenOutput::text_token is false);
//   2. the id's bytes go through a StreamingDetokenizer (an incomplete UTF-8 character is
//      held back until a later token completes it) and a StopMatcher (text that may begin a
//      stop string is held back; a stop string ends the text, a stop_after string ends it
//      after itself); what is safe to emit now is TokenOutput::text;
//   3. a stop string, or a constraint whose document is complete, ends with Stop;
//   4. the length limit ends with Length: max_tokens generated, or the context full (the
//      last token would have no position to go to).
// flush() releases what is still held back once generation ends with Stop or Length.
//
// Cancellation, timeouts and failures are the caller's: they end a generation without
// flush() (nothing held back is ever emitted after a client went away).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "engine/generation_request.h"
#include "engine/stop_matcher.h"
#include "model/tokenizer.h"

namespace ragd::engine {

// Whether sampling `id` ends generation with FinishReason::Stop: the vocabulary's
// end-of-generation tokens (unless ignore_eos; always under a json_constraint or grammar,
// which allow them only once the output is complete) and options.stop_token_ids. The id itself
// is not part of the text.
bool ends_generation(const GenerationOptions& options, const model::Tokenizer& tokenizer, int32_t id);

// What one sampled token did.
struct TokenOutput {
  std::string text;                     // safe to emit now (often "" while text is held back)
  bool text_token = true;               // false: an end-of-generation id, no text, no logprobs
  std::optional<FinishReason> finish;   // Stop or Length when this token ends generation
};

class OutputProcessor {
 public:
  // `options` and `tokenizer` must outlive the processor. prompt_tokens + generated tokens
  // may use at most ctx_size positions.
  OutputProcessor(const GenerationOptions& options, const model::Tokenizer& tokenizer,
                  size_t prompt_tokens, size_t ctx_size);

  // The rules above for the next sampled id. constraint_done: the sampler's constraint has
  // seen a complete document (Sampler::constraint_done(), after sampling `id`). Not to be
  // called again once a token has finished the generation.
  TokenOutput push(int32_t id, bool constraint_done);
  // Text still held back (an incomplete character, a partial stop match); call once, when
  // generation ends with Stop or Length.
  std::string flush();

  size_t generated() const { return generated_; }  // ids pushed, end-of-generation included

 private:
  const GenerationOptions& options_;
  const model::Tokenizer& tokenizer_;
  size_t prompt_tokens_;
  size_t ctx_size_;
  size_t generated_ = 0;
  StopMatcher stops_;
  model::StreamingDetokenizer detok_;
};

}  // namespace ragd::engine
