#include "model/llama_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/quants.h"
#include "kernels/vector_ops.h"
#include "model/gelu_tanh.h"
#include "model/model_weights.h"
#include "util/error.h"

namespace ragd::model {

using kernels::WeightView;

namespace {

// RoPE angles with positions multiplied by `scale` (linear RoPE scaling) and, when
// `freq_factors` is given (Llama 3.1+'s rope_freqs.weight, rope_dim / 2 values), pair i's
// angle divided by freq_factors[i], as ggml_rope_ext does. Scale 1 without factors is
// kernels::rope_angles. In double, as kernels::rope_angles, for the same reason.
void rope_angles_scaled(size_t pos, float scale, const float* freq_factors, size_t rope_dim,
                        float base, float* cos_out, float* sin_out) {
  if (scale == 1.0f && freq_factors == nullptr) {
    kernels::rope_angles(pos, rope_dim, base, cos_out, sin_out);
    return;
  }
  for (size_t i = 0; i < rope_dim / 2; ++i) {
    double theta = static_cast<double>(pos) * scale *
                   std::pow(static_cast<double>(base), -2.0 * i / rope_dim);
    if (freq_factors) theta /= freq_factors[i];
    cos_out[i] = static_cast<float>(std::cos(theta));
    sin_out[i] = static_cast<float>(std::sin(theta));
  }
}

// Rows [first, first + n) of a row-major matrix: a view into the same bytes. Phi-3 fuses
// q/k/v into attn_qkv (rows q | k | v) and gate/up into ffn_up (rows gate | up); their parts
// are such views, so the rest of the model sees separate matrices.
WeightView row_range(const WeightView& w, size_t first, size_t n) {
  WeightView part = w;
  part.data = static_cast<const uint8_t*>(w.data) + first * kernels::row_bytes(w.type, w.cols);
  part.rows = n;
  return part;
}

// Attention with Gemma 2's logit soft-capping, which the attention kernels do not offer:
// kernels::attend_kv_head's contract (same PagedKv, group of query heads per KV head), but
// each score s = scale * q.k becomes cap * tanh(s / cap) before the softmax (llama.cpp's
// order). Plain loops, each cached row read once for the whole group; `scores` holds
// group * n_ctx floats.
void attend_softcapped(const float* q, size_t group, size_t head_dim, const kernels::PagedKv& kv,
                       size_t n_ctx, float scale, float cap, float* scores, float* out) {
  thread_local std::vector<float> row;
  row.resize(head_dim);
  const auto load = [&](std::span<const void* const> blocks, size_t j) {
    const size_t offset = (j % kv.block_rows) * kv.row_stride;
    if (kv.type == kernels::KvType::F16) {
      const auto* src = static_cast<const kernels::fp16_t*>(blocks[j / kv.block_rows]) + offset;
      for (size_t d = 0; d < head_dim; ++d) row[d] = kernels::fp16_to_fp32(src[d]);
    } else {
      const auto* src = static_cast<const float*>(blocks[j / kv.block_rows]) + offset;
      std::copy(src, src + head_dim, row.begin());
    }
  };
  for (size_t j = 0; j < n_ctx; ++j) {
    load(kv.key_blocks, j);
    for (size_t g = 0; g < group; ++g) {
      const float s = scale * kernels::dot_f32(q + g * head_dim, row.data(), head_dim);
      scores[g * n_ctx + j] = cap * std::tanh(s / cap);
    }
  }
  for (size_t g = 0; g < group; ++g) {
    float* sg = scores + g * n_ctx;
    const float max = *std::max_element(sg, sg + n_ctx);
    double sum = 0.0;
    for (size_t j = 0; j < n_ctx; ++j) sum += (sg[j] = std::exp(sg[j] - max));
    for (size_t j = 0; j < n_ctx; ++j) sg[j] = static_cast<float>(sg[j] / sum);
  }
  std::fill(out, out + group * head_dim, 0.0f);
  for (size_t j = 0; j < n_ctx; ++j) {
    load(kv.value_blocks, j);
    for (size_t g = 0; g < group; ++g) {
      const float p = scores[g * n_ctx + j];
      float* o = out + g * head_dim;
      for (size_t d = 0; d < head_dim; ++d) o[d] += p * row[d];
    }
  }
}

// Whether sliding-window layers need angle tables of their own.
bool swa_rope_differs(const LlamaConfig& c) {
  return c.has_swa() && (c.rope_base_swa != c.rope_base || c.rope_scale != 1.0f);
}

}  // namespace

LlamaModel::LlamaModel(std::shared_ptr<const GgufFile> file, kernels::ThreadPool& pool)
    : file_(std::move(file)), pool_(pool), config_(LlamaConfig::from_gguf(*file_)) {
  const auto& c = config_;
  token_embd_ = matrix_weight(*file_, "token_embd.weight", c.n_vocab, c.n_embd);
  output_norm_ = vector_weight(*file_, "output_norm.weight", c.n_embd);
  // Llama 3.1+ "llama3" RoPE scaling: per-frequency divisors the converter computed.
  rope_freqs_ = vector_weight(*file_, "rope_freqs.weight", c.rope_dim / 2, true);
  if (rope_freqs_ && c.has_swa()) {
    fail("'{}': rope_freqs.weight with sliding-window layers is not supported", file_->path());
  }
  // Tied embeddings: without output.weight the token embedding doubles as the output head
  // (then it is laid out for matmul; embed() reads rows of either layout).
  output_ = file_->find_tensor("output.weight")
                ? for_matmul(matrix_weight(*file_, "output.weight", c.n_vocab, c.n_embd))
                : (token_embd_ = for_matmul(token_embd_));
  for (size_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer l;
    l.attn_norm = vector_weight(*file_, p + "attn_norm.weight", c.n_embd);
    if (file_->find_tensor(p + "attn_qkv.weight")) {
      const WeightView qkv =
          matrix_weight(*file_, p + "attn_qkv.weight", c.q_dim() + 2 * c.kv_dim(), c.n_embd);
      l.wq = for_matmul(row_range(qkv, 0, c.q_dim()));
      l.wk = for_matmul(row_range(qkv, c.q_dim(), c.kv_dim()));
      l.wv = for_matmul(row_range(qkv, c.q_dim() + c.kv_dim(), c.kv_dim()));
    } else {
      l.wq = for_matmul(matrix_weight(*file_, p + "attn_q.weight", c.q_dim(), c.n_embd));
      l.wk = for_matmul(matrix_weight(*file_, p + "attn_k.weight", c.kv_dim(), c.n_embd));
      l.wv = for_matmul(matrix_weight(*file_, p + "attn_v.weight", c.kv_dim(), c.n_embd));
    }
    l.wo = for_matmul(matrix_weight(*file_, p + "attn_output.weight", c.n_embd, c.q_dim()));
    l.bq = vector_weight(*file_, p + "attn_q.bias", c.q_dim(), true);
    l.bk = vector_weight(*file_, p + "attn_k.bias", c.kv_dim(), true);
    l.bv = vector_weight(*file_, p + "attn_v.bias", c.kv_dim(), true);
    l.ffn_norm = vector_weight(*file_, p + "ffn_norm.weight", c.n_embd);
    if (file_->find_tensor(p + "ffn_gate.weight")) {
      l.w_gate = for_matmul(matrix_weight(*file_, p + "ffn_gate.weight", c.n_ff, c.n_embd));
      l.w_up = for_matmul(matrix_weight(*file_, p + "ffn_up.weight", c.n_ff, c.n_embd));
    } else {  // fused (Phi-3): silu(gate) * up with gate the first n_ff rows, as ggml_swiglu
      const WeightView up = matrix_weight(*file_, p + "ffn_up.weight", 2 * c.n_ff, c.n_embd);
      l.w_gate = for_matmul(row_range(up, 0, c.n_ff));
      l.w_up = for_matmul(row_range(up, c.n_ff, c.n_ff));
    }
    l.w_down = for_matmul(matrix_weight(*file_, p + "ffn_down.weight", c.n_embd, c.n_ff));
    if (c.qk_norm) {
      l.q_norm = vector_weight(*file_, p + "attn_q_norm.weight", c.head_dim);
      l.k_norm = vector_weight(*file_, p + "attn_k_norm.weight", c.head_dim);
    }
    if (c.post_norms) {
      l.attn_post_norm = vector_weight(*file_, p + "post_attention_norm.weight", c.n_embd);
      l.ffn_post_norm = vector_weight(*file_, p + "post_ffw_norm.weight", c.n_embd);
    }
    layers_.push_back(l);
  }
}

WeightView LlamaModel::for_matmul(const WeightView& w) {
  if (!kernels::prefers_interleaved(w)) return w;
  interleaved_.push_back(std::make_unique<kernels::InterleavedWeight>(w, pool_));
  file_->release(w.data, interleaved_.back()->bytes());
  return interleaved_.back()->view();
}

std::unique_ptr<KvCache> LlamaModel::make_cache(size_t block_tokens, size_t n_blocks,
                                                kernels::KvType type) const {
  return std::make_unique<KvCache>(config_.n_layer, config_.kv_dim(), block_tokens, n_blocks, type);
}

void LlamaModel::matmul(const WeightView& w, const float* x, size_t n, float* y) {
  if (reference_) {
    kernels::matmul_reference(w, x, n, y);
  } else {
    kernels::matmul(w, x, n, y, pool_);
  }
}

void LlamaModel::matmul_group(std::span<const kernels::MatmulTarget> targets, const float* x,
                              size_t n) {
  if (reference_) {
    for (const auto& t : targets) kernels::matmul_reference(*t.w, x, n, t.y);
  } else {
    kernels::matmul_group(targets, x, n, pool_);
  }
}

void LlamaModel::add_residual() {
  const size_t n = config_.n_embd;
  for_token_ranges([&](size_t t0, size_t t1) {
    kernels::add(&x_[t0 * n], &h_[t0 * n], (t1 - t0) * n);
  });
}

void LlamaModel::norm_rows(const float* weight, bool in_place) {
  const size_t n = config_.n_embd;
  const float* src = in_place ? h_.data() : x_.data();
  for_token_ranges([&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      kernels::rms_norm(&src[t * n], weight, &h_[t * n], n, config_.rms_eps);
    }
  });
}

