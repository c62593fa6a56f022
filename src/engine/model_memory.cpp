#include "engine/model_memory.h"

#include <fmt/format.h>

#include <algorithm>

#include "engine/block_manager.h"
#include "kernels/tensor_type.h"
#include "model/kv_cache.h"
#include "model/llama_config.h"
#include "model/quantize_model.h"
#include "util/memory_budget.h"

namespace ragd::engine {
namespace {

uint64_t padded(uint64_t bytes, uint64_t alignment) {
  return alignment == 0 ? bytes : (bytes + alignment - 1) / alignment * alignment;
}

uint64_t tensor_bytes(const model::GgufFile& file) {
  uint64_t sum = 0;
  for (const auto& t : file.tensors()) sum += padded(t.n_bytes, file.alignment());
  return sum;
}

}  // namespace

std::string MemoryEstimate::describe() const {
  std::string parts = fmt::format("weights {}", human_bytes(weights_bytes));
  if (kv_cache_bytes) parts += fmt::format(" + KV cache {}", human_bytes(kv_cache_bytes));
  if (compute_bytes) parts += fmt::format(" + compute {}", human_bytes(compute_bytes));
  return fmt::format("{} ({})", human_bytes(total()), parts);
}

uint64_t requantized_tensor_bytes(const model::GgufFile& file, const model::QuantTarget& target) {
  const model::QuantPlanner planner = model::make_planner(file, target, /*pure=*/false);
  uint64_t sum = 0;
  for (const auto& t : file.tensors()) {
    const model::TensorChoice c = planner.choose(t.name, t.dims, t.type);
    const uint64_t bytes =
        c.convert ? kernels::row_bytes(c.type, t.dims.at(0)) * t.rows() : t.n_bytes;
    sum += padded(bytes, file.alignment());
  }
  return sum;
}

MemoryEstimate estimate_model_memory(const model::GgufFile& file, const SchedulerOptions& o,
                                     const model::QuantTarget* requantized) {
  MemoryEstimate m;
  m.weights_bytes = file.file_size();
  if (requantized) {
    // Same metadata, other tensor data: only the data section changes size.
    m.weights_bytes = m.weights_bytes - tensor_bytes(file) + requantized_tensor_bytes(file, *requantized);
  }
  if (file.architecture() == "bert") return m;
  const model::LlamaConfig c = model::LlamaConfig::from_gguf(file);
  // The scheduler's rule (scheduler.cpp, kv_blocks_for): the byte budget in whole blocks,
  // and never less than one full-context sequence.
  const size_t block_tokens = std::max<size_t>(o.block_tokens, 1);
  const size_t per_block = model::KvCache::bytes_per_block(c.n_layer, c.kv_dim(), block_tokens, o.kv_type);
  const size_t blocks = std::max(o.max_kv_cache_bytes / per_block, BlockManager::blocks_for(o.ctx_size, block_tokens));
  m.kv_cache_bytes = static_cast<uint64_t>(blocks) * per_block;
  // LlamaModel's scratch rows (x, h, q, attn, k, v, gate, up, rope cos/sin) for a full step,
  // and one logits row per sequence in the step.
  const uint64_t step_tokens = std::max(o.max_batch_tokens, o.max_batch_size);
  const uint64_t per_token = 2 * c.n_embd + 2 * c.q_dim() + 2 * c.kv_dim() + 2 * c.n_ff + c.rope_dim;
  m.compute_bytes = (step_tokens * per_token + uint64_t{o.max_batch_size} * c.n_vocab) * sizeof(float);
  return m;
}

}  // namespace ragd::engine
