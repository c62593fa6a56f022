#include "engine/source_copy_bias.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace ragd::engine {

SourceCopyBias::SourceCopyBias(std::vector<std::vector<int32_t>> sources, size_t prompt_length, float bias,
                               size_t min_match, const std::function<bool(int32_t)>& may_favour)
    : sources_(std::move(sources)), prompt_length_(prompt_length), bias_(bias), min_match_(min_match) {
  if (!(bias_ > 0.0f && bias_ <= 20.0f)) fail("copy bias must be in (0, 20], not {}", bias_);
  if (min_match_ < 1 || min_match_ > kMaxMatch) fail("copy bias min_match must be in [1, {}]", kMaxMatch);
  for (uint32_t s = 0; s < sources_.size(); ++s) {
    const auto& src = sources_[s];
    for (uint32_t i = 0; i + 1 < src.size(); ++i) {
      if (!may_favour || may_favour(src[i + 1])) positions_[src[i]].push_back({s, i});
    }
  }
}

std::vector<int32_t> SourceCopyBias::continuations(std::span<const int32_t> history) const {
  std::vector<int32_t> out;
  if (history.size() <= prompt_length_) return out;
  const std::span<const int32_t> generated = history.subspan(prompt_length_);
  const auto it = positions_.find(generated.back());
  if (it == positions_.end()) return out;
  const size_t longest = std::min(generated.size(), kMaxMatch);
  for (const Position& p : it->second) {
    const auto& src = sources_[p.source];
    // Matched tokens, counting backwards from the one at p.index (which matches already).
    size_t m = 1;
    while (m < longest && m <= p.index && src[p.index - m] == generated[generated.size() - 1 - m]) ++m;
    if (m >= min_match_) out.push_back(src[p.index + 1]);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SourceCopyBias::apply(std::span<float> logits, std::span<const int32_t> history) const {
  for (int32_t id : continuations(history)) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) logits[id] += bias_;
  }
}

}  // namespace ragd::engine
