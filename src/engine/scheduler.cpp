// Scheduler: the step loop. Read top to bottom: the shared state (guarded by mu), the
// scheduler thread's own state, submit(), then the step as its named parts.
#include "engine/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "engine/admission_policy.h"
#include "engine/sequence.h"
#include "engine/speculative_lookup.h"
#include "model/kv_cache.h"
#include "util/error.h"
#include "util/log.h"
#include "util/timing.h"

namespace ragd::engine {

// One sequence's share of a step: its next n_tokens pending tokens.
struct ScheduledChunk {
  Sequence* seq;
  size_t n_tokens;
  bool decode;  // one token after a sampled one (else a prefill chunk)
};

struct Scheduler::Impl {
  Impl(Llm& llm, const SchedulerOptions& options, model::LlamaModel* draft);

  // --- shared with client threads, guarded by mu ---
  std::mutex mu;
  std::condition_variable wake;     // scheduler thread: work arrived or stop
  std::condition_variable cleared;  // clear_prefix_cache() callers
  bool stop = false;
  uint64_t clear_requested = 0, clear_done = 0;
  std::vector<std::unique_ptr<Sequence>> incoming;  // submitted, not yet queued
  uint64_t next_id = 0;
  size_t active = 0;                                // accepted and not finished
  std::unordered_map<std::string, size_t> per_user;  // accepted and not finished
  double mean_request_seconds = 0;  // moving average of submit -> finish, for Retry-After
  uint64_t rejected = 0;
  SchedulerStats published;  // the scheduler thread's last snapshot

  std::mutex observer_mu;
  std::function<void(const StepInfo&)> observer;

  // --- scheduler thread only ---
  Llm& llm;
  model::LlamaModel* draft;  // speculative decoding when set
  const SchedulerOptions opt;
  const AdmissionPolicy policy;  // who queues, starts, gives way (engine/admission_policy.h)
  std::unique_ptr<model::KvCache> cache;
  std::unique_ptr<model::KvCache> draft_cache;  // the draft's, same blocks as `cache`
  BlockManager blocks;
  std::vector<std::deque<std::unique_ptr<Sequence>>> waiting;  // by priority, oldest first
  std::vector<std::unique_ptr<Sequence>> running;              // hold blocks
  std::vector<float> logits, draft_logits;
  struct Sampled {
    Sequence* seq = nullptr;
    size_t row = 0;  // in logits
    int32_t id = 0;
    std::string error;  // why sampling failed (e.g. logit_bias banned every token)
    TokenLogprobs logprobs;  // when the sequence asked for them (GenerationOptions::logprobs)
    // A speculative round (seq->draft_k > 0): the tokens verified from rows row.., each
    // with its logprobs, and how many of them are the draft's.
    std::vector<int32_t> ids;
    std::vector<TokenLogprobs> ids_logprobs;
    size_t accepted = 0;
    // A fork's first token (submit_choices): its own copy of its first choice's logits row,
    // since sampling rewrites the row in place and both sample in the same parallel pass.
    std::vector<float> row_copy;
  };
  std::vector<Sampled> to_sample;  // process_outputs scratch
  // Choices to queue again at the next step, each leading the rest of its group: forks whose
  // first choice was cancelled before its prompt was done, or that found no block or slot.
  std::vector<std::unique_ptr<Sequence>> regrouped;
  SchedulerStats counters;  // steps, tokens, outcomes (published with each snapshot)

  std::thread thread;  // last: starts once everything above exists

  void loop();
  bool has_work() const;
  void take_incoming();  // mu held

  // The step, in order.
  void step();
  void retire_cancelled();
  void requeue_regrouped();
  void admit_waiting();
  size_t reserved_slots() const;
  bool try_admit(Sequence& s);
  void expire_waiting();
  std::vector<ScheduledChunk> build_batch();
  void reserve_decode_blocks();
  size_t propose_by_lookup(Sequence& s, size_t k);
  void preempt(std::unique_ptr<Sequence> s);
  bool run_draft(const std::vector<ScheduledChunk>& plan);
  bool run_forward(const std::vector<ScheduledChunk>& plan);
  void process_outputs(const std::vector<ScheduledChunk>& plan);
  void fork_choices(Sequence& s, size_t row, std::vector<std::unique_ptr<Sequence>>& forked);
  void regroup(std::vector<std::unique_ptr<Sequence>> choices, std::optional<Clock::time_point> started);
  void verify_draft(Sampled& x, size_t n_vocab);
  void finish_round(Sampled& x);
  size_t registrable(const Sequence& s) const {
    return draft ? std::min(s.n_computed, s.draft_computed) : s.n_computed;
  }
  void stream_sampled(Sequence& s, int32_t id, TokenLogprobs* logprobs);
  void remove_done();