void LlamaModel::for_token_ranges(const std::function<void(size_t t0, size_t t1)>& fn) {
  const size_t T = n_tokens_;
  if (T < kMinParallelTokens) {
    fn(0, T);
    return;
  }
  const size_t chunks = std::min(T, kTokenChunksPerThread * pool_.size());
  pool_.parallel_for(chunks, [&](size_t chunk, size_t) {
    fn(chunk * T / chunks, (chunk + 1) * T / chunks);
  });
}

void LlamaModel::forward(std::span<const SequenceBatch> batch, KvCache& cache,
                         std::vector<float>& logits) {
  const auto& c = config_;
  slots_.clear();
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& seq = batch[s];
    if (seq.tokens.empty()) fail("forward: sequence {} has no tokens", s);
    size_t end = seq.start_pos + seq.tokens.size();
    if (seq.blocks.size() * cache.block_tokens() < end) {
      fail("forward: block table of sequence {} covers {} positions, needs {}", s,
           seq.blocks.size() * cache.block_tokens(), end);
    }
    for (size_t i = 0; i < seq.tokens.size(); ++i) {
      if (seq.tokens[i] < 0 || static_cast<size_t>(seq.tokens[i]) >= c.n_vocab) {
        fail("forward: token id {} is outside the vocabulary (0..{})", seq.tokens[i],
             c.n_vocab - 1);
      }
      slots_.push_back({s, seq.start_pos + i});
    }
  }
  n_tokens_ = slots_.size();
  const size_t T = n_tokens_;
  x_.resize(T * c.n_embd);
  h_.resize(T * c.n_embd);
  q_.resize(T * c.q_dim());
  k_.resize(T * c.kv_dim());
  v_.resize(T * c.kv_dim());
  attn_.resize(T * c.q_dim());
  gate_.resize(T * c.n_ff);
  up_.resize(T * c.n_ff);
  const size_t half = c.rope_dim / 2;
  const bool swa_rope = swa_rope_differs(c);
  rope_cos_.resize(T * half);
  rope_sin_.resize(T * half);
  rope_cos_swa_.resize(swa_rope ? T * half : 0);
  rope_sin_swa_.resize(swa_rope ? T * half : 0);
  for_token_ranges([&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) {
      rope_angles_scaled(slots_[t].pos, c.rope_scale, rope_freqs_, c.rope_dim, c.rope_base,
                         &rope_cos_[t * half], &rope_sin_[t * half]);
      if (swa_rope) {
        kernels::rope_angles(slots_[t].pos, c.rope_dim, c.rope_base_swa, &rope_cos_swa_[t * half],
                             &rope_sin_swa_[t * half]);
      }
    }
  });

  embed(batch);
  for (size_t il = 0; il < c.n_layer; ++il) {
    attention_block(layers_[il], il, batch, cache);
    ffn_block(layers_[il]);
  }
  output(batch, logits);
}

