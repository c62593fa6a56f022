// make_reranker: the reranking stage from its name, as CLI flags and config spell it:
//   "none"          no reranking (nullptr: the Retriever skips the stage)
//   "sentence"      SentenceReranker over the given embedder (rag/search/sentence_reranker.h)
//   "llm:MODEL"     LlmReranker over an instruct GGUF; MODEL is a path or whatever
//                   resolve_model turns into one (an installed model's name)
// first_stage_weight, when set, overrides the reranker's measured default.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rag/search/embedder.h"
#include "rag/search/scoring_reranker.h"

namespace ragd::rag {

struct RerankerDeps {
  Embedder* embedder = nullptr;                                  // needed by "sentence"
  std::function<std::string(const std::string&)> resolve_model;  // empty: MODEL is a path
  std::optional<double> first_stage_weight;
  size_t threads = 0;                                            // "llm": 0 = all cores
};

// Throws ragd::Error for an unknown name, "sentence" without an embedder, or a model that
// cannot be loaded.
std::unique_ptr<ScoringReranker> make_reranker(std::string_view spec, const RerankerDeps& deps);

// The names make_reranker accepts, for help texts.
inline constexpr const char* kRerankerNames = "none, sentence or llm:MODEL";

}  // namespace ragd::rag