  // Ending a sequence.
  void finish(Sequence& s, FinishReason reason, const std::string& error = {});
  void end_forks(Sequence& s, FinishReason reason, const std::string& error);
  void fail_everything(const std::string& message);
  void cancel_everything();
  GenerationSummary summary_of(const Sequence& s) const;
  void publish_stats();  // mu held
};

namespace {

// The draft's blocks come out of the same budget: one block of the pool is both caches'.
size_t kv_blocks_for(const Llm& llm, const model::LlamaModel* draft, const SchedulerOptions& opt) {
  const auto& c = llm.model->config();
  size_t per_block =
      model::KvCache::bytes_per_block(c.n_layer, c.kv_dim(), opt.block_tokens, opt.kv_type);
  if (draft) {
    const auto& d = draft->config();
    per_block += model::KvCache::bytes_per_block(d.n_layer, d.kv_dim(), opt.block_tokens, opt.kv_type);
  }
  const size_t one_sequence = BlockManager::blocks_for(opt.ctx_size, opt.block_tokens);
  return std::max(opt.max_kv_cache_bytes / per_block, one_sequence);
}

SchedulerOptions checked(SchedulerOptions o) {
  if (o.ctx_size < 2) fail("scheduler: ctx_size must be at least 2");
  o.block_tokens = std::max<size_t>(o.block_tokens, 1);
  o.max_batch_size = std::max<size_t>(o.max_batch_size, 1);
  // Every running sequence must be able to decode in every step.
  o.max_batch_tokens = std::max(o.max_batch_tokens, o.max_batch_size);
  o.priority_levels = std::max<size_t>(o.priority_levels, 1);
  if (o.draft_tokens == 0 || o.draft_tokens > 16) fail("scheduler: draft_tokens must be 1..16");
  return o;
}

AdmissionLimits limits_of(const SchedulerOptions& o) {
  return {o.max_concurrent, o.max_per_user, o.max_batch_size, o.queue_timeout};
}

// Best first (AdmissionPolicy::before): higher priority (lower number), then older.
bool before(const Sequence& a, const Sequence& b) {
  return AdmissionPolicy::before({a.priority, a.id}, {b.priority, b.id});
}

}  // namespace

Scheduler::Impl::Impl(Llm& llm_, const SchedulerOptions& options, model::LlamaModel* draft_)
    : llm(llm_),
      draft(draft_),
      opt(checked(options)),
      policy(limits_of(opt)),
      cache(llm_.model->make_cache(opt.block_tokens, kv_blocks_for(llm_, draft_, opt), opt.kv_type)),
      draft_cache(draft_ ? draft_->make_cache(opt.block_tokens, cache->n_blocks(), opt.kv_type) : nullptr),
      blocks(cache->n_blocks(), opt.block_tokens, opt.prefix_caching),
      waiting(opt.priority_levels) {
  if (draft && opt.prompt_lookup) fail("scheduler: a draft model and prompt lookup exclude each other");
  if (draft && draft->config().n_vocab != llm.model->config().n_vocab) {
    fail("scheduler: the draft model's vocabulary ({}) is not the target's ({})",
         draft->config().n_vocab, llm.model->config().n_vocab);
  }
  counters.speculative = draft != nullptr || opt.prompt_lookup;
  if (draft) {
    log::info("scheduler: speculative decoding, {} draft tokens per step ({:.1f} MiB of draft KV)",
              opt.draft_tokens, draft_cache->bytes() / 1048576.0);
  } else if (opt.prompt_lookup) {
    log::info("scheduler: speculative decoding by prompt lookup, up to {} tokens per step", opt.draft_tokens);
  }
  log::info("scheduler: {} KV cache of {} blocks x {} tokens ({:.1f} MiB, {} full-context sequences)",
            kernels::kv_type_name(opt.kv_type), cache->n_blocks(), opt.block_tokens,
            cache->bytes() / 1048576.0,
            cache->n_blocks() / BlockManager::blocks_for(opt.ctx_size, opt.block_tokens));
  publish_stats();
  thread = std::thread([this] { loop(); });
}

Scheduler::Scheduler(Llm& llm, SchedulerOptions options, model::LlamaModel* draft)
    : impl_(std::make_unique<Impl>(llm, options, draft)), options_(impl_->opt) {}

Scheduler::~Scheduler() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  impl_->thread.join();
}

// ---------------------------------------------------------------------------------------
// Client side: admission control, stats, cache admin.

Admission Scheduler::submit(GenerationRequest request) {
  const uint64_t seed = request.options.sampling.seed;
  return submit_choices(std::move(request), std::span(&seed, 1));
}

