// Scheduler: continuous (iteration-level) batching of many generation requests on one
// LlamaModel, over a paged KV cache with prefix caching.
//
// Requests become sequences. One scheduler thread runs steps; each step
//   1. retires cancelled / timed-out / finished sequences and frees their blocks,
//   2. admits waiting sequences (priority, then age) while KV blocks and batch slots allow,
//      reusing cached prefix blocks (BlockManager::match_prefix) and the agreeing first
//      positions of the block after them (match_partial; copied into the sequence's block),
//   3. builds one batch: the next token of every running sequence (decode) plus chunks of
//      waiting prompts (chunked prefill) up to max_batch_tokens,
//   4. runs one LlamaModel::forward over the whole batch (weights read once),
//   5. samples, detokenizes, applies stop strings and streams text to each RequestStream.
// The thread sleeps when there is nothing to do.
//
// Admission decisions are engine/admission_policy.h's; the per-token rules (step 5)
// engine/output_processor.h's, the same as Generator::generate's.
//
// Admission control (submit) never queues without bound: over max_concurrent (running +
// waiting) it answers Overloaded (HTTP 503 + Retry-After); over a user's cap it answers
// UserLimit (HTTP 429); a prompt that cannot fit the context answers TooLong (HTTP 400).
// A request still waiting after queue_timeout finishes with FinishReason::Timeout.
//
// Order and fairness: waiting requests are admitted strictly by (priority, age) while batch
// slots and KV blocks allow; one that does not fit holds back the ones behind it, so a long
// prompt is never starved by short ones. Admission takes the blocks of the whole prompt at
// once (cached prefix blocks first) and keeps one spare block per running sequence.
//
// Adaptive batching: each step first gives every decoding sequence its one token, then
// hands the rest of max_batch_tokens to prefill chunks, best sequence first. With D of the
// max_batch_size slots decoding (and adaptive_batch on), prompts that have waited less than
// max_wait_time (since they were queued) share only a (1 - D / max_batch_size) part of that
// rest, and at least one block's worth: many streams keep a short step time. A prompt that
// has waited longer than max_wait_time takes its chunk from the whole rest regardless.
//
// KV exhaustion: when a decoding sequence needs a new block and none is left, the worst
// running sequence (lowest priority, then youngest) is preempted: it gives its blocks back
// and returns to the front of its priority's queue keeping its generated tokens; when it
// is admitted again, prompt + generated tokens are recomputed (mostly found in the prefix
// cache) and it continues where it stopped, without streaming any text twice. The pool
// always holds at least one full ctx_size sequence, so the best sequence always progresses.
//
// Speculative decoding (a draft model given to the constructor): the draft has its own KV
// cache with the target's block count and size, addressed by the same block tables, and
// computes every prefill chunk the target computes, so a block of the prefix cache holds
// both models' keys/values (only blocks both have computed are registered). In a step,
// before the target's pass, the draft runs draft_tokens passes over the decoding
// sequences that speculate (one batched pass each, the first also carrying the step's
// prefill chunks), proposing up to draft_tokens tokens per sequence; the target's one
// pass then verifies each sequence's [last token, proposals] together with every other
// sequence's decode token and prefill chunk, and engine/speculative_acceptance.h keeps the
// agreeing prefix. Rejected positions are rolled back by moving n_computed (and the draft's
// draft_computed) back: they are overwritten later, and a block holding one is never full
// of computed tokens, so never registered. Sequences with a JSON constraint or grammar
// (a constraint cannot be rolled back) decode one token per step as without a draft.
// A round takes 1 + k tokens of max_batch_tokens and blocks for its k extra positions;
// when either is short, k shrinks (to 0: a plain decode).
//
// Prompt lookup (options.prompt_lookup, no draft model): a decoding sequence proposes the
// tokens that followed the latest earlier occurrence of its last few tokens
// (engine/speculative_lookup.h), found when its blocks are reserved, and only when there
// is a match; the round is then verified as a draft model's. No draft passes, no draft KV.
//
// Choices of one prompt (submit_choices, OpenAI `n`): the first choice is an ordinary
// sequence that carries the others ("forks") until its prompt is computed; they hold no
// blocks and take no prefill budget meanwhile. In the step that computes its last prompt
// token, each fork takes a reference on the first choice's full blocks and a copy of its
// partial last block (BlockManager::share_prefix), starts at the same n_computed, and
// samples its first token from a copy of the same logits row with its own sampler (its own
// seed): the prompt is prefilled once, and each choice's tokens are those it would have got
// computing the prompt itself. The first choice is admitted only when the batch has a slot
// for every choice and blocks for the forks' copies; after the fork the choices are
// independent sequences (preempted, cancelled, finished one by one). Forks that find no
// block or slot then, or whose first choice was cancelled before its prompt was done, go
// back to the front of their queue as a group again (the first of them carrying the
// others), and their prompt comes from the prefix cache as far as that still holds it.
// When the first choice fails or times out before the fork, its forks end the same way.
//
// Threads: submit(), stats() and RequestStream are safe from any thread; the model is
// only touched by the scheduler thread. No exception crosses threads: a failing forward
// pass finishes the affected streams with an error message.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "engine/block_manager.h"
#include "engine/generation_request.h"
#include "engine/llm.h"
#include "engine/request_stream.h"
#include "engine/speculative_acceptance.h"
#include "kernels/attention.h"  // KvType