void LlamaModel::embed(std::span<const SequenceBatch> batch) {
  const size_t n = config_.n_embd;
  size_t t = 0;
  for (const auto& seq : batch) {
    for (int32_t id : seq.tokens) {
      float* row = &x_[t++ * n];
      kernels::get_row(token_embd_, id, row);
      if (config_.embd_scale != 1.0f) kernels::scale(row, config_.embd_scale, n);
    }
  }
}

void LlamaModel::attention_block(const Layer& l, size_t il, std::span<const SequenceBatch> batch,
                                 KvCache& cache) {
  norm_rows(l.attn_norm, false);
  const kernels::MatmulTarget qkv[] = {{&l.wq, q_.data()}, {&l.wk, k_.data()}, {&l.wv, v_.data()}};
  matmul_group(qkv, h_.data(), n_tokens_);
  for_token_ranges([&](size_t t0, size_t t1) {
    for (size_t t = t0; t < t1; ++t) position_and_store(l, il, t, batch, cache);
  });
  attend(il, batch, cache);
  matmul(l.wo, attn_.data(), n_tokens_, h_.data());
  if (l.attn_post_norm) norm_rows(l.attn_post_norm, true);
  add_residual();
}

// Token t's q/k/v get their biases, per-head norms (Gemma) and rotary embedding; its key
// and value go where its position lives in its sequence's blocks. Tokens touch disjoint
// rows and cache slots.
void LlamaModel::position_and_store(const Layer& l, size_t il, size_t t,
                                    std::span<const SequenceBatch> batch, KvCache& cache) {
  const auto& c = config_;
  const bool interleaved = c.rope_style == RopeStyle::Interleaved;
  const size_t half = c.rope_dim / 2;
  float* q = &q_[t * c.q_dim()];
  float* k = &k_[t * c.kv_dim()];
  float* v = &v_[t * c.kv_dim()];
  if (l.bq) kernels::add(q, l.bq, c.q_dim());
  if (l.bk) kernels::add(k, l.bk, c.kv_dim());
  if (l.bv) kernels::add(v, l.bv, c.kv_dim());
  if (l.q_norm) {
    for (size_t h = 0; h < c.n_head; ++h) {
      kernels::rms_norm(q + h * c.head_dim, l.q_norm, q + h * c.head_dim, c.head_dim, c.rms_eps);
    }
    for (size_t h = 0; h < c.n_head_kv; ++h) {
      kernels::rms_norm(k + h * c.head_dim, l.k_norm, k + h * c.head_dim, c.head_dim, c.rms_eps);
    }
  }
  const bool swa_angles = c.is_swa(il) && !rope_cos_swa_.empty();
  const float* cs = swa_angles ? &rope_cos_swa_[t * half] : &rope_cos_[t * half];
  const float* sn = swa_angles ? &rope_sin_swa_[t * half] : &rope_sin_[t * half];
  for (size_t h = 0; h < c.n_head; ++h) kernels::rope_apply(q + h * c.head_dim, c.rope_dim, cs, sn, interleaved);
  for (size_t h = 0; h < c.n_head_kv; ++h) kernels::rope_apply(k + h * c.head_dim, c.rope_dim, cs, sn, interleaved);
  const auto& seq = batch[slots_[t].seq];
  const size_t pos = slots_[t].pos;
  const uint32_t block = seq.blocks[pos / cache.block_tokens()];
  const size_t slot = pos % cache.block_tokens();
  cache.store(il, block, slot, k, v);
}