Admission Scheduler::submit_choices(GenerationRequest request, std::span<const uint64_t> seeds) {
  Admission a;
  auto refuse = [&](AdmitStatus status, std::string message, double retry_after = 0) {
    a.status = status;
    a.message = std::move(message);
    a.retry_after_seconds = retry_after;
    return a;
  };
  const size_t n = seeds.size();
  const size_t n_vocab = impl_->llm.model->config().n_vocab;
  std::string invalid;
  if (n == 0) invalid = "no choices were asked for";
  if (invalid.empty() && request.prompt.empty()) invalid = "the prompt is empty";
  for (int32_t id : request.prompt) {
    if (!invalid.empty()) break;
    if (id < 0 || static_cast<size_t>(id) >= n_vocab) {
      invalid =
          fmt::format("prompt token id {} is outside the vocabulary (0..{})", id, n_vocab - 1);
    }
  }
  if (invalid.empty() && request.options.max_tokens == 0) invalid = "max_tokens must be at least 1";
  if (invalid.empty() && request.options.logprobs > static_cast<int32_t>(kMaxTopLogprobs)) {
    invalid = fmt::format("logprobs: at most {} alternatives per token", kMaxTopLogprobs);
  }
  if (invalid.empty()) {
    try {
      request.options.sampling.validate();
    } catch (const Error& e) {
      invalid = e.what();
    }
  }
  std::lock_guard lock(impl_->mu);
  if (!invalid.empty()) {
    ++impl_->rejected;
    return refuse(AdmitStatus::Invalid, invalid);
  }
  if (request.prompt.size() + 1 > options_.ctx_size) {
    ++impl_->rejected;
    return refuse(AdmitStatus::TooLong,
                  fmt::format("the prompt has {} tokens; the context holds {} (prompt and "
                              "generated tokens together)",
                              request.prompt.size(), options_.ctx_size));
  }
  auto user = impl_->per_user.find(request.user);
  const size_t user_active = user == impl_->per_user.end() ? 0 : user->second;
  if (auto refusal = impl_->policy.check_submit(impl_->active, user_active, n, impl_->mean_request_seconds)) {
    ++impl_->rejected;
    return refuse(refusal->status, std::move(refusal->message), refusal->retry_after_seconds);
  }
  size_t& mine = impl_->per_user[request.user];  // counted once queued (below)
  request.priority = std::min(request.priority, options_.priority_levels - 1);
  // Choice 0 carries as many others as can run beside it in one batch; any beyond that (n
  // above max_batch_size) are queued as requests of their own.
  const size_t forks = std::min(n, options_.max_batch_size) - 1;
  std::unique_ptr<Sequence> first;
  for (size_t i = 0; i < n; ++i) {
    GenerationRequest choice = i + 1 < n ? request : std::move(request);
    choice.options.sampling.seed = seeds[i];
    auto stream = std::make_shared<RequestStream>();
    a.choices.push_back(stream);
    auto seq = std::make_unique<Sequence>(impl_->next_id++, std::move(choice), *impl_->llm.tokenizer, stream,
                                          options_.ctx_size);
    if ((impl_->draft || options_.prompt_lookup) && !seq->options.json_constraint && !seq->options.grammar) {
      SamplingParams dp = seq->options.sampling;
      dp.seed = ~dp.seed;  // its own draws: the target's stay those of the request's seed
      seq->draft_sampler.emplace(std::move(dp));
    }
    if (i == 0) {
      first = std::move(seq);
    } else if (i <= forks) {
      first->forks.push_back(std::move(seq));
    } else {
      impl_->incoming.push_back(std::move(seq));
    }
  }
  impl_->incoming.insert(impl_->incoming.end() - static_cast<std::ptrdiff_t>(n - 1 - forks), std::move(first));
  a.stream = a.choices.front();
  impl_->active += n;
  mine += n;
  impl_->wake.notify_one();
  return a;
}

SchedulerStats Scheduler::stats() const {
  std::lock_guard lock(impl_->mu);
  SchedulerStats s = impl_->published;
  s.rejected = impl_->rejected;
  for (const auto& seq : impl_->incoming) s.waiting_by_priority[seq->priority] += 1 + seq->forks.size();
  return s;
}

void Scheduler::set_step_observer(std::function<void(const StepInfo&)> observer) {
  std::lock_guard lock(impl_->observer_mu);
  impl_->observer = std::move(observer);
}

void Scheduler::clear_prefix_cache() {
  std::unique_lock lock(impl_->mu);
  const uint64_t ticket = ++impl_->clear_requested;
  impl_->wake.notify_one();
  impl_->cleared.wait(lock, [&] { return impl_->clear_done >= ticket || impl_->stop; });
}

// ---------------------------------------------------------------------------------------
// The scheduler thread.

void Scheduler::Impl::loop() {
  std::unique_lock lock(mu);
  while (true) {
    wake.wait(lock, [&] {
      return stop || clear_requested != clear_done || !incoming.empty() || has_work();
    });
    if (stop) break;
    take_incoming();
    const uint64_t clear_ticket = clear_requested;
    lock.unlock();
    if (clear_ticket != clear_done) blocks.clear_cache();  // clear_done is only written here
    try {
      step();
    } catch (const std::exception& e) {
      // Not a forward failure (run_forward handles those): something is badly wrong, so
      // fail every request rather than loop on it.
      log::error("scheduler step failed: {}", e.what());
      fail_everything(fmt::format("internal error: {}", e.what()));
    }
    lock.lock();
    if (clear_ticket != clear_done) {
      clear_done = clear_ticket;
      publish_stats();
      cleared.notify_all();
    }
  }
  take_incoming();
  lock.unlock();
  cancel_everything();
  lock.lock();
  cleared.notify_all();
}

bool Scheduler::Impl::has_work() const {
  if (!running.empty()) return true;
  return std::any_of(waiting.begin(), waiting.end(), [](const auto& q) { return !q.empty(); });
}

void Scheduler::Impl::take_incoming() {
  for (auto& s : incoming) waiting[s->priority].push_back(std::move(s));
  incoming.clear();
}

void Scheduler::Impl::step() {
  Stopwatch clock;
  retire_cancelled();
  requeue_regrouped();
  admit_waiting();
  expire_waiting();
  const auto plan = build_batch();
  StepInfo info;
  if (!plan.empty() && run_draft(plan) && run_forward(plan)) {
    for (const auto& c : plan) {
      (c.decode ? info.decode_tokens : info.prefill_tokens) += c.n_tokens + (c.decode ? c.seq->draft_k : 0);
    }
    process_outputs(plan);
    ++counters.steps;
    info.sequences = plan.size();
  }
  remove_done();
  {
    std::lock_guard lock(mu);
    publish_stats();
  }
  if (info.sequences > 0) {
    info.seconds = clock.seconds();
    std::lock_guard lock(observer_mu);
    if (observer) observer(info);
  }
}

