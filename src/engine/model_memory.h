// Model memory: how much memory a model takes once `ragd serve` has loaded it, estimated
// from its GGUF header alone (metadata and tensor table; no weight is read).
//
// A served language model holds
//   weights:  the mapped file. Every page is read once a request has run, so all of it
//             counts; the weights copied into the interleaved layout release their file
//             pages (kernels/interleave.h), which leaves the figure unchanged;
//   KV cache: the scheduler's pool of blocks, max(max_kv_cache_bytes / block bytes, one
//             full ctx_size sequence) blocks (Scheduler's sizing rule), allocated at load
//             and resident once used;
//   compute:  activation scratch for one step of max_batch_tokens tokens and the logits of
//             max_batch_size rows (model/llama_model.h's scratch vectors).
// Small items (tokenizer tables, attention scores per thread, the HTTP side) are left out:
// each is well under 1% of a model's total here.
//
// For an embedder (BERT) only the weights are counted; its vector cache is the registry's.
//
// With `requantized`, the estimate is for the file `ragd quantize` would write from this
// one with that target: the same metadata and, per tensor, the type quant_plan.h chooses.
#pragma once

#include <cstdint>
#include <string>

#include "engine/scheduler.h"
#include "model/gguf.h"
#include "model/quant_plan.h"

namespace ragd::engine {

struct MemoryEstimate {
  uint64_t weights_bytes = 0;
  uint64_t kv_cache_bytes = 0;
  uint64_t compute_bytes = 0;

  uint64_t total() const { return weights_bytes + kv_cache_bytes + compute_bytes; }
  // "1.36 GiB (weights 1.04 GiB + KV cache 255.9 MiB + compute 66.8 MiB)"
  std::string describe() const;
};

// Throws ragd::Error for an architecture ragd cannot serve (LlamaConfig's message).
MemoryEstimate estimate_model_memory(const model::GgufFile& file, const SchedulerOptions& options,
                                     const model::QuantTarget* requantized = nullptr);

// The tensor data (with alignment padding) `ragd quantize` writes for `target` from `file`.
uint64_t requantized_tensor_bytes(const model::GgufFile& file, const model::QuantTarget& target);

}  // namespace ragd::engine