namespace ragd::engine {

struct SchedulerOptions {
  size_t max_batch_size = 32;      // running sequences (decode rows) per step
  size_t max_batch_tokens = 512;   // tokens per step: decodes + prefill chunks
                                   // (raised to max_batch_size if smaller)
  double max_wait_time = 0.1;      // s a waiting prompt may be deferred for decodes before
                                   // its prefill chunk takes budget priority
  bool adaptive_batch = true;      // shrink prefill chunks while many streams decode
  size_t priority_levels = 3;      // priorities 0 (highest) .. priority_levels-1
  size_t max_concurrent = 100;     // running + waiting requests; beyond: Overloaded
  size_t max_per_user = 0;         // running + waiting per user; 0: no cap; beyond: UserLimit
  double queue_timeout = 30;       // s a request may wait before it fails with Timeout
  size_t ctx_size = 2048;          // positions per sequence (prompt + generated)
  size_t max_kv_cache_bytes = 256u << 20;  // KV pool budget (max_kv_cache_size)
  size_t block_tokens = 16;        // positions per KV block
  bool prefix_caching = true;
  kernels::KvType kv_type = kernels::KvType::F16;  // KV elements: half the memory and reads
  size_t draft_tokens = 4;         // tokens a draft model proposes per step (1..16), when
                                   // the scheduler has one (speculative decoding)
  bool prompt_lookup = false;      // speculate with prompt lookup (no draft model; see above)
};

// What one step did (for metrics: batch-size histogram, tokens/s).
struct StepInfo {
  size_t decode_tokens = 0;
  size_t prefill_tokens = 0;
  size_t sequences = 0;
  double seconds = 0;
};

struct SchedulerStats {
  size_t running = 0;
  std::vector<size_t> waiting_by_priority;
  BlockStats blocks;                  // from the block manager (see block_manager.h)
  uint64_t steps = 0;                 // forward passes run
  uint64_t generated_tokens = 0;      // tokens sampled
  uint64_t prompt_tokens = 0;         // prefill tokens computed (cache hits excluded,
                                      // recomputes after preemption included)
  uint64_t finished = 0;              // stop or length
  uint64_t cancelled = 0, timed_out = 0, rejected = 0, failed = 0;
  uint64_t shared_prompt_tokens = 0;  // prompt tokens choices took from their first
                                      // choice's blocks instead of computing (submit_choices)
  uint64_t preemptions = 0;           // sequences that gave back their blocks to recompute
  bool speculative = false;           // a draft model or prompt lookup proposes tokens
  SpeculativeStats spec;              // its rounds, proposed and accepted tokens
};

class Scheduler {
 public:
  // `llm` (and `draft`, when given) must outlive the scheduler. A draft model turns on
  // speculative decoding; it must share llm's vocabulary (DraftModel::load checks that) and
  // compute on llm's thread pool. Starts the scheduler thread.
  Scheduler(Llm& llm, SchedulerOptions options, model::LlamaModel* draft = nullptr);
  ~Scheduler();  // cancels everything, joins the thread
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  Admission submit(GenerationRequest request);
  // seeds.size() choices of one prompt, choice i sampling with request.options.sampling
  // seeded by seeds[i]; the prompt is prefilled once for all of them (see above). All or
  // nothing: every choice counts against max_concurrent and max_per_user, and when they do
  // not all fit, none is queued. Admission::choices holds the streams in choice order.
  Admission submit_choices(GenerationRequest request, std::span<const uint64_t> seeds);
  SchedulerStats stats() const;
  const SchedulerOptions& options() const { return options_; }
  // Called on the scheduler thread after every step that ran a forward pass; keep it cheap
  // (it delays the next step).
  void set_step_observer(std::function<void(const StepInfo&)> observer);
  // Drops the prefix cache's unreferenced blocks (cache admin "clear"); returns once the
  // scheduler thread has done it.
  void clear_prefix_cache();

 private:
  // Implementation (sequences, queues, step loop) lives in scheduler.cpp.
  struct Impl;
  std::unique_ptr<Impl> impl_;
  SchedulerOptions options_;
};

}  // namespace ragd::engine