// 1. A client that went away frees its sequence (and its blocks) here.
void Scheduler::Impl::retire_cancelled() {
  auto cancelled = [](const Sequence& s) { return s.stream->cancelled_.load(std::memory_order_relaxed); };
  // Forks first: a cancelled first choice hands on only the forks still wanted.
  auto retire_forks = [&](Sequence& s) {
    std::erase_if(s.forks, [&](const auto& f) {
      if (cancelled(*f)) finish(*f, FinishReason::Cancelled);
      return cancelled(*f);
    });
  };
  for (auto& s : running) retire_forks(*s);
  for (auto& queue : waiting) {
    for (auto& s : queue) retire_forks(*s);
  }
  for (auto& s : running) {
    if (s->stream->cancelled_.load(std::memory_order_relaxed)) finish(*s, FinishReason::Cancelled);
  }
  remove_done();
  for (auto& queue : waiting) {
    for (auto it = queue.begin(); it != queue.end();) {
      if ((*it)->stream->cancelled_.load(std::memory_order_relaxed)) {
        auto s = std::move(*it);
        it = queue.erase(it);
        finish(*s, FinishReason::Cancelled);
      } else {
        ++it;
      }
    }
  }
}

// Choices that lost their first choice (cancelled) or found no room to fork go back to the
// front of their queue, as one group again: they were admitted before whatever waits there.
void Scheduler::Impl::requeue_regrouped() {
  for (auto& s : regrouped) {
    const size_t priority = s->priority;
    s->queued = Clock::now();
    waiting[priority].push_front(std::move(s));
  }
  regrouped.clear();
}

// Batch slots promised to the forks of running first choices still prefilling.
size_t Scheduler::Impl::reserved_slots() const {
  size_t n = 0;
  for (const auto& s : running) n += s->forks.size();
  return n;
}

// 2. Strict order (priority, then age): a request that does not fit blocks the ones behind
// it, so a long prompt is not starved by a stream of short ones.
void Scheduler::Impl::admit_waiting() {
  for (auto& queue : waiting) {
    while (!queue.empty()) {
      Sequence& s = *queue.front();
      // A first choice brings its forks: a slot for each, kept until they fork.
      if (!policy.has_slots(running.size(), reserved_slots(), s.forks.size())) return;
      if (!try_admit(s)) {
        if (!running.empty()) return;
        // Nothing else holds blocks, so it can never fit (the pool is sized for one full
        // context, so this means a bug, not load): fail it rather than wait forever.
        auto failed = std::move(queue.front());
        queue.pop_front();
        finish(*failed, FinishReason::Error, "the KV cache cannot hold this request");
        continue;
      }
      running.push_back(std::move(queue.front()));
      queue.pop_front();
    }
  }
}

// Takes cached prefix blocks and fresh blocks for every pending token. Keeps one spare block
// per running sequence (and per fork, for the copy of the prompt's last block) so that
// admitting does not immediately force a preemption. Alone, a first choice needs no spare
// for its forks: in a pool too small for them they wait as a group once it has forked
// (fork_choices), rather than fail here for a lack of blocks nothing else holds.
bool Scheduler::Impl::try_admit(Sequence& s) {
  const size_t bt = opt.block_tokens;
  const size_t need_all = BlockManager::blocks_for(s.tokens.size(), bt);
  const size_t spare = AdmissionPolicy::spare_blocks(running.size(), s.forks.size());
  const size_t most_matchable = (s.tokens.size() - 1) / bt;
  if (blocks.available() + most_matchable < need_all + spare) return false;  // skip the lookup
  size_t matched = blocks.match_prefix(s.tokens, s.blocks);
  const size_t full_blocks = s.blocks.size();
  if (blocks.available() < need_all - s.blocks.size() + spare ||
      !blocks.allocate(s.blocks, s.tokens.size())) {
    blocks.release(s.blocks);
    return false;
  }
  // After allocate(): it may evict cached blocks, so the source is looked up afterwards
  // (match_partial guarantees it stays intact until the next allocate).
  const auto partial = blocks.match_partial(s.tokens, std::span(s.blocks).first(full_blocks));
  if (partial.tokens > 0) {
    cache->copy_slots(partial.block, s.blocks[full_blocks], partial.tokens);
    if (draft_cache) draft_cache->copy_slots(partial.block, s.blocks[full_blocks], partial.tokens);
    matched += partial.tokens;
  }
  s.n_computed = matched;
  s.draft_computed = matched;  // registered blocks hold the draft's keys/values too
  if (!s.started()) s.cached_prompt_tokens = matched;  // a recompute is not the client's hit
  return true;
}

// 3. Requests that never got to run within queue_timeout fail. A preempted sequence has
// already streamed text; it waits for its turn instead.
void Scheduler::Impl::expire_waiting() {
  const auto now = Clock::now();
  for (auto& queue : waiting) {
    for (auto it = queue.begin(); it != queue.end();) {
      Sequence& s = **it;
      if (policy.expired(s.started(), seconds_between(s.submitted, now))) {
        auto expired = std::move(*it);
        it = queue.erase(it);
        finish(*expired, FinishReason::Timeout,
               fmt::format("waited {:.1f} s in the queue without being scheduled",
                           seconds_between(expired->submitted, now)));
      } else {
        ++it;
      }
    }
  }
}

