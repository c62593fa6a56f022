#include "rag/search/reranker_factory.h"

#include "rag/search/llm_reranker.h"
#include "rag/search/sentence_reranker.h"
#include "util/error.h"

namespace ragd::rag {

std::unique_ptr<ScoringReranker> make_reranker(std::string_view spec, const RerankerDeps& deps) {
  if (deps.first_stage_weight && (*deps.first_stage_weight < 0 || *deps.first_stage_weight > 1)) {
    fail("the reranker's first-stage weight must be between 0 and 1");
  }
  if (spec == "none" || spec.empty()) return nullptr;
  if (spec == "sentence") {
    if (!deps.embedder) fail("the sentence reranker needs an embedding model (--embed-model)");
    SentenceRerankerOptions o;
    if (deps.first_stage_weight) o.first_stage_weight = *deps.first_stage_weight;
    return std::make_unique<SentenceReranker>(*deps.embedder, o);
  }
  if (spec.starts_with("llm:") && spec.size() > 4) {
    std::string model(spec.substr(4));
    if (deps.resolve_model) model = deps.resolve_model(model);
    LlmRerankerOptions o;
    o.threads = deps.threads;
    if (deps.first_stage_weight) o.first_stage_weight = *deps.first_stage_weight;
    return LlmReranker::open(model, o);
  }
  fail("unknown reranker '{}' (use {})", spec, kRerankerNames);
}

}  // namespace ragd::rag
