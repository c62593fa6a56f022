// SourceCopyBias: a logit bonus for continuing, in the sources' own words, a passage of
// given source texts that the generated output has begun to repeat.
//
// Why: a small model answering from retrieved passages often states the right fact in its
// own words ("260 km" where the source says "260 kilometres", "August 1, 1944" for "1
// August 1944"), and a paraphrase is harder to verify against the source than a quote. Once
// the output's last tokens match a passage of a source, the token that follows that passage
// gets `bias` added to its logit; the model stays free to leave the passage (a bonus, not a
// constraint), and nothing is favoured before the output has matched a source (so the
// answer's first token, and anything after a token no source holds, is the model's own).
//
// A match is the longest suffix of the generated tokens (history past `prompt_length`; the
// prompt is not the model's output) that occurs in a source, counted up to kMaxMatch tokens;
// every token that follows an occurrence of at least `min_match` tokens gets the bonus once,
// unless `may_favour` says no: the answer service excludes tokens without a letter or digit,
// so that where a clause or sentence ends, and where the citation marker goes, stays the
// model's choice (with punctuation favoured too, answers ran on into the following sentences
// of the source and markers moved behind the full stop).
// Cost per sampled token: one hash lookup of the last token and a short backward comparison
// at each of its occurrences in the sources (a few hundred at most for a frequent token in
// ~1,500 source tokens).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <unordered_map>
#include <vector>

namespace ragd::engine {

class SourceCopyBias {
 public:
  static constexpr size_t kMaxMatch = 8;

  // `sources`: token ids of each source text as the model's tokenizer encodes it.
  // Throws ragd::Error unless bias is finite and in (0, 20] and min_match in [1, kMaxMatch].
  SourceCopyBias(std::vector<std::vector<int32_t>> sources, size_t prompt_length, float bias,
                 size_t min_match = 1, const std::function<bool(int32_t)>& may_favour = {});

  // Adds the bonus to `logits` (a row over the vocabulary) for the tokens that continue a
  // source passage matching the end of `history` (prompt then generated tokens).
  void apply(std::span<float> logits, std::span<const int32_t> history) const;

  // The tokens apply() would favour after `history`, ascending, without duplicates.
  std::vector<int32_t> continuations(std::span<const int32_t> history) const;

  float bias() const { return bias_; }
  size_t min_match() const { return min_match_; }

 private:
  struct Position {
    uint32_t source;
    uint32_t index;
  };
  std::vector<std::vector<int32_t>> sources_;
  // Every position of each token id in the sources whose next token may be favoured (so
  // never a source's last token: nothing follows it there).
  std::unordered_map<int32_t, std::vector<Position>> positions_;
  size_t prompt_length_;
  float bias_;
  size_t min_match_;
};

}  // namespace ragd::engine
