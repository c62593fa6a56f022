// LlmReranker: pointwise reranking with an instruct LLM (monoT5 / RankGPT-style). Each
// candidate becomes one chat prompt — "Question: … Passage: … Does the passage answer the
// question? Answer yes or no." — and its relevance is logit(yes) − logit(no) at the first
// generated position (the best-scoring spelling of each: "yes"/"Yes", "no"/"No").
//
// Candidates are prefilled together: prompts are packed into forward passes of at most
// batch_tokens tokens (LlamaModel reads the weights once per pass for all of them), each
// sequence in its own blocks of a KV cache the reranker owns. No tokens are generated.
//
// The reranker owns its own Llm (weights mapped again, own thread pool), so it never
// shares a forward pass with the serving scheduler. Calls are serialised by a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/llm.h"
#include "model/kv_cache.h"
#include "rag/search/scoring_reranker.h"

namespace ragd::rag {

struct LlmRerankerOptions {
  double first_stage_weight = 0.0;   // the LLM's order alone unless measured otherwise
  size_t max_passage_tokens = 256;   // a longer passage keeps its first tokens
  size_t max_query_tokens = 128;     // likewise for the query
  size_t batch_tokens = 2048;        // prompt tokens per forward pass (at least 1024)
  size_t threads = 0;                // 0: all cores
};

class LlmReranker final : public ScoringReranker {
 public:
  // Loads a GGUF instruct model. Throws ragd::Error when it cannot be loaded or its
  // vocabulary spells neither "yes" nor "no" as one token.
  static std::unique_ptr<LlmReranker> open(const std::string& path, LlmRerankerOptions options = {});
  LlmReranker(std::unique_ptr<engine::Llm> llm, LlmRerankerOptions options);

  // "llm:" + the model's general.name (or its file name).
  std::string name() const override { return name_; }
  std::vector<double> score(std::string_view query, std::span<const std::string_view> texts) override;

  // The prompt's token ids for one candidate (exposed for tests).
  std::vector<int32_t> prompt_tokens(std::string_view query, std::string_view passage) const;

 private:
  std::string truncate(std::string_view text, size_t max_tokens) const;
  // Scores prompts[first, last) in one forward pass.
  void score_batch(const std::vector<std::vector<int32_t>>& prompts, size_t first, size_t last,
                   std::vector<double>& out);

  std::unique_ptr<engine::Llm> llm_;
  LlmRerankerOptions options_;
  std::string name_, template_;
  std::vector<int32_t> yes_ids_, no_ids_;
  std::unique_ptr<model::KvCache> cache_;
  std::vector<float> logits_;
  std::mutex mutex_;
};

}  // namespace ragd::rag