// Causal attention of every batch token over its own sequence's cached positions
// [0, pos], or on a sliding-window layer the last `sliding_window` of them (as llama.cpp
// masks: key position p is seen from pos iff pos - p < sliding_window). Tasks are (token,
// KV head) pairs, each covering the `group` query heads that share the KV head, so every
// cached row is read once per group. Each thread has its own score buffer (group * max_ctx
// floats) and pointer lists.
//
// A window that starts inside a block is handed to the kernel as one pointer per row
// (PagedKv with block_rows 1): the kernel's contract has no start offset, and a pointer per
// row costs a few hundred stores against the window's rows of reads.
void LlamaModel::attend(size_t il, std::span<const SequenceBatch> batch, const KvCache& cache) {
  const auto& c = config_;
  const size_t T = n_tokens_;
  const size_t bt = cache.block_tokens();
  size_t max_ctx = 0;
  for (const auto& s : slots_) max_ctx = std::max(max_ctx, s.pos + 1);
  const size_t group = c.n_head / c.n_head_kv;
  const size_t window = c.is_swa(il) ? c.sliding_window : 0;  // 0: all positions
  const size_t max_rows = window ? std::min(max_ctx, window) : 0;
  const size_t max_ptrs = std::max((max_ctx + bt - 1) / bt, max_rows);
  scores_.resize(pool_.size() * group * max_ctx);
  block_ptrs_.resize(pool_.size() * 2 * max_ptrs);
  const float scale = c.attn_scale;

  pool_.parallel_for(T * c.n_head_kv, [&](size_t task, size_t thread) {
    const size_t t = task / c.n_head_kv, kvh = task % c.n_head_kv;
    const auto& seq = batch[slots_[t].seq];
    const size_t end = slots_[t].pos + 1;
    const size_t first = window && end > window ? end - window : 0;
    const size_t n_ctx = end - first;
    const void** keys = &block_ptrs_[thread * 2 * max_ptrs];
    const void** values = keys + max_ptrs;
    const size_t head_bytes = kvh * c.head_dim * kernels::kv_type_bytes(cache.type());
    const auto row = [&](const void* p) { return static_cast<const uint8_t*>(p) + head_bytes; };
    size_t n_ptrs = 0, rows_per_ptr = bt;
    if (first == 0) {
      n_ptrs = (n_ctx + bt - 1) / bt;
      for (size_t b = 0; b < n_ptrs; ++b) {
        keys[b] = row(cache.key(il, seq.blocks[b], 0));
        values[b] = row(cache.value(il, seq.blocks[b], 0));
      }
    } else {
      n_ptrs = n_ctx, rows_per_ptr = 1;
      for (size_t j = 0; j < n_ctx; ++j) {
        const size_t p = first + j;
        keys[j] = row(cache.key(il, seq.blocks[p / bt], p % bt));
        values[j] = row(cache.value(il, seq.blocks[p / bt], p % bt));
      }
    }
    const kernels::PagedKv kv{{keys, n_ptrs}, {values, n_ptrs}, rows_per_ptr, c.kv_dim(),
                              cache.type()};
    const size_t head0 = kvh * group;
    const float* q = &q_[t * c.q_dim() + head0 * c.head_dim];
    float* out = &attn_[t * c.q_dim() + head0 * c.head_dim];
    if (c.attn_logit_softcap > 0.0f) {
      attend_softcapped(q, group, c.head_dim, kv, n_ctx, scale, c.attn_logit_softcap,
                        &scores_[thread * group * max_ctx], out);
    } else if (reference_) {
      kernels::attend_kv_head_reference(q, group, c.head_dim, kv, n_ctx, scale, out);
    } else {
      kernels::attend_kv_head(q, group, c.head_dim, kv, n_ctx, scale,
                              &scores_[thread * group * max_ctx], out);
    }
  });
}

