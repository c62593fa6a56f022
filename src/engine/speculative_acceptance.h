// Speculative decoding's acceptance rule: which of a draft model's proposed tokens the
// target model keeps, one position at a time.
//
// A draft of k tokens d_1..d_k was proposed after the sequence's last token; the target ran
// once over [last, d_1..d_k] and produced k + 1 rows of logits: row i predicts the token
// after d_i (row 0: after `last`). accept_position(i) decides the token the sequence gets
// at that position:
//  - greedy (temperature <= 0): the target's own choice, sampler.sample(row i) with the
//    history so far; d_{i+1} is accepted when it equals that choice. Every emitted token is
//    exactly what the target alone would have picked, so the output is identical to
//    decoding without a draft.
//  - sampling: the rule of Leviathan et al. / Chen et al. (2023). With p the target's and q
//    the draft's distribution at the position (both after the same bias, penalties,
//    truncation and temperature), d is accepted with probability min(1, p(d) / q(d)); on
//    rejection the token is drawn from max(0, p - q) normalised. The emitted token is then
//    distributed exactly as p, whatever the draft proposed.
//  - position k (every draft token accepted): a plain draw from row k (the bonus token).
// The caller stops at the first rejected position: later rows were computed after a token
// the sequence does not have. Keys/values of rejected positions are rolled back by the
// caller (engine/scheduler.cpp, engine/generator.cpp: they are simply overwritten later).
//
// Not for constrained samplers (JSON / GBNF): a constraint cannot be rolled back, so such
// sequences decode without a draft.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampler.h"

namespace ragd::engine {

// What a draft model proposed for one sequence.
struct DraftProposal {
  std::vector<int32_t> tokens;                    // d_1..d_k
  std::vector<std::vector<TokenWeight>> dists;    // q at each position (sampling only)
  void clear() {
    tokens.clear();
    dists.clear();
  }
};

struct AcceptedToken {
  int32_t id = 0;
  bool accepted = false;  // id is the draft's token: the next position may be tried too
};

// Decides position i (0 <= i <= draft.tokens.size()) from the target's row for it
// (modified in place, as Sampler::sample does). `history` is the sequence up to and
// including the token before position i. With `logprobs`, fills it with the emitted
// token's logprobs (of the target's raw row) and its `top_logprobs` alternatives.
AcceptedToken accept_position(Sampler& sampler, const DraftProposal& draft, size_t i,
                              std::span<float> row, std::span<const int32_t> history,
                              TokenLogprobs* logprobs = nullptr, size_t top_logprobs = 0);

// The draft model's pick at one position: greedy, the draft sampler's choice; sampling, a
// draw from the draft's distribution q, which is recorded in `draft.dists` for
// accept_position. `draft_sampler` has the request's parameters and its own generator.
int32_t propose_token(Sampler& draft_sampler, DraftProposal& draft, std::span<float> row,
                      std::span<const int32_t> history);

// How many draft tokens a round may propose: at most `limit`, and few enough that the round's
// tokens (up to k + 1) stay within max_tokens and the verify pass's positions (up to
// history - 1 + k) within ctx_size. 0: decode without a draft. The generator and the
// scheduler both size their rounds with it.
size_t draft_length(size_t limit, size_t max_tokens, size_t generated, size_t ctx_size, size_t history);

// Counters of speculative decoding (scheduler stats, /metrics, benchmarks).
struct SpeculativeStats {
  uint64_t rounds = 0;    // verification passes of one sequence
  uint64_t proposed = 0;  // draft tokens proposed
  uint64_t accepted = 0;  // draft tokens accepted
  uint64_t emitted = 0;   // tokens emitted by those rounds (accepted + one per round)
  double acceptance_rate() const { return proposed ? double(accepted) / double(proposed) : 0.0; }
  SpeculativeStats& operator+=(const SpeculativeStats& o) {
    rounds += o.rounds;
    proposed += o.proposed;
    accepted += o.accepted;
    emitted += o.emitted;
    return *this;
  }
};

}  // namespace ragd::engine
