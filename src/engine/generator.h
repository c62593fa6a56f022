// Generator: one sequence's prompt → completion loop on a LlamaModel, for the CLI
// (generate, chat, bench) and tests. The serving scheduler (many sequences per step) is
// a separate object built on the same forward pass.
//
// The generator keeps its KV cache between calls: a prompt that starts with the tokens of
// the previous call (a chat's earlier turns) only evaluates the new suffix.
//
// Speculative decoding (set_draft): a draft model proposes up to draft_tokens tokens, the
// target verifies them in one forward pass over all of them, and the agreeing prefix is
// kept (engine/speculative_acceptance.h); greedy output is identical to decoding without
// the draft. Requests with a JSON constraint or grammar decode without it.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/generation_request.h"
#include "engine/sampler.h"
#include "engine/speculative_acceptance.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"
#include "model/tokenizer.h"

namespace ragd::engine {

class SequenceDraft;  // engine/speculative_draft.h

class Generator {
 public:
  // ctx_size: the most positions (prompt + generated) one call may use.
  Generator(model::LlamaModel& model, const model::Tokenizer& tokenizer, size_t ctx_size,
            size_t prefill_chunk = 512);
  ~Generator();

  // Streams text pieces to on_text (which returns false to cancel). Throws ragd::Error when
  // the prompt does not fit in the context.
  GenerationResult generate(std::span<const int32_t> prompt, const GenerationOptions& options,
                            const std::function<bool(std::string_view)>& on_text = {});

  // Evaluates `tokens` after the cached ones and returns the logits of the last one
  // (tests and benchmarks drive the model step by step with this).
  std::span<const float> evaluate(std::span<const int32_t> tokens);
  // Decodes with `draft` (which must outlive the generator and share the target's
  // vocabulary: DraftModel::load checks it) proposing draft_tokens (1..kMaxDraftTokens)
  // tokens per target pass. nullptr turns speculation off.
  void set_draft(model::LlamaModel* draft, size_t draft_tokens);
  // Prompt-lookup drafting instead (engine/speculative_lookup.h): no draft model, up to
  // draft_tokens tokens copied from the sequence itself; 0 turns it off.
  void set_prompt_lookup(size_t draft_tokens);
  // Totals over every generate() call since set_draft / set_prompt_lookup.
  const SpeculativeStats& speculative_stats() const { return spec_stats_; }

  void reset();  // forget the cache
  const std::vector<int32_t>& cached_tokens() const { return cached_; }
  size_t ctx_size() const { return ctx_size_; }

 private:
  size_t reuse_prefix(std::span<const int32_t> prompt);
  // One forward pass over `tokens` (at most a prefill chunk) with a row of logits for each.
  std::span<const float> evaluate_all(std::span<const int32_t> tokens);

  model::LlamaModel& model_;
  const model::Tokenizer& tokenizer_;
  size_t ctx_size_;
  size_t prefill_chunk_;
  std::unique_ptr<model::KvCache> cache_;
  model::LinearBlockAllocator allocator_;
  std::vector<uint32_t> blocks_;
  std::vector<int32_t> cached_;  // tokens whose keys/values are in the cache, in order
  std::vector<float> logits_;
  std::unique_ptr<SequenceDraft> draft_;
  size_t draft_tokens_ = 0;
  bool lookup_ = false;  // prompt lookup instead of draft_
  SpeculativeStats spec_stats_;
};

}  // namespace ragd::engine
