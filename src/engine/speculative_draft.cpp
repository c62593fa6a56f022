#include "engine/speculative_draft.h"

#include <algorithm>

#include "util/error.h"

namespace ragd::engine {

namespace {
constexpr size_t kBlockTokens = 16;
}

void check_same_vocabulary(const model::Tokenizer& target, size_t target_vocab,
                           const model::Tokenizer& draft, size_t draft_vocab) {
  if (target.vocab_size() != draft.vocab_size()) {
    fail("the draft model's vocabulary has {} tokens, the target's {}: a draft must share the "
         "target's tokenizer (e.g. a smaller model of the same family)",
         draft.vocab_size(), target.vocab_size());
  }
  if (target_vocab != draft_vocab) {
    fail("the draft model has {} output rows, the target {}: they must be equal", draft_vocab, target_vocab);
  }
  for (size_t id = 0; id < target.vocab_size(); ++id) {
    const auto i = static_cast<int32_t>(id);
    if (target.token_text(i) != draft.token_text(i)) {
      fail("the draft model's token {} is '{}', the target's '{}': a draft must share the "
           "target's tokenizer",
           id, draft.token_text(i), target.token_text(i));
    }
  }
}

std::unique_ptr<DraftModel> DraftModel::load(const std::string& path, const Llm& target) {
  auto d = std::make_unique<DraftModel>();
  d->path = path;
  d->file = model::GgufFile::open(path);
  d->tokenizer = model::Tokenizer::from_gguf(*d->file);
  d->model = std::make_unique<model::LlamaModel>(d->file, *target.pool);
  try {
    check_same_vocabulary(*target.tokenizer, target.model->config().n_vocab, *d->tokenizer,
                          d->model->config().n_vocab);
  } catch (const Error& e) {
    fail("draft model {}: {}", path, e.what());
  }
  return d;
}

SequenceDraft::SequenceDraft(model::LlamaModel& draft, size_t ctx_size, size_t prefill_chunk)
    : model_(draft),
      ctx_size_(ctx_size),
      prefill_chunk_(std::max<size_t>(prefill_chunk, 1)),
      // One block more than the target's: the last proposed token may sit one past it.
      cache_(draft.make_cache(kBlockTokens, (ctx_size + kBlockTokens) / kBlockTokens + 1)),
      allocator_(*cache_) {}

void SequenceDraft::reset() {
  cached_.clear();
  blocks_.clear();
  allocator_.reset();
}

std::span<const float> SequenceDraft::evaluate(std::span<const int32_t> tokens) {
  for (size_t done = 0; done < tokens.size(); done += prefill_chunk_) {
    auto chunk = tokens.subspan(done, std::min(prefill_chunk_, tokens.size() - done));
    allocator_.reserve(blocks_, cached_.size() + chunk.size(), kBlockTokens);
    model::SequenceBatch seq{chunk, cached_.size(), blocks_, false};
    model_.forward({&seq, 1}, *cache_, logits_);
    cached_.insert(cached_.end(), chunk.begin(), chunk.end());
  }
  return logits_;
}

void SequenceDraft::prefill(std::span<const int32_t> tokens) {
  size_t common = 0;
  while (common < cached_.size() && common < tokens.size() && cached_[common] == tokens[common]) ++common;
  cached_.resize(common);
  if (common < tokens.size()) evaluate(tokens.subspan(common));
}

void SequenceDraft::propose(std::span<const int32_t> history, size_t k, Sampler& draft_sampler,
                            DraftProposal& out) {
  out.clear();
  if (history.empty() || k == 0) fail("speculative draft: nothing to propose from");
  if (history.size() + k > ctx_size_ + 1) fail("speculative draft: {} tokens past the context", k);
  // Rollback: keep the agreeing prefix, and at least the last token to evaluate.
  size_t common = 0;
  while (common < cached_.size() && common < history.size() && cached_[common] == history[common]) ++common;
  common = std::min(common, history.size() - 1);
  cached_.resize(common);
  history_.assign(history.begin(), history.end());
  auto logits = evaluate(history.subspan(common));
  for (size_t i = 0; i < k; ++i) {
    row_.assign(logits.begin(), logits.end());
    const int32_t id = propose_token(draft_sampler, out, row_, history_);
    history_.push_back(id);
    if (i + 1 < k) logits = evaluate({&history_.back(), 1});
  }
}

}  // namespace ragd::engine
