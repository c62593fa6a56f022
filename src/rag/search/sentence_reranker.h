// SentenceReranker: late interaction with a bi-encoder (all-MiniLM-L6-v2), the reranker
// ragd ships while no registry carries a cross-encoder checkpoint.
//
// A chunk's embedding averages everything it says, so a chunk that answers the query in
// one sentence among ten unrelated ones scores low. This reranker splits each candidate
// into sentences (split_sentences below), embeds them with the same Embedder as the query
// (batched in one embed_passages call; the EmbeddingService's LRU cache keeps sentences
// seen before), and scores a candidate by the best cosine similarity between the query
// and any window of `window` consecutive sentences.
//
// Thread-safe when the Embedder is (ModelEmbedder is).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rag/search/embedder.h"
#include "rag/search/scoring_reranker.h"

namespace ragd::rag {

struct SentenceRerankerOptions {
  // The first stage's share of the fused score in retrieval (rerank_fusion.h): an equal
  // mix, set before any measurement (not tuned on a test set; docs/retrieval.md).
  double first_stage_weight = 0.5;
  size_t window = 1;          // sentences per scored unit, sliding by one
  size_t min_chars = 24;      // shorter fragments are joined to the next sentence
  size_t max_sentences = 48;  // per candidate; the rest of a longer text is not scored
};

// Sentences of `text`: each line is split after '.', '!' or '?' (and any closing quotes
// or brackets) when whitespace and then an upper-case letter follow; fragments shorter
// than min_chars are joined to the next one (the last to the previous). Blank lines and
// surrounding whitespace are dropped. Never empty for text with a non-space character.
std::vector<std::string> split_sentences(std::string_view text, size_t min_chars = 24);

class SentenceReranker final : public ScoringReranker {
 public:
  // `embedder` is not owned and must outlive the reranker.
  explicit SentenceReranker(Embedder& embedder, SentenceRerankerOptions options = {});

  std::string name() const override { return "sentence"; }
  // Best window cosine in [-1, 1] per text; an empty text scores -1.
  std::vector<double> score(std::string_view query, std::span<const std::string_view> texts) override;

 private:
  Embedder& embedder_;
  SentenceRerankerOptions options_;
};

}  // namespace ragd::rag
