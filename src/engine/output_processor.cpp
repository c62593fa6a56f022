#include "engine/output_processor.h"

#include <algorithm>

namespace ragd::engine {

bool ends_generation(const GenerationOptions& options, const model::Tokenizer& tokenizer, int32_t id) {
  const bool constrained = options.json_constraint || options.grammar;
  if ((!options.ignore_eos || constrained) && tokenizer.is_end_of_generation(id)) return true;
  return std::ranges::find(options.stop_token_ids, id) != options.stop_token_ids.end();
}

OutputProcessor::OutputProcessor(const GenerationOptions& options, const model::Tokenizer& tokenizer,
                                 size_t prompt_tokens, size_t ctx_size)
    : options_(options),
      tokenizer_(tokenizer),
      prompt_tokens_(prompt_tokens),
      ctx_size_(ctx_size),
      stops_(options.stop, options.stop_after),
      detok_(tokenizer) {}

TokenOutput OutputProcessor::push(int32_t id, bool constraint_done) {
  ++generated_;
  TokenOutput out;
  if (ends_generation(options_, tokenizer_, id)) {
    out.text_token = false;
    out.finish = FinishReason::Stop;
    return out;
  }
  out.text = stops_.push(detok_.push(id));
  if (stops_.stopped() || constraint_done) {
    out.finish = FinishReason::Stop;
  } else if (generated_ >= options_.max_tokens || prompt_tokens_ + generated_ >= ctx_size_) {
    // Stop while the token still has a position to go to.
    out.finish = FinishReason::Length;
  }
  return out;
}

std::string OutputProcessor::flush() {
  std::string text = stops_.push(detok_.flush());
  return text + stops_.flush();
}

}  // namespace ragd::engine