// 4. One decode token for every sequence that has sampled, then prefill chunks, best
// sequence first, within max_batch_tokens. Adaptive rule (see scheduler.h): with D of the
// max_batch_size slots decoding, prompts that have waited less than max_wait_time share only
// (1 - D / max_batch_size) of the prefill budget (at least one block); a prompt waiting
// longer may use all of what is left.
std::vector<ScheduledChunk> Scheduler::Impl::build_batch() {
  reserve_decode_blocks();  // also sorts `running` best first
  std::vector<ScheduledChunk> plan;
  size_t budget = opt.max_batch_tokens;
  // Draft tokens take what the decodes leave of the budget, best sequence first.
  size_t spare = budget - static_cast<size_t>(std::count_if(
                              running.begin(), running.end(), [](const auto& s) { return s->pending() == 1; }));
  for (auto& s : running) {
    if (s->pending() == 1) {
      const bool decode = s->generated() > 0;
      s->draft_k = decode ? std::min(s->draft_k, spare) : 0;
      spare -= s->draft_k;
      plan.push_back({s.get(), 1, decode});
      budget -= 1 + s->draft_k;
    } else {
      s->draft_k = 0;
    }
  }
  const size_t decodes = plan.size();
  size_t gentle = budget;  // budget for prompts not yet overdue
  if (opt.adaptive_batch && decodes > 0) {
    const size_t free_slots = opt.max_batch_size - std::min(decodes, opt.max_batch_size);
    gentle = std::min(budget, std::max(opt.block_tokens, budget * free_slots / opt.max_batch_size));
  }
  const auto now = Clock::now();
  for (auto& s : running) {
    if (budget == 0) break;
    if (s->pending() <= 1) continue;
    const bool overdue = seconds_between(s->queued, now) > opt.max_wait_time;
    const size_t limit = overdue ? budget : std::min(budget, gentle);
    if (limit == 0) continue;
    const size_t n = std::min(s->pending(), limit);
    plan.push_back({s.get(), n, false});
    budget -= n;
    gentle -= std::min(gentle, n);
  }
  for (auto& c : plan) {
    if (!c.seq->started()) {
      c.seq->first_scheduled = now;
      c.seq->stream->update(summary_of(*c.seq));
    }
  }
  return plan;
}

// Prompt lookup's proposal for s (at most k tokens, as a point mass each: see
// speculative_lookup.h); returns its length, 0 when nothing matches.
size_t Scheduler::Impl::propose_by_lookup(Sequence& s, size_t k) {
  s.draft.clear();
  lookup_draft(s.tokens, k, s.draft.tokens);
  for (int32_t d : s.draft.tokens) s.draft.dists.push_back({{d, 1.0}});
  return s.draft.tokens.size();
}

// Blocks for each running sequence's pending tokens (only decodes crossing into a new block
// need one). When the pool is exhausted, the worst running sequence (lowest priority, then
// youngest) is preempted until the request fits, possibly the requester itself.
void Scheduler::Impl::reserve_decode_blocks() {
  std::sort(running.begin(), running.end(),
            [](const auto& a, const auto& b) { return before(*a, *b); });
  for (size_t i = 0; i < running.size(); ++i) {
    Sequence& s = *running[i];
    // A speculating decode proposes what fits the request's length and the context, when
    // blocks allow.
    s.draft_k = 0;
    if (s.draft_sampler && s.pending() == 1 && s.generated() > 0) {
      size_t k = draft_length(opt.draft_tokens, s.options.max_tokens, s.generated(), opt.ctx_size, s.tokens.size());
      if (k > 0 && opt.prompt_lookup) k = propose_by_lookup(s, k);
      // Not at the cost of the sequences after it: leave a block for each of them.
      if (k > 0 && blocks.available() > running.size() - i && blocks.allocate(s.blocks, s.tokens.size() + k)) {
        s.draft_k = k;
      }
    }
    while (!blocks.allocate(s.blocks, s.tokens.size())) {
      auto victim = std::move(running.back());
      running.pop_back();
      const bool self = victim.get() == &s;
      preempt(std::move(victim));
      if (self) break;  // i == running.size(): the loop ends
    }
  }
}

// Preemption by recompute: the sequence keeps its tokens and streaming state, gives back
// its blocks (full ones stay in the prefix cache, so the recompute often finds them) and
// goes to the front of its priority's queue.
void Scheduler::Impl::preempt(std::unique_ptr<Sequence> s) {
  log::debug("scheduler: preempting request {} ({} tokens) for lack of KV blocks", s->id,
             s->tokens.size());
  blocks.release(s->blocks);
  s->n_computed = 0;
  s->draft_computed = 0;
  s->draft_k = 0;
  s->queued = Clock::now();
  ++counters.preemptions;
  const size_t priority = s->priority;
  waiting[priority].push_front(std::move(s));
}

