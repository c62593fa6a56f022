// Token counting for the chunker. The real tokenizer (model/) plugs in as a TokenCounter;
// until then approx_token_count stands in.
//
// Contract the chunker relies on: counting is (close to) additive over whitespace-separated
// words, i.e. count("a b") ≈ count("a") + count("b"). WordPiece and SentencePiece/BPE
// tokenizers pre-split on whitespace, so real tokenizers satisfy it to within a token or
// two per chunk; approx_token_count satisfies it exactly.
#pragma once

#include <cstddef>
#include <functional>
#include <string_view>

namespace ragd::rag {

using TokenCounter = std::function<size_t(std::string_view)>;

// A fast WordPiece-like estimate: every run of letters/digits is one token, plus one more
// per 4 characters beyond the 8th (long and rare words split into pieces); every ASCII
// punctuation mark is a token; every CJK-range code point (encoded in 3+ UTF-8 bytes) is a
// token, as BERT-style tokenizers split those per character. Deterministic and additive.
size_t approx_token_count(std::string_view text);

// Name recorded with chunked documents, so that a change of counter re-chunks them.
inline constexpr const char* kApproxTokenCounterName = "approx-wordpiece-v1";

}  // namespace ragd::rag
