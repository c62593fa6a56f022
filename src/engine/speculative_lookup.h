// Prompt-lookup drafting: draft tokens without a draft model, copied from the sequence
// itself. A RAG answer quotes its sources and code repeats its identifiers, so the tokens
// that followed an earlier occurrence of the sequence's last few tokens are often the
// next ones. The target verifies them exactly as a draft model's (engine/
// speculative_acceptance.h); a miss costs only the extra rows of the verify pass, which on
// a memory-bound decode cost little next to reading the weights once.
//
// The proposal: for n from max_ngram down to min_ngram, the most recent earlier occurrence
// of history's last n tokens; the up to k tokens that followed it. Empty when none occurs.
// As a distribution, the proposal is a point mass (q(d) = 1), so under sampling a token is
// kept with probability p(d) and otherwise drawn from p without d.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ragd::engine {

inline constexpr size_t kLookupMaxNgram = 4;
inline constexpr size_t kLookupMinNgram = 2;

// Appends at most k tokens to `out` (cleared first); returns how many.
size_t lookup_draft(std::span<const int32_t> history, size_t k, std::vector<int32_t>& out,
                    size_t max_ngram = kLookupMaxNgram, size_t min_ngram = kLookupMinNgram);

}  // namespace ragd::engine
