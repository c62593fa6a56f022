// LlamaModel: the llama-family decoder (Llama 2/3, SmolLM2, Mistral, Qwen2, Qwen3, Phi-3,
// Gemma 2, Gemma 3) as a batched forward pass over weights mapped from a GGUF file. The
// families' differences (scaled embeddings, q/k norms, post-norms, GELU FFN, sliding-window
// layers, logit soft-capping) are switches of LlamaConfig (llama_config.h), not model
// classes; tensor-layout ones are handled at load: Phi-3's fused attn_qkv / ffn_up become
// row views, Llama 3.1+'s rope_freqs.weight divides the RoPE angles.
//
// One forward() call takes the new tokens of any number of sequences at once (a decode
// step contributes one token per sequence, a prefill chunk many) and runs every matmul
// once over all of them, so the weights are read once per step, not once per sequence.
// Attention reads and writes each sequence's keys/values through its block table in a
// shared KvCache. The model holds no per-sequence state.
//
// Not thread-safe: one thread calls forward() at a time (it parallelises internally).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "kernels/interleave.h"
#include "model/gguf.h"
#include "model/kv_cache.h"
#include "model/llama_config.h"

namespace ragd::model {

// The new tokens of one sequence in a forward pass.
struct SequenceBatch {
  std::span<const int32_t> tokens;   // at least one
  size_t start_pos = 0;              // position of tokens[0]; earlier ones are in the cache
  std::span<const uint32_t> blocks;  // block table covering start_pos + tokens.size()
  bool all_logits = false;           // logits for every token, not only the last
};

class LlamaModel {
 public:
  // `file` stays shared: the weights are views into its mapping, except those copied into
  // the interleaved layout the AVX-512 kernels prefer (kernels/interleave.h).
  LlamaModel(std::shared_ptr<const GgufFile> file, kernels::ThreadPool& pool);

  const LlamaConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }

  // Use the scalar reference matmul and attention (tests compare them with the fast path).
  void set_reference_mode(bool on) { reference_ = on; }

  // Runs the batch; `logits` receives one row of n_vocab floats per requested position,
  // in batch order (sequence by sequence; each sequence's rows in token order).
  void forward(std::span<const SequenceBatch> batch, KvCache& cache, std::vector<float>& logits);

  // A KV cache sized for this model.
  std::unique_ptr<KvCache> make_cache(size_t block_tokens, size_t n_blocks,
                                      kernels::KvType type = kernels::KvType::F32) const;

 private:
  struct Layer {
    const float* attn_norm;
    kernels::WeightView wq, wk, wv, wo;
    const float *bq = nullptr, *bk = nullptr, *bv = nullptr;
    const float* ffn_norm;
    kernels::WeightView w_gate, w_up, w_down;
    // Gemma 3 (config_.qk_norm / config_.post_norms); null otherwise.
    const float *q_norm = nullptr, *k_norm = nullptr;
    const float *attn_post_norm = nullptr, *ffn_post_norm = nullptr;
  };
  // Per-token bookkeeping for one forward pass.
  struct TokenSlot {
    size_t seq;  // index into the batch
    size_t pos;
  };

  // w as matmul reads it fastest: copied into the interleaved layout when the kernels in
  // use prefer it (its file pages are then released), else w itself.
  kernels::WeightView for_matmul(const kernels::WeightView& w);

  void matmul(const kernels::WeightView& w, const float* x, size_t n, float* y);
  // Products sharing the activations x (q/k/v, gate/up) in one dispatch.
  void matmul_group(std::span<const kernels::MatmulTarget> targets, const float* x, size_t n);

  // Runs fn(t0, t1) over ranges covering the step's tokens [0, n_tokens_): on the calling
  // thread below kMinParallelTokens (a decode step of one sequence, where a pool dispatch
  // costs more than the work), else as a few chunks on the pool. Used for the per-token
  // element-wise work between matmuls, which would otherwise leave the workers idle.
  void for_token_ranges(const std::function<void(size_t t0, size_t t1)>& fn);
  static constexpr size_t kMinParallelTokens = 4;
  void add_residual();  // x_ += h_ for the step's tokens
  // h_ = rms_norm(x_) * weight (or h_ normalised in place when in_place) for the step's tokens.
  void norm_rows(const float* weight, bool in_place);
  static constexpr size_t kTokenChunksPerThread = 2;

  void embed(std::span<const SequenceBatch> batch);
  void attention_block(const Layer& layer, size_t il, std::span<const SequenceBatch> batch,
                       KvCache& cache);
  void position_and_store(const Layer& layer, size_t il, size_t t,
                          std::span<const SequenceBatch> batch, KvCache& cache);
  void attend(size_t il, std::span<const SequenceBatch> batch, const KvCache& cache);
  void ffn_block(const Layer& layer);
  void output(std::span<const SequenceBatch> batch, std::vector<float>& logits);

  std::shared_ptr<const GgufFile> file_;
  kernels::ThreadPool& pool_;
  LlamaConfig config_;
  kernels::WeightView token_embd_{};
  kernels::WeightView output_{};
  const float* output_norm_ = nullptr;
  const float* rope_freqs_ = nullptr;  // Llama 3.1+: rope_dim / 2 angle divisors, or null
  std::vector<Layer> layers_;
  std::vector<std::unique_ptr<kernels::InterleavedWeight>> interleaved_;  // owned by for_matmul
  bool reference_ = false;

  // Scratch reused across calls (resized to the batch): activations are row-major,
  // one row per token.
  size_t n_tokens_ = 0;
  std::vector<TokenSlot> slots_;
  std::vector<float> x_, h_, q_, k_, v_, attn_, gate_, up_, rope_cos_, rope_sin_, scores_;
  // Angles of sliding-window layers when their RoPE differs from the global layers'.
  std::vector<float> rope_cos_swa_, rope_sin_swa_;
  std::vector<const void*> block_ptrs_;  // attend(): per thread, K then V block pointers
};

}  // namespace ragd::model
