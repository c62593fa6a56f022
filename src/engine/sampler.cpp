#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/token_constraint.h"
#include "util/error.h"

namespace ragd::engine {

void SamplingParams::validate() const {
  if (!(temperature >= 0.0f) || temperature > 100.0f) fail("temperature must be in [0, 100]");
  if (!(top_p > 0.0f) || top_p > 1.0f) fail("top_p must be in (0, 1]");
  if (!(min_p >= 0.0f) || min_p > 1.0f) fail("min_p must be in [0, 1]");
  if (!(repeat_penalty > 0.0f)) fail("repeat_penalty must be > 0");
  if (repeat_last_n < -1) fail("repeat_last_n must be >= -1");
  if (!(std::fabs(frequency_penalty) <= 2.0f)) fail("frequency_penalty must be in [-2, 2]");
  if (!(std::fabs(presence_penalty) <= 2.0f)) fail("presence_penalty must be in [-2, 2]");
}

int32_t argmax(std::span<const float> logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

TokenLogprobs token_logprobs(std::span<const float> logits, int32_t chosen, size_t k) {
  if (logits.empty()) fail("token_logprobs: empty logits");
  if (chosen < 0 || static_cast<size_t>(chosen) >= logits.size()) fail("token_logprobs: token {} is outside the row", chosen);
  k = std::min({k, kMaxTopLogprobs, logits.size()});
  const float max_logit = *std::max_element(logits.begin(), logits.end());
  TokenLogprobs out;
  out.id = chosen;
  if (!(max_logit > -std::numeric_limits<float>::infinity()) || std::isnan(max_logit)) {
    // No finite logit (or a NaN from a broken forward pass): no distribution to speak of.
    fail("token_logprobs: the logits hold no finite maximum");
  }
  // Better = larger logit, then lower id: a strict total order, so the heap's result does
  // not depend on the visiting order and ties match argmax (lowest index).
  auto better = [](const TokenProb& a, const TokenProb& b) {
    return a.logprob > b.logprob || (a.logprob == b.logprob && a.id < b.id);
  };
  std::vector<TokenProb>& top = out.top;
  top.reserve(k);
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const float x = logits[i];
    // Float exp (a few ns; double exp costs ~4x per vocabulary entry), summed in double so
    // that 150k small terms lose nothing. exp(-inf) = 0: a banned token adds nothing.
    sum += static_cast<double>(std::exp(x - max_logit));
    if (k == 0) continue;
    const TokenProb c{static_cast<int32_t>(i), x};
    if (top.size() < k) {
      top.push_back(c);
      std::push_heap(top.begin(), top.end(), better);
    } else if (better(c, top.front())) {
      std::pop_heap(top.begin(), top.end(), better);
      top.back() = c;
      std::push_heap(top.begin(), top.end(), better);
    }
  }
  std::sort_heap(top.begin(), top.end(), better);
  // sum >= 1 (the maximum contributes exp(0)), so the log is finite and >= 0.
  const double lse = static_cast<double>(max_logit) + std::log(sum);
  auto logprob = [lse](float x) { return static_cast<float>(std::min(0.0, static_cast<double>(x) - lse)); };
  for (auto& t : top) t.logprob = logprob(t.logprob);
  out.logprob = logprob(logits[chosen]);
  return out;
}

Sampler::Sampler(SamplingParams params) : Sampler(std::move(params), nullptr) {}

Sampler::Sampler(SamplingParams params, std::unique_ptr<TokenConstraint> constraint)
    : params_(std::move(params)), constraint_(std::move(constraint)), rng_(params_.seed) {
  params_.validate();
}

Sampler::~Sampler() = default;
Sampler::Sampler(Sampler&&) noexcept = default;
Sampler& Sampler::operator=(Sampler&&) noexcept = default;

bool Sampler::constraint_done() const { return constraint_ && constraint_->done(); }

void Sampler::apply_bias_and_penalties(std::span<float> logits,
                                       std::span<const int32_t> history) {
  const auto n_vocab = static_cast<int32_t>(logits.size());
  for (const auto& [id, bias] : params_.logit_bias) {
    if (id >= 0 && id < n_vocab) logits[id] += bias;
  }
  if (params_.copy_bias) params_.copy_bias->apply(logits, history);
  const bool penalise = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                        params_.presence_penalty != 0.0f;
  if (!penalise || history.empty()) return;
  size_t window = params_.repeat_last_n < 0 ? history.size()
                                            : std::min<size_t>(history.size(), params_.repeat_last_n);
  std::unordered_map<int32_t, int> counts;
  for (size_t i = history.size() - window; i < history.size(); ++i) ++counts[history[i]];
  for (const auto& [id, count] : counts) {
    if (id < 0 || id >= n_vocab) continue;
    float& l = logits[id];
    // llama.cpp / CTRL-style: shrink positive logits, grow negative ones.
    l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history) {
  apply_bias_and_penalties(logits, history);
  if (!constraint_) return draw(logits);
  // As many valid candidates as the draw can use: top_k when set (256 when off: top-p and
  // min-p keep far fewer from any peaked distribution), one when greedy.
  const size_t want = params_.temperature <= 0.0f ? 1 : params_.top_k > 0 ? static_cast<size_t>(params_.top_k) : 256;
  constraint_->mask(logits, want);
  const int32_t id = draw(logits);
  constraint_->accept(id);
  return id;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, size_t top_k,
                        TokenLogprobs& out) {
  // The row is modified in place by sample(); the logprobs are of the row as it came.
  raw_.assign(logits.begin(), logits.end());
  const int32_t id = sample(logits, history);
  out = token_logprobs(raw_, id, top_k);
  return id;
}

int32_t Sampler::draw(std::span<const float> logits) {
  if (params_.temperature <= 0.0f) return argmax(logits);
  tempered_candidates(logits);
  double sum = 0.0;
  for (const auto& c : candidates_) sum += c.p;
  double r = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  for (const auto& c : candidates_) {
    r -= c.p;
    if (r <= 0.0) return c.id;
  }
  return candidates_.back().id;
}

void Sampler::distribution(std::span<float> logits, std::span<const int32_t> history,
                           std::vector<TokenWeight>& out) {
  if (constraint_) fail("sampler: no distribution for a constrained sampler");
  apply_bias_and_penalties(logits, history);
  out.clear();
  if (params_.temperature <= 0.0f) {
    out.push_back({argmax(logits), 1.0});
    return;
  }
  tempered_candidates(logits);
  double sum = 0.0;
  for (const auto& c : candidates_) sum += c.p;
  for (const auto& c : candidates_) out.push_back({c.id, c.p / sum});
}

int32_t Sampler::draw_from(std::span<const TokenWeight> weights) {
  double sum = 0.0;
  for (const auto& w : weights) sum += std::max(w.p, 0.0);
  if (!(sum > 0.0)) fail("sampler: nothing to draw from");
  double r = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  int32_t last = weights.front().id;
  for (const auto& w : weights) {
    if (w.p <= 0.0) continue;
    last = w.id;
    r -= w.p;
    if (r <= 0.0) return w.id;
  }
  return last;
}

double Sampler::uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

void Sampler::tempered_candidates(std::span<const float> logits) {

  // Candidates in descending logit order, ties by ascending id (a strict total order, so
  // the kept set and its order do not depend on the selection algorithm).
  auto better = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  candidates_.clear();
  const size_t k = params_.top_k > 0 ? static_cast<size_t>(params_.top_k) : 0;
  if (k > 0 && k < logits.size()) {
    // One pass with a k-element heap whose top is the worst kept candidate: most logits
    // lose a single comparison against it, so a 49k vocabulary costs ~one read per logit
    // instead of materialising and partially sorting every candidate (this runs on the
    // scheduler thread, once per sequence per step).
    for (size_t i = 0; i < logits.size(); ++i) {
      const Candidate c{static_cast<int32_t>(i), logits[i], 0.0f};
      if (!(c.logit > -std::numeric_limits<float>::infinity())) continue;
      if (candidates_.size() < k) {
        candidates_.push_back(c);
        std::push_heap(candidates_.begin(), candidates_.end(), better);
      } else if (better(c, candidates_.front())) {
        std::pop_heap(candidates_.begin(), candidates_.end(), better);
        candidates_.back() = c;
        std::push_heap(candidates_.begin(), candidates_.end(), better);
      }
    }
    std::sort_heap(candidates_.begin(), candidates_.end(), better);
  } else {
    for (size_t i = 0; i < logits.size(); ++i) {
      if (logits[i] > -std::numeric_limits<float>::infinity()) {
        candidates_.push_back({static_cast<int32_t>(i), logits[i], 0.0f});
      }
    }
    std::sort(candidates_.begin(), candidates_.end(), better);
  }
  if (candidates_.empty()) fail("every token is banned by logit_bias");
  // Probabilities of the untempered distribution over the survivors.
  const float max_logit = candidates_[0].logit;
  double sum = 0.0;
  for (auto& c : candidates_) sum += (c.p = std::exp(c.logit - max_logit));
  for (auto& c : candidates_) c.p = static_cast<float>(c.p / sum);
  if (params_.top_p < 1.0f) {
    double cumulative = 0.0;
    size_t n = 0;
    while (n < candidates_.size()) {
      cumulative += candidates_[n++].p;
      if (cumulative >= params_.top_p) break;
    }
    candidates_.resize(n);
  }
  if (params_.min_p > 0.0f) {
    const float threshold = params_.min_p * candidates_[0].p;
    size_t n = 1;
    while (n < candidates_.size() && candidates_[n].p >= threshold) ++n;
    candidates_.resize(n);
  }
  // Temperature on what is left (the draw normalises).
  for (auto& c : candidates_) c.p = std::exp((c.logit - max_logit) / params_.temperature);
}

}  // namespace ragd::engine