// 5a. Speculative decoding: the draft's passes. The first carries every prefill chunk of
// the plan (the draft's cache follows the target's, see scheduler.h) and each speculating
// decode's tokens the draft has not seen; each later pass one proposed token per sequence
// still proposing. A failure fails exactly the batch's requests, as run_forward's.
bool Scheduler::Impl::run_draft(const std::vector<ScheduledChunk>& plan) {
  if (!draft) {
    // Prompt lookup proposed when blocks were reserved; build_batch may since have cut k.
    for (const auto& c : plan) {
      Sequence& s = *c.seq;
      if (c.decode && s.draft_k > 0) {
        s.draft.tokens.resize(s.draft_k);
        s.draft.dists.resize(s.draft_k);
      }
    }
    return true;
  }
  const size_t n_vocab = draft->config().n_vocab;
  std::vector<model::SequenceBatch> batch;
  std::vector<Sequence*> seqs;  // batch entry -> its sequence
  std::vector<bool> proposes;   // batch entry -> a speculating decode
  for (const auto& c : plan) {
    Sequence& s = *c.seq;
    s.draft.clear();
    const bool spec = c.decode && s.draft_k > 0;
    // Catch up to: a speculating decode's last token; a prefill chunk's end. A decode that
    // does not speculate leaves the draft where it is.
    const size_t end = spec ? s.tokens.size() : c.decode ? 0 : s.n_computed + c.n_tokens;
    if (end <= s.draft_computed) continue;
    std::span<const int32_t> tokens(s.tokens);
    batch.push_back({tokens.subspan(s.draft_computed, end - s.draft_computed), s.draft_computed, s.blocks, false});
    seqs.push_back(&s);
    proposes.push_back(spec);
  }
  std::vector<int32_t> history;
  try {
    while (!batch.empty()) {
      draft->forward(batch, *draft_cache, draft_logits);
      std::vector<model::SequenceBatch> next;
      std::vector<Sequence*> next_seqs;
      for (size_t i = 0; i < batch.size(); ++i) {
        Sequence& s = *seqs[i];
        s.draft_computed += batch[i].tokens.size();
        if (!proposes[i]) continue;
        history.assign(s.tokens.begin(), s.tokens.end());
        history.insert(history.end(), s.draft.tokens.begin(), s.draft.tokens.end());
        propose_token(*s.draft_sampler, s.draft, std::span(draft_logits).subspan(i * n_vocab, n_vocab), history);
        if (s.draft.tokens.size() < s.draft_k) {
          // The token just proposed, at the position after the draft's last.
          next.push_back({std::span(s.draft.tokens).last(1), s.draft_computed, s.blocks, false});
          next_seqs.push_back(&s);
        }
      }
      batch = std::move(next);
      seqs = std::move(next_seqs);
      proposes.assign(seqs.size(), true);
    }
  } catch (const std::exception& e) {
    log::error("scheduler: draft pass over {} sequences failed: {}", batch.size(), e.what());
    for (const auto& c : plan) finish(*c.seq, FinishReason::Error, e.what());
    return false;
  }
  return true;
}

// 5b. One forward pass for the whole batch: a speculating sequence's last token and its
// draft's proposal, with logits for each. A failure fails exactly the batch's requests.
bool Scheduler::Impl::run_forward(const std::vector<ScheduledChunk>& plan) {
  std::vector<model::SequenceBatch> batch;
  batch.reserve(plan.size());
  for (const auto& c : plan) {
    Sequence& s = *c.seq;
    std::span<const int32_t> tokens(s.tokens);
    if (c.decode && s.draft_k > 0) {
      s.verify.assign(1, s.tokens.back());
      s.verify.insert(s.verify.end(), s.draft.tokens.begin(), s.draft.tokens.end());
      batch.push_back({s.verify, s.n_computed, s.blocks, true});
    } else {
      batch.push_back({tokens.subspan(s.n_computed, c.n_tokens), s.n_computed, s.blocks, false});
    }
  }
  try {
    llm.model->forward(batch, *cache, logits);
    return true;
  } catch (const std::exception& e) {
    log::error("scheduler: forward pass over {} sequences failed: {}", plan.size(), e.what());
    for (const auto& c : plan) finish(*c.seq, FinishReason::Error, e.what());
    return false;
  }
}

// 6. Record what was computed, offer the new full blocks to the prefix cache, and sample
// for every sequence whose pending tokens are now all computed. Sampling (a pass over the
// vocabulary per sequence) runs on the model's pool, which is idle between steps: each
// sequence's sampler, token list and logits row are its own. Streaming stays in order.
void Scheduler::Impl::process_outputs(const std::vector<ScheduledChunk>& plan) {
  const size_t n_vocab = llm.model->config().n_vocab;
  to_sample.clear();
  std::vector<std::unique_ptr<Sequence>> forked;  // join `running` once this step has sampled
  size_t row = 0;
  for (const auto& c : plan) {
    Sequence& s = *c.seq;
    if (!c.decode) counters.prompt_tokens += c.n_tokens;
    if (c.decode && s.draft_k > 0) {
      // A speculative round: n_computed moves once its tokens are known (finish_round).
      to_sample.emplace_back().seq = &s, to_sample.back().row = row;
      row += 1 + s.draft_k;
      continue;
    }
    s.n_computed += c.n_tokens;
    blocks.register_full_blocks(s.tokens, registrable(s), s.blocks);
    if (s.pending() == 0) {
      to_sample.emplace_back().seq = &s, to_sample.back().row = row;
      if (!s.forks.empty()) fork_choices(s, row, forked);
    }
    ++row;
  }
  // Pool tasks must not throw: a failure ends only its own sequence.
  auto sample = [&](size_t i, size_t) {
    Sampled& x = to_sample[i];
    try {
      if (x.seq->draft_k > 0) return verify_draft(x, n_vocab);
      const auto row = x.row_copy.empty() ? std::span(logits).subspan(x.row * n_vocab, n_vocab)
                                          : std::span(x.row_copy);
      const int32_t want = x.seq->options.logprobs;
      x.id = want < 0 ? x.seq->sampler.sample(row, x.seq->tokens)
                      : x.seq->sampler.sample(row, x.seq->tokens, static_cast<size_t>(want), x.logprobs);
    } catch (const std::exception& e) {
      x.error = e.what();
    }
  };
  if (to_sample.size() > 1) {
    llm.pool->parallel_for(to_sample.size(), sample);
  } else if (!to_sample.empty()) {
    sample(0, 0);
  }
  for (Sampled& x : to_sample) {
    if (!x.error.empty()) {
      finish(*x.seq, FinishReason::Error, x.error);
    } else if (x.seq->draft_k > 0) {
      finish_round(x);
    } else {
      stream_sampled(*x.seq, x.id, x.seq->options.logprobs < 0 ? nullptr : &x.logprobs);
    }
  }
  for (auto& f : forked) running.push_back(std::move(f));
}

