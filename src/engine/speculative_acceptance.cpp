#include "engine/speculative_acceptance.h"

#include <algorithm>
#include <unordered_map>

#include "util/error.h"

namespace ragd::engine {

namespace {

// p(id) in a sparse distribution (0 when absent).
double prob_of(std::span<const TokenWeight> dist, int32_t id) {
  for (const auto& w : dist) {
    if (w.id == id) return w.p;
  }
  return 0.0;
}

}  // namespace

AcceptedToken accept_position(Sampler& sampler, const DraftProposal& draft, size_t i,
                              std::span<float> row, std::span<const int32_t> history,
                              TokenLogprobs* logprobs, size_t top_logprobs) {
  if (i > draft.tokens.size()) fail("speculative: position {} past a draft of {}", i, draft.tokens.size());
  const bool has_draft = i < draft.tokens.size();
  const bool greedy = sampler.params().temperature <= 0.0f;
  if (greedy) {
    // The target's own choice; identical to decoding without a draft.
    const int32_t id = logprobs ? sampler.sample(row, history, top_logprobs, *logprobs)
                                : sampler.sample(row, history);
    return {id, has_draft && id == draft.tokens[i]};
  }
  if (has_draft && draft.dists.size() <= i) fail("speculative: sampling needs the draft's distributions");
  std::vector<float> raw;
  if (logprobs) raw.assign(row.begin(), row.end());
  std::vector<TokenWeight> p;
  sampler.distribution(row, history, p);
  AcceptedToken out;
  if (!has_draft) {
    out.id = sampler.draw_from(p);
  } else {
    const int32_t d = draft.tokens[i];
    const double pd = prob_of(p, d);
    const double qd = prob_of(draft.dists[i], d);
    // Accept with probability min(1, p(d) / q(d)); q(d) > 0 since d was drawn from q.
    if (qd > 0.0 && sampler.uniform() * qd < pd) {
      out = {d, true};
    } else {
      // Residual max(0, p - q): the part of p the draft under-proposes.
      std::unordered_map<int32_t, double> q;
      for (const auto& w : draft.dists[i]) q[w.id] = w.p;
      std::vector<TokenWeight> residual;
      residual.reserve(p.size());
      for (const auto& w : p) {
        const auto it = q.find(w.id);
        const double r = w.p - (it == q.end() ? 0.0 : it->second);
        if (r > 0.0) residual.push_back({w.id, r});
      }
      // Empty only when p <= q everywhere, i.e. p == q, where rejection has probability 0;
      // rounding can still get here, and p itself is then the right law.
      out.id = sampler.draw_from(residual.empty() ? std::span<const TokenWeight>(p) : residual);
    }
  }
  if (logprobs) *logprobs = token_logprobs(raw, out.id, top_logprobs);
  return out;
}

int32_t propose_token(Sampler& draft_sampler, DraftProposal& draft, std::span<float> row,
                      std::span<const int32_t> history) {
  int32_t id;
  if (draft_sampler.params().temperature <= 0.0f) {
    id = draft_sampler.sample(row, history);
  } else {
    draft.dists.emplace_back();
    draft_sampler.distribution(row, history, draft.dists.back());
    id = draft_sampler.draw_from(draft.dists.back());
  }
  draft.tokens.push_back(id);
  return id;
}

size_t draft_length(size_t limit, size_t max_tokens, size_t generated, size_t ctx_size, size_t history) {
  const size_t room_for_tokens = max_tokens > generated + 1 ? max_tokens - generated - 1 : 0;
  const size_t room_in_context = ctx_size > history ? ctx_size - history : 0;
  return std::min({limit, room_for_tokens, room_in_context});
}

}  // namespace ragd::engine
