#include "engine/generation_request.h"

#include "engine/gbnf_constraint.h"
#include "engine/json_constraint.h"
#include "model/tokenizer.h"

namespace ragd::engine {

Sampler make_sampler(const GenerationOptions& options, const model::Tokenizer& tokenizer) {
  if (options.grammar) return Sampler(options.sampling, std::make_unique<GbnfConstraint>(options.grammar, tokenizer));
  if (!options.json_constraint) return Sampler(options.sampling);
  return Sampler(options.sampling, std::make_unique<JsonConstraint>(options.json_constraint, tokenizer));
}

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Timeout: return "timeout";
    case FinishReason::Error: return "error";
  }
  return "?";
}

}  // namespace ragd::engine
