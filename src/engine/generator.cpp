#include "engine/generator.h"

#include <algorithm>
#include <optional>

#include "engine/output_processor.h"
#include "engine/speculative_draft.h"
#include "engine/speculative_lookup.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::engine {

namespace {
constexpr size_t kBlockTokens = 16;
}

Generator::Generator(model::LlamaModel& model, const model::Tokenizer& tokenizer,
                     size_t ctx_size, size_t prefill_chunk)
    : model_(model),
      tokenizer_(tokenizer),
      ctx_size_(ctx_size),
      prefill_chunk_(std::max<size_t>(prefill_chunk, 1)),
      cache_(model.make_cache(kBlockTokens, (ctx_size + kBlockTokens - 1) / kBlockTokens)),
      allocator_(*cache_) {}

Generator::~Generator() = default;

void Generator::set_draft(model::LlamaModel* draft, size_t draft_tokens) {
  if (draft && (draft_tokens == 0 || draft_tokens > kMaxDraftTokens)) {
    fail("draft tokens must be 1..{}, not {}", kMaxDraftTokens, draft_tokens);
  }
  draft_ = draft ? std::make_unique<SequenceDraft>(*draft, ctx_size_, prefill_chunk_) : nullptr;
  draft_tokens_ = draft ? draft_tokens : 0;
  lookup_ = false;
  spec_stats_ = {};
}

void Generator::set_prompt_lookup(size_t draft_tokens) {
  if (draft_tokens > kMaxDraftTokens) fail("draft tokens must be 1..{}, not {}", kMaxDraftTokens, draft_tokens);
  draft_.reset();
  draft_tokens_ = draft_tokens;
  lookup_ = draft_tokens > 0;
  spec_stats_ = {};
}

void Generator::reset() {
  if (draft_) draft_->reset();
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

std::span<const float> Generator::evaluate_all(std::span<const int32_t> tokens) {
  if (tokens.empty() || tokens.size() > prefill_chunk_ || cached_.size() + tokens.size() > ctx_size_) {
    fail("evaluate_all: {} tokens after {} do not fit", tokens.size(), cached_.size());
  }
  allocator_.reserve(blocks_, cached_.size() + tokens.size(), kBlockTokens);
  model::SequenceBatch seq{tokens, cached_.size(), blocks_, true};
  model_.forward({&seq, 1}, *cache_, logits_);
  cached_.insert(cached_.end(), tokens.begin(), tokens.end());
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
  const bool speculate = (draft_ || lookup_) && !options.json_constraint && !options.grammar;
  if (speculate && draft_) draft_->prefill(prompt);  // part of the prefill's time, not the first round's
  result.prefill_seconds = clock.seconds();

  Sampler sampler = make_sampler(options, tokenizer_);
  OutputProcessor output(options, tokenizer_, prompt.size(), ctx_size_);
  auto emit = [&](const std::string& text) {
    result.text += text;
    return text.empty() || !on_text || on_text(text);
  };
  std::vector<int32_t> history(prompt.begin(), prompt.end());
  // Records `id` (the next token) and applies the per-token rules (engine/output_processor.h);
  // says whether generation goes on.
  auto take = [&](int32_t id, TokenLogprobs& lp) {
    history.push_back(id);
    result.tokens.push_back(id);
    TokenOutput out = output.push(id, sampler.constraint_done());
    if (out.text_token && options.logprobs >= 0) result.logprobs.push_back(std::move(lp));
    if (!emit(out.text)) {
      result.finish = FinishReason::Cancelled;
      return false;
    }
    if (out.finish) result.finish = *out.finish;
    return !out.finish;
  };
  auto sample = [&](std::span<float> row, TokenLogprobs& lp) {
    return options.logprobs < 0 ? sampler.sample(row, history)
                                : sampler.sample(row, history, static_cast<size_t>(options.logprobs), lp);
  };
  std::optional<Sampler> draft_sampler;
  if (speculate) {
    SamplingParams dp = options.sampling;
    dp.seed = ~dp.seed;  // its own draws: the target's stay those of the request's seed
    draft_sampler.emplace(std::move(dp));
  }
  DraftProposal proposal;
  std::vector<float> row;
  clock.reset();
  result.finish = FinishReason::Length;
  TokenLogprobs lp;
  bool more = take(sample(logits, lp), lp);
  while (more) {
    Stopwatch step;
    const size_t before = result.tokens.size();
    const size_t k =
        speculate ? draft_length(draft_tokens_, options.max_tokens, result.tokens.size(), ctx_size_, history.size())
                  : 0;
    if (k > 0 && lookup_) {
      proposal.clear();
      lookup_draft(history, k, proposal.tokens);
      // A point mass at each proposed token (see speculative_lookup.h).
      for (int32_t d : proposal.tokens) proposal.dists.push_back({{d, 1.0}});
    }
    if (k > 0 && !lookup_) draft_->propose(history, k, *draft_sampler, proposal);
    if (k > 0 && !proposal.tokens.empty()) {
      const size_t n_draft = proposal.tokens.size();  // lookup may find fewer than k
      const size_t kept = history.size() - 1;  // the target has evaluated history[0, kept)
      std::vector<int32_t> verify = {history.back()};
      verify.insert(verify.end(), proposal.tokens.begin(), proposal.tokens.end());
      auto rows = evaluate_all(verify);
      const size_t n_vocab = rows.size() / verify.size();
      size_t accepted = 0;
      for (size_t i = 0; i <= n_draft && more; ++i) {
        row.assign(rows.begin() + i * n_vocab, rows.begin() + (i + 1) * n_vocab);
        const auto r = accept_position(sampler, proposal, i, row, history,
                                       options.logprobs < 0 ? nullptr : &lp,
                                       static_cast<size_t>(std::max(options.logprobs, 0)));
        more = take(r.id, lp);
        if (!r.accepted) break;
        ++accepted;
      }
      // KV rollback: positions after the kept draft tokens are overwritten later.
      cached_.resize(kept + 1 + accepted);
      spec_stats_ += {1, n_draft, accepted, result.tokens.size() - before};
    } else {
      auto next = evaluate({&history.back(), 1});
      logits.assign(next.begin(), next.end());
      more = take(sample(logits, lp), lp);
    }
    const size_t n = result.tokens.size() - before;
    for (size_t i = 0; i < n; ++i) result.token_seconds.push_back(step.seconds() / double(n));
  }
  if (result.finish != FinishReason::Cancelled) emit(output.flush());
  result.decode_seconds = clock.seconds();
  return result;
}

}  // namespace ragd::engine