// The step that computed the last prompt token of a first choice starts its forks: each
// shares the full blocks of the prompt, copies its partial last block, and samples its
// first token from its own copy of the same logits row (see scheduler.h). Forks without a
// block or a batch slot now are queued again as a group (regrouped).
void Scheduler::Impl::fork_choices(Sequence& s, size_t row, std::vector<std::unique_ptr<Sequence>>& forked) {
  const size_t n_vocab = llm.model->config().n_vocab;
  const auto source = std::span(logits).subspan(row * n_vocab, n_vocab);
  const size_t partial = s.n_computed % opt.block_tokens;
  std::vector<std::unique_ptr<Sequence>> unplaced;
  auto forks = std::exchange(s.forks, {});
  const size_t others_reserved = reserved_slots();  // slots promised to other first choices' forks
  for (auto& f : forks) {
    if (running.size() + forked.size() + others_reserved >= opt.max_batch_size ||
        !blocks.share_prefix(s.blocks, s.n_computed, f->blocks)) {
      unplaced.push_back(std::move(f));
      continue;
    }
    if (partial > 0) {
      const uint32_t from = s.blocks[s.n_computed / opt.block_tokens];
      cache->copy_slots(from, f->blocks.back(), partial);
      if (draft_cache) draft_cache->copy_slots(from, f->blocks.back(), partial);
    }
    f->n_computed = s.n_computed;
    f->draft_computed = s.draft_computed;
    f->cached_prompt_tokens = s.cached_prompt_tokens;
    f->first_scheduled = s.first_scheduled;
    f->stream->update(summary_of(*f));
    counters.shared_prompt_tokens += s.n_computed;
    Sampled& x = to_sample.emplace_back();
    x.seq = f.get();
    x.row_copy.assign(source.begin(), source.end());
    forked.push_back(std::move(f));
  }
  if (!unplaced.empty()) regroup(std::move(unplaced), s.first_scheduled);
}

// The first of `choices` carries the others (queued by requeue_regrouped at the next step).
// `started`: when their first choice was first scheduled, if it was; they count as started
// since then (their prompt was being computed), so, like a preempted sequence, they wait for
// their turn rather than fail with the queue timeout.
void Scheduler::Impl::regroup(std::vector<std::unique_ptr<Sequence>> choices,
                              std::optional<Clock::time_point> started) {
  for (auto& c : choices) c->first_scheduled = started;
  auto first = std::move(choices.front());
  for (size_t i = 1; i < choices.size(); ++i) first->forks.push_back(std::move(choices[i]));
  regrouped.push_back(std::move(first));
}

// The acceptance rule over a round's k + 1 rows (engine/speculative_acceptance.h), up to the
// first rejected position. Runs on the pool: touches only its own sequence.
void Scheduler::Impl::verify_draft(Sampled& x, size_t n_vocab) {
  Sequence& s = *x.seq;
  std::vector<int32_t> history(s.tokens);
  const int32_t want = s.options.logprobs;
  for (size_t i = 0; i <= s.draft_k; ++i) {
    const auto row = std::span(logits).subspan((x.row + i) * n_vocab, n_vocab);
    TokenLogprobs lp;
    const auto a = accept_position(s.sampler, s.draft, i, row, history, want < 0 ? nullptr : &lp,
                                   static_cast<size_t>(std::max(want, 0)));
    x.ids.push_back(a.id);
    x.ids_logprobs.push_back(std::move(lp));
    history.push_back(a.id);
    if (!a.accepted) break;
    ++x.accepted;
  }
}

// Streams a round's tokens (each by the per-token rules, so a stop or the length limit ends
// it early), then rolls the caches back to the kept positions: the last token and the
// accepted draft tokens. Later positions are overwritten by the next pass.
void Scheduler::Impl::finish_round(Sampled& x) {
  Sequence& s = *x.seq;
  const size_t base = s.n_computed;  // position of the round's first (already sampled) token
  size_t streamed = 0;
  for (size_t i = 0; i < x.ids.size() && !s.done; ++i, ++streamed) {
    stream_sampled(s, x.ids[i], s.options.logprobs < 0 ? nullptr : &x.ids_logprobs[i]);
  }
  counters.spec += {1, s.draft_k, x.accepted, streamed};
  if (s.done) return;
  s.n_computed = base + 1 + x.accepted;
  s.draft_computed = std::min(s.draft_computed, s.n_computed);
  blocks.register_full_blocks(s.tokens, registrable(s), s.blocks);
}

