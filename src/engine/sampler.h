// Sampler: turns one row of logits into the next token id.
//
// The chain follows llama.cpp's default order so that settings mean the same thing to
// users coming from it: logit bias (then the source copy bias, engine/source_copy_bias.h,
// which RAG answers set and no API field does) → repetition/frequency/presence penalties → top-k →
// top-p → min-p (these three on the untempered distribution) → temperature → draw.
// temperature <= 0 is greedy (argmax after bias and penalties). A Sampler owns its
// random generator, so a fixed seed reproduces a sequence of draws.
//
// Log-probabilities (OpenAI `logprobs` / `top_logprobs`), when asked for, are those of the
// model's raw distribution: log-softmax of the logits as the model produced them, before
// logit bias, penalties, a JSON constraint, truncation and temperature. This is what vLLM
// reports by default and what OpenAI's numbers mean for a user: how likely the model found
// a token, independent of this request's sampling settings. So a token that the sampler
// drew may have a logprob below a top alternative (bias, penalties, temperature).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/source_copy_bias.h"

namespace ragd::engine {

struct SamplingParams {
  float temperature = 0.8f;       // <= 0: greedy
  int32_t top_k = 40;             // <= 0: off
  float top_p = 0.95f;            // >= 1: off
  float min_p = 0.05f;            // <= 0: off
  float repeat_penalty = 1.0f;    // 1: off; > 1 discourages tokens in the recent window
  int32_t repeat_last_n = 64;     // window for all three penalties; -1: whole history
  float frequency_penalty = 0.0f; // OpenAI: subtract count * value
  float presence_penalty = 0.0f;  // OpenAI: subtract value once if present
  uint64_t seed = 0xC0FFEE;
  std::unordered_map<int32_t, float> logit_bias;  // added to logits; -inf bans a token
  std::shared_ptr<const SourceCopyBias> copy_bias;  // none: off

  // Throws ragd::Error naming the first out-of-range field.
  void validate() const;
};

// Most alternatives a token's logprobs may list (OpenAI's top_logprobs limit).
inline constexpr size_t kMaxTopLogprobs = 20;

struct TokenProb {
  int32_t id = 0;
  float logprob = 0.0f;  // natural log; <= 0; -inf for a token the model rules out
};

// One sampled token: its logprob and the `k` most likely tokens of the same distribution,
// most likely first (ties: lower id first), so the argmax is top[0].
struct TokenLogprobs {
  int32_t id = 0;
  float logprob = 0.0f;
  std::vector<TokenProb> top;
};

// Log-softmax of `logits` at `chosen`, plus its `k` (<= kMaxTopLogprobs, clamped to the
// vocabulary) most likely tokens. Numerically stable: log-sum-exp around the largest
// logit, accumulated in double. One pass for the maximum, one for the sum and the top-k
// heap; nothing is allocated beyond `k` entries.
TokenLogprobs token_logprobs(std::span<const float> logits, int32_t chosen, size_t k);

// A token and its probability (or unnormalised weight) in a sampling distribution.
struct TokenWeight {
  int32_t id = 0;
  double p = 0.0;
};

class TokenConstraint;

class Sampler {
 public:
  // With a constraint (engine/token_constraint.h: JSON or a GBNF grammar), after bias and
  // penalties only the tokens that keep the output valid stay candidates, and the
  // constraint advances with every sampled token.
  explicit Sampler(SamplingParams params);
  Sampler(SamplingParams params, std::unique_ptr<TokenConstraint> constraint);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  // `logits` is modified in place (bias and penalties). `history` is the sequence so far
  // (prompt and generated tokens) for the penalties.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);
  // As above; also fills `out` with the drawn token's logprobs and its `top_k`
  // (<= kMaxTopLogprobs) alternatives under the model's raw distribution (see the file
  // comment). Costs a copy of the row and a log-sum-exp pass; callers that did not ask for
  // logprobs use the overload above and pay nothing.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, size_t top_k, TokenLogprobs& out);

  // Speculative decoding (engine/speculative_acceptance.h) needs the distribution that
  // sample() draws from, not only a draw. distribution() applies bias and penalties to
  // `logits` in place, as sample() does, and fills `out` with every token the draw could
  // pick and its probability (summing to 1; one token with probability 1 when greedy).
  // Not for a constrained sampler (a constraint advances per sampled token).
  void distribution(std::span<float> logits, std::span<const int32_t> history, std::vector<TokenWeight>& out);
  // One draw from `weights` (need not be normalised; at least one positive) and one uniform
  // number in [0, 1), both from this sampler's random generator.
  int32_t draw_from(std::span<const TokenWeight> weights);
  double uniform();

  const SamplingParams& params() const { return params_; }
  // A constraint's document is complete: nothing more may be generated.
  bool constraint_done() const;

 private:
  struct Candidate {
    int32_t id;
    float logit;
    float p;
  };
  void apply_bias_and_penalties(std::span<float> logits, std::span<const int32_t> history);
  int32_t draw(std::span<const float> logits);
  // The candidates draw() picks from (top-k, top-p, min-p applied), each with its tempered
  // weight in `p`, most likely first. Sampling only (temperature > 0).
  void tempered_candidates(std::span<const float> logits);

  SamplingParams params_;
  std::unique_ptr<TokenConstraint> constraint_;
  std::mt19937_64 rng_;
  std::vector<Candidate> candidates_;
  std::vector<float> raw_;  // the unmodified row, only while logprobs are requested
};

// Index of the largest logit (the lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace ragd::engine