void LlamaModel::ffn_block(const Layer& l) {
  const auto& c = config_;
  norm_rows(l.ffn_norm, false);
  const kernels::MatmulTarget gate_up[] = {{&l.w_gate, gate_.data()}, {&l.w_up, up_.data()}};
  matmul_group(gate_up, h_.data(), n_tokens_);
  const bool gelu = c.ffn_act == FfnActivation::GeluTanh;
  for_token_ranges([&](size_t t0, size_t t1) {
    float* gate = &gate_[t0 * c.n_ff];
    const float* up = &up_[t0 * c.n_ff];
    if (gelu) {
      geglu_tanh(gate, up, (t1 - t0) * c.n_ff);
    } else {
      kernels::swiglu(gate, up, (t1 - t0) * c.n_ff);
    }
  });
  matmul(l.w_down, gate_.data(), n_tokens_, h_.data());
  if (l.ffn_post_norm) norm_rows(l.ffn_post_norm, true);
  add_residual();
}

void LlamaModel::output(std::span<const SequenceBatch> batch, std::vector<float>& logits) {
  const auto& c = config_;
  // Gather the normalised rows that need logits (usually one per sequence).
  size_t rows = 0, t = 0;
  for (const auto& seq : batch) {
    const size_t first = seq.all_logits ? 0 : seq.tokens.size() - 1;
    for (size_t i = first; i < seq.tokens.size(); ++i) {
      kernels::rms_norm(&x_[(t + i) * c.n_embd], output_norm_, &h_[rows++ * c.n_embd], c.n_embd,
                        c.rms_eps);
    }
    t += seq.tokens.size();
  }
  logits.resize(rows * c.n_vocab);
  matmul(output_, h_.data(), rows, logits.data());
  if (const float cap = c.final_logit_softcap; cap > 0.0f) {
    for (float& l : logits) l = cap * std::tanh(l / cap);
  }
}

}  // namespace ragd::model