// The per-token rules are the output processor's (engine/output_processor.h), as in
// Generator::generate. A token's logprobs go with its text, in one hand-off.
void Scheduler::Impl::stream_sampled(Sequence& s, int32_t id, TokenLogprobs* logprobs) {
  s.tokens.push_back(id);
  ++counters.generated_tokens;
  if (!s.first_token) {
    s.first_token = Clock::now();
    s.stream->update(summary_of(s));
  }
  TokenOutput out = s.output.push(id, s.sampler.constraint_done());
  if (out.text_token) s.stream->push(out.text, logprobs);
  if (out.finish) finish(s, *out.finish);
}

void Scheduler::Impl::remove_done() {
  std::erase_if(running, [](const auto& s) { return s->done; });
}

// ---------------------------------------------------------------------------------------
// Ending sequences.

// Releases the blocks and reports; a running sequence leaves `running` at remove_done().
void Scheduler::Impl::finish(Sequence& s, FinishReason reason, const std::string& error) {
  if (reason == FinishReason::Stop || reason == FinishReason::Length) {
    s.stream->push(s.output.flush());
  }
  blocks.release(s.blocks);
  if (!s.forks.empty()) end_forks(s, reason, error);
  s.done = true;
  switch (reason) {
    case FinishReason::Stop:
    case FinishReason::Length: ++counters.finished; break;
    case FinishReason::Cancelled: ++counters.cancelled; break;
    case FinishReason::Timeout: ++counters.timed_out; break;
    case FinishReason::Error: ++counters.failed; break;
  }
  GenerationSummary summary = summary_of(s);
  summary.finish = reason;
  summary.error = error;
  if (reason == FinishReason::Error && error.empty()) summary.error = "generation failed";
  {
    std::lock_guard lock(mu);
    --active;
    auto it = per_user.find(s.user);
    if (it != per_user.end() && --it->second == 0) per_user.erase(it);
    const double seconds = seconds_between(s.submitted, Clock::now());
    mean_request_seconds = mean_request_seconds == 0 ? seconds
                                                     : 0.9 * mean_request_seconds + 0.1 * seconds;
    publish_stats();  // before the client can see the end: its blocks are already back
  }
  s.stream->finish(summary);
}

// A first choice that ends before its forks started (they never end Stop or Length first:
// forking precedes its first token). Its failure or timeout was theirs too (the same
// prompt, the same wait); a cancellation is its own client's, so the others go on.
void Scheduler::Impl::end_forks(Sequence& s, FinishReason reason, const std::string& error) {
  auto forks = std::exchange(s.forks, {});
  if (reason == FinishReason::Cancelled) return regroup(std::move(forks), s.first_scheduled);
  for (auto& f : forks) finish(*f, reason, error);
}

void Scheduler::Impl::fail_everything(const std::string& message) {
  for (auto& s : running) {
    if (!s->done) finish(*s, FinishReason::Error, message);
  }
  running.clear();
  for (auto& queue : waiting) {
    for (auto& s : queue) finish(*s, FinishReason::Error, message);
    queue.clear();
  }
  for (auto& s : std::exchange(regrouped, {})) finish(*s, FinishReason::Error, message);
  std::lock_guard lock(mu);
  publish_stats();
}

void Scheduler::Impl::cancel_everything() {
  for (auto& s : running) {
    if (!s->done) finish(*s, FinishReason::Cancelled);
  }
  running.clear();
  for (auto& queue : waiting) {
    for (auto& s : queue) finish(*s, FinishReason::Cancelled);
    queue.clear();
  }
  // Each cancelled first choice regroups its forks; every round has fewer of them.
  while (!regrouped.empty()) {
    for (auto& s : std::exchange(regrouped, {})) finish(*s, FinishReason::Cancelled);
  }
}

GenerationSummary Scheduler::Impl::summary_of(const Sequence& s) const {
  const auto now = Clock::now();
  GenerationSummary g;
  g.prompt_tokens = s.n_prompt;
  g.cached_prompt_tokens = s.cached_prompt_tokens;
  g.completion_tokens = s.generated();
  g.queue_seconds = seconds_between(s.submitted, s.first_scheduled.value_or(now));
  if (s.first_token) {
    g.prefill_seconds = seconds_between(*s.first_scheduled, *s.first_token);
    g.ttft_seconds = seconds_between(s.submitted, *s.first_token);
    g.decode_seconds = seconds_between(*s.first_token, now);
  } else if (s.first_scheduled) {
    g.prefill_seconds = seconds_between(*s.first_scheduled, now);
  }
  return g;
}

void Scheduler::Impl::publish_stats() {
  SchedulerStats s = counters;
  // A first choice's forks count where it is: running (prefilling for them) or waiting.
  s.running = 0;
  for (const auto& q : running) s.running += q->done ? 0 : 1 + q->forks.size();
  s.waiting_by_priority.assign(waiting.size(), 0);
  for (size_t p = 0; p < waiting.size(); ++p) {
    for (const auto& q : waiting[p]) s.waiting_by_priority[p] += 1 + q->forks.size();
  }
  for (const auto& q : regrouped) s.waiting_by_priority[q->priority] += 1 + q->forks.size();
  s.blocks = blocks.stats();
  published = std::move(s);
}

}  // namespace ragd::engine
