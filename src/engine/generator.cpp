#include "engine/generator.h"

#include <algorithm>

#include "engine/gbnf_constraint.h"
#include "engine/json_constraint.h"
#include "engine/stop_matcher.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::engine {

bool ends_generation(const GenerationOptions& options, const model::Tokenizer& tokenizer, int32_t id) {
  const bool constrained = options.json_constraint || options.grammar;
  if ((!options.ignore_eos || constrained) && tokenizer.is_end_of_generation(id)) return true;
  return std::ranges::find(options.stop_token_ids, id) != options.stop_token_ids.end();
}

Sampler make_sampler(const GenerationOptions& options, const model::Tokenizer& tokenizer) {
  if (options.grammar) return Sampler(options.sampling, std::make_unique<GbnfConstraint>(options.grammar, tokenizer));
  if (!options.json_constraint) return Sampler(options.sampling);
  return Sampler(options.sampling, std::make_unique<JsonConstraint>(options.json_constraint, tokenizer));
}

namespace {
constexpr size_t kBlockTokens = 16;
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

Generator::Generator(model::LlamaModel& model, const model::Tokenizer& tokenizer,
                     size_t ctx_size, size_t prefill_chunk)
    : model_(model),
      tokenizer_(tokenizer),
      ctx_size_(ctx_size),
      prefill_chunk_(std::max<size_t>(prefill_chunk, 1)),
      cache_(model.make_cache(kBlockTokens, (ctx_size + kBlockTokens - 1) / kBlockTokens)),
      allocator_(*cache_) {}

void Generator::reset() {
  cached_.clear();
  blocks_.clear();
  allocator_.reset();
}

std::span<const float> Generator::evaluate(std::span<const int32_t> tokens) {
  if (tokens.empty()) fail("nothing to evaluate");
  if (cached_.size() + tokens.size() > ctx_size_) {
    fail("context is full: {} cached + {} new tokens exceed the context size {}", cached_.size(),
         tokens.size(), ctx_size_);
  }
  for (size_t done = 0; done < tokens.size(); done += prefill_chunk_) {
    auto chunk = tokens.subspan(done, std::min(prefill_chunk_, tokens.size() - done));
    allocator_.reserve(blocks_, cached_.size() + chunk.size(), kBlockTokens);
    model::SequenceBatch seq{chunk, cached_.size(), blocks_, false};
    model_.forward({&seq, 1}, *cache_, logits_);
    cached_.insert(cached_.end(), chunk.begin(), chunk.end());
  }
  return logits_;
}

size_t Generator::reuse_prefix(std::span<const int32_t> prompt) {
  size_t common = 0;
  while (common < cached_.size() && common < prompt.size() && cached_[common] == prompt[common]) {
    ++common;
  }
  // Keep at least one prompt token to evaluate: its logits start the generation.
  common = std::min(common, prompt.size() - 1);
  // Positions past `common` are simply overwritten; the blocks stay owned.
  cached_.resize(common);
  return common;
}

GenerationResult Generator::generate(std::span<const int32_t> prompt,
                                     const GenerationOptions& options,
                                     const std::function<bool(std::string_view)>& on_text) {
  if (prompt.empty()) fail("the prompt is empty");
  if (options.logprobs > static_cast<int32_t>(kMaxTopLogprobs)) {
    fail("logprobs: at most {} alternatives per token", kMaxTopLogprobs);
  }
  if (prompt.size() >= ctx_size_) {
    fail("the prompt has {} tokens; the context holds {}", prompt.size(), ctx_size_);
  }
  GenerationResult result;
  result.prompt_tokens = prompt.size();
  result.reused_prompt_tokens = reuse_prefix(prompt);

  Stopwatch clock;
  auto first = evaluate(prompt.subspan(result.reused_prompt_tokens));
  std::vector<float> logits(first.begin(), first.end());
  result.prefill_seconds = clock.seconds();

  Sampler sampler = make_sampler(options, tokenizer_);
  StopMatcher stops(options.stop, options.stop_after);
  model::StreamingDetokenizer detok(tokenizer_);
  auto emit = [&](const std::string& text) {
    result.text += text;
    return text.empty() || !on_text || on_text(text);
  };
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  clock.reset();
  result.finish = FinishReason::Length;
  for (size_t i = 0; i < options.max_tokens; ++i) {
    Stopwatch step;
    TokenLogprobs lp;
    const int32_t id = options.logprobs < 0
                           ? sampler.sample(logits, history)
                           : sampler.sample(logits, history, static_cast<size_t>(options.logprobs), lp);
    history.push_back(id);
    result.tokens.push_back(id);
    if (ends_generation(options, tokenizer_, id)) {
      result.finish = FinishReason::Stop;
      break;
    }
    if (options.logprobs >= 0) result.logprobs.push_back(std::move(lp));
    if (!emit(stops.push(detok.push(id)))) {
      result.finish = FinishReason::Cancelled;
      break;
    }
    if (stops.stopped() || sampler.constraint_done()) {
      result.finish = FinishReason::Stop;
      break;
    }
    if (i + 1 == options.max_tokens || cached_.size() + 1 >= ctx_size_) break;
    auto next = evaluate({&id, 1});
    logits.assign(next.begin(), next.end());
    result.token_seconds.push_back(step.seconds());
  }
  if (result.finish != FinishReason::Cancelled) emit(stops.push(detok.flush()) + stops.flush());
  result.decode_seconds = clock.seconds();
  return result;
}

}  // namespace ragd::engine
