// Sequence: the scheduler's state for one request, from submit() to its final summary.
//
// `tokens` is the prompt followed by every generated token. Keys/values of tokens[0,
// n_computed) are in the KV cache (through `blocks`); tokens[n_computed, end) are pending:
// the rest of the prompt while prefilling, the last sampled token while decoding. When a
// forward pass computes the last pending token, its logits give the next token.
//
// Preemption (KV blocks ran out) drops the blocks and sets n_computed to 0, keeping tokens,
// the sampler and the output processor (detokenizer, stop matcher): the recompute sees
// prompt + generated as one longer prompt, and text already streamed is never streamed again.
//
// Speculative decoding: the draft model's cache (same block table) holds tokens[0,
// draft_computed); it may lag n_computed (a sequence that does not speculate, or the last
// token of a fully accepted proposal): the draft's next pass starts at draft_computed.
// draft_sampler is set when the sequence speculates.
//
// Owned and touched by the scheduler thread only, except `stream`, which is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/generation_request.h"
#include "engine/output_processor.h"
#include "engine/request_stream.h"
#include "engine/sampler.h"
#include "engine/speculative_acceptance.h"
#include "model/tokenizer.h"

namespace ragd::engine {

using Clock = std::chrono::steady_clock;

inline double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

struct Sequence {
  Sequence(uint64_t id, GenerationRequest request, const model::Tokenizer& tokenizer,
           std::shared_ptr<RequestStream> stream, size_t ctx_size)
      : id(id),
        priority(request.priority),
        user(std::move(request.user)),
        options(std::move(request.options)),
        n_prompt(request.prompt.size()),
        tokens(std::move(request.prompt)),
        stream(std::move(stream)),
        sampler(make_sampler(options, tokenizer)),
        output(options, tokenizer, n_prompt, ctx_size),
        submitted(Clock::now()),
        queued(submitted) {}

  size_t pending() const { return tokens.size() - n_computed; }
  size_t generated() const { return tokens.size() - n_prompt; }
  bool started() const { return first_scheduled.has_value(); }

  const uint64_t id;         // submission order: a larger id is younger
  const size_t priority;     // 0 = highest
  const std::string user;
  const GenerationOptions options;
  const size_t n_prompt;

  std::vector<int32_t> tokens;   // prompt + generated
  size_t n_computed = 0;         // tokens whose keys/values are in the cache
  std::vector<uint32_t> blocks;  // block table (BlockManager)
  size_t cached_prompt_tokens = 0;

  std::shared_ptr<RequestStream> stream;
  Sampler sampler;
  OutputProcessor output;  // the per-token rules: end, text, stop strings, length

  Clock::time_point submitted;
  Clock::time_point queued;  // entered the waiting queue (submit, or last preemption)
  std::optional<Clock::time_point> first_scheduled, first_token;

  size_t draft_computed = 0;           // tokens whose draft keys/values are in the draft cache
  std::optional<Sampler> draft_sampler;  // set when this sequence speculates
  size_t draft_k = 0;                  // tokens to propose this step (0: a plain decode)
  DraftProposal draft;                 // this step's proposal
  std::vector<int32_t> verify;         // this step's target tokens: last token, proposal

  // The other choices of the same prompt (Scheduler::submit_choices), carried until this
  // sequence's prompt is computed, then forked from its blocks; empty for any other.
  std::vector<std::unique_ptr<Sequence>> forks;

  bool done = false;  // finished; waiting to be removed from the running list
};

}  // namespace ragd::engine
