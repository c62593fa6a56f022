// Draft models for speculative decoding (engine/speculative_acceptance.h has the rule that
// keeps or rejects their tokens).
//
// DraftModel: a smaller model of the target's tokenizer family, loaded to compute on the
// target's thread pool (the two never run at once: drafting and verifying alternate). Its
// vocabulary must be the target's token for token, or its ids would mean other text;
// load() refuses a draft that differs and names the first differing token.
//
// SequenceDraft: one sequence's draft state for the single-sequence Generator: its own KV
// cache and the tokens in it. propose() first brings the cache up to the sequence's history
// (reusing the agreeing prefix, so a rejected draft's positions are simply overwritten:
// that is the draft's KV rollback), then runs the draft k - 1 more times, one token each.
// The last proposed token is not evaluated; the next propose() evaluates it if it was kept.
// The serving scheduler drafts for many sequences at once with its own batched passes.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/llm.h"
#include "engine/sampler.h"
#include "engine/speculative_acceptance.h"
#include "model/kv_cache.h"
#include "model/llama_model.h"

namespace ragd::engine {

inline constexpr size_t kDefaultDraftTokens = 4;
inline constexpr size_t kMaxDraftTokens = 16;

struct DraftModel {
  std::string path;
  std::shared_ptr<const model::GgufFile> file;
  std::unique_ptr<model::Tokenizer> tokenizer;
  std::unique_ptr<model::LlamaModel> model;

  // Throws ragd::Error for a file that does not load or a vocabulary unlike the target's.
  static std::unique_ptr<DraftModel> load(const std::string& path, const Llm& target);
};

// Throws ragd::Error naming the first difference between the two vocabularies (size, or a
// token's text) and the models' output widths.
void check_same_vocabulary(const model::Tokenizer& target, size_t target_vocab,
                           const model::Tokenizer& draft, size_t draft_vocab);

class SequenceDraft {
 public:
  // ctx_size: the most positions one sequence may use (as the Generator's).
  SequenceDraft(model::LlamaModel& draft, size_t ctx_size, size_t prefill_chunk = 512);

  // Proposes k >= 1 tokens following `history` (prompt and generated tokens; the last one
  // not yet evaluated by anyone), sampled by `draft_sampler` (see propose_token).
  void propose(std::span<const int32_t> history, size_t k, Sampler& draft_sampler, DraftProposal& out);
  // Brings the cache up to `tokens` (a prompt, before its first token is sampled), so that
  // the draft's prefill is done with the target's rather than in the first round.
  void prefill(std::span<const int32_t> tokens);
  void reset();

 private:
  std::span<const float> evaluate(std::span<const int32_t> tokens);

  model::LlamaModel& model_;
  size_t ctx_size_, prefill_chunk_;
  std::unique_ptr<model::KvCache> cache_;
  model::LinearBlockAllocator allocator_;
  std::vector<uint32_t> blocks_;
  std::vector<int32_t> cached_;   // tokens whose keys/values are in the cache
  std::vector<int32_t> history_;  // scratch: history + proposed tokens
  std::vector<float> logits_, row_;
};

}  // namespace ragd::engine
