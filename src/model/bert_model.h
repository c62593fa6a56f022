// BertModel: a BERT encoder (all-MiniLM-L6-v2, bge-small, ...) as a batched forward pass
// that turns token sequences into sentence embeddings.
//
//   x   = LayerNorm(tok_embd[id] + type_embd[0] + pos_embd[p])        per token
//   per block (post-LN):
//     x = LayerNorm(x + Wo · attention(Wq x + bq, Wk x + bk, Wv x + bv) + bo)
//     x = LayerNorm(x + Wdown · gelu_erf(Wup x + bup) + bdown)
//   e   = mean of x over the sequence's tokens, or x of its first ([CLS]) token
//   out = e / |e|
//
// Batching: the tokens of all sequences are stacked row-wise (no padding), so every matmul
// runs once over the whole batch; attention is computed per (sequence, head), each token
// attending to every token of its own sequence only (bidirectional). That is exactly BERT
// with an attention mask over right-padded inputs, without computing the padding.
//
// Precision (model/bert_precision.h): with BertPrecision::Int8 the six matrices of every
// block are quantized to Q8_0 at load and run on the integer kernels (a matrix whose width
// is not a multiple of Q8_0's 32-column block stays float); the file's float pages of
// those matrices are then released. Matrices the kernels multiply faster in the
// 16-row interleaved layout (quantized ones on AVX2/AVX-512) are re-laid out at load.
//
// Not thread-safe: one thread calls embed() at a time (it parallelises internally).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/thread_pool.h"
#include "model/bert_config.h"
#include "model/bert_precision.h"
#include "model/gguf.h"
#include "model/quantized_weight.h"

namespace ragd::model {

class BertModel {
 public:
  // `file` stays shared: the weights are views into its mapping.
  BertModel(std::shared_ptr<const GgufFile> file, kernels::ThreadPool& pool,
            BertPrecision precision = BertPrecision::F32);

  const BertConfig& config() const { return config_; }
  const GgufFile& file() const { return *file_; }
  size_t dim() const { return config_.n_embd; }
  BertPrecision precision() const { return precision_; }
  // The element type the block matrices are multiplied in: the file's type, or Q8_0 when
  // int8 quantized them at load (e.g. for cache keys: vectors of different types differ).
  kernels::TensorType weight_type() const { return layers_.front().wq.type; }

  // Use the scalar reference matmul (tests compare it with the fast path).
  void set_reference_mode(bool on) { reference_ = on; }

  // Sequences of at least this many tokens compute attention per head with the dense
  // attention kernel; shorter ones row by row with the decode attention kernel (see
  // attend()). 64 by default; tests lower it to reach the long path with tiny models.
  static constexpr size_t kDefaultLongSequence = 64;
  void set_long_sequence(size_t tokens) { long_sequence_ = std::max<size_t>(tokens, 1); }

  // Embeds each sequence (token ids with [CLS]/[SEP] already added, 1..n_ctx of them, all
  // inside the vocabulary) into a unit-length vector of dim() floats, written to
  // out[i * dim() .. (i + 1) * dim()). Throws ragd::Error for an invalid sequence.
  void embed(std::span<const std::span<const int32_t>> sequences, float* out);

  // The last hidden states of the previous embed() call, one row of dim() floats per token
  // (sequences stacked in order). For tests and debugging.
  const std::vector<float>& hidden_states() const { return x_; }

 private:
  struct Layer {
    kernels::WeightView wq, wk, wv, wo, w_up, w_down;
    const float *bq, *bk, *bv, *bo, *b_up, *b_down;
    const float *attn_norm_w, *attn_norm_b, *out_norm_w, *out_norm_b;
  };
  struct Span {  // one sequence's rows in the stacked batch
    size_t begin, length;
  };

  // The matmul form of a block matrix under precision_ (see the class comment).
  kernels::WeightView for_matmul(const kernels::WeightView& w);
  void matmul(const kernels::WeightView& w, const float* x, size_t n, float* y);
  void matmul_group(std::span<const kernels::MatmulTarget> targets, const float* x, size_t n);

  void embed_tokens(std::span<const std::span<const int32_t>> sequences);
  void attention_block(const Layer& l);
  void attend();
  void attend_long(const Span& sp);
  void ffn_block(const Layer& l);
  void pool_and_normalize(float* out);
  // x[t] = LayerNorm(x[t] + y[t] + bias) for every token t, in parallel.
  void add_bias_residual_norm(float* y, const float* bias, const float* w, const float* b);

  std::shared_ptr<const GgufFile> file_;
  kernels::ThreadPool& pool_;
  BertConfig config_;
  kernels::WeightView token_embd_{}, token_types_{}, position_embd_{};
  const float *embd_norm_w_ = nullptr, *embd_norm_b_ = nullptr;
  std::vector<float> type0_;  // token_types row 0 (every token is "sentence A")
  std::vector<Layer> layers_;
  BertPrecision precision_;
  // Owners of the matrices quantized or re-laid out at load (Layer's views point here).
  std::vector<std::unique_ptr<QuantizedWeight>> quantized_;
  std::vector<std::unique_ptr<kernels::InterleavedWeight>> interleaved_;
  bool reference_ = false;
  size_t long_sequence_ = kDefaultLongSequence;

  // Scratch reused across calls, row-major, one row per token of the batch.
  std::vector<Span> spans_;
  size_t n_tokens_ = 0;
  std::vector<float> x_, q_, k_, v_, attn_, tmp_, ff_, scores_;
  // attend_long()'s scratch, one per pool thread (kernels::dense_attention_head).
  std::vector<std::vector<float>> head_scratch_;
};

}  // namespace ragd::model
