#include "model/bert_model.h"

#include <algorithm>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/dense_attention.h"
#include "kernels/quants.h"
#include "kernels/vector_ops.h"
#include "model/fast_gelu.h"
#include "model/model_weights.h"
#include "util/error.h"

namespace ragd::model {

using kernels::WeightView;

BertModel::BertModel(std::shared_ptr<const GgufFile> file, kernels::ThreadPool& pool,
                     BertPrecision precision)
    : file_(std::move(file)), pool_(pool), config_(BertConfig::from_gguf(*file_)),
      precision_(precision) {
  const auto& c = config_;
  token_embd_ = matrix_weight(*file_, "token_embd.weight", c.n_vocab, c.n_embd);
  token_types_ = matrix_weight(*file_, "token_types.weight", c.n_token_types, c.n_embd);
  position_embd_ = matrix_weight(*file_, "position_embd.weight", file_->tensor("position_embd.weight").dims[1],
                          c.n_embd);
  embd_norm_w_ = vector_weight(*file_, "token_embd_norm.weight", c.n_embd);
  embd_norm_b_ = vector_weight(*file_, "token_embd_norm.bias", c.n_embd);
  type0_.resize(c.n_embd);
  kernels::get_row(token_types_, 0, type0_.data());
  for (size_t i = 0; i < c.n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    Layer l;
    l.wq = for_matmul(matrix_weight(*file_, p + "attn_q.weight", c.n_embd, c.n_embd));
    l.wk = for_matmul(matrix_weight(*file_, p + "attn_k.weight", c.n_embd, c.n_embd));
    l.wv = for_matmul(matrix_weight(*file_, p + "attn_v.weight", c.n_embd, c.n_embd));
    l.wo = for_matmul(matrix_weight(*file_, p + "attn_output.weight", c.n_embd, c.n_embd));
    l.w_up = for_matmul(matrix_weight(*file_, p + "ffn_up.weight", c.n_ff, c.n_embd));
    l.w_down = for_matmul(matrix_weight(*file_, p + "ffn_down.weight", c.n_embd, c.n_ff));
    l.bq = vector_weight(*file_, p + "attn_q.bias", c.n_embd);
    l.bk = vector_weight(*file_, p + "attn_k.bias", c.n_embd);
    l.bv = vector_weight(*file_, p + "attn_v.bias", c.n_embd);
    l.bo = vector_weight(*file_, p + "attn_output.bias", c.n_embd);
    l.b_up = vector_weight(*file_, p + "ffn_up.bias", c.n_ff);
    l.b_down = vector_weight(*file_, p + "ffn_down.bias", c.n_embd);
    l.attn_norm_w = vector_weight(*file_, p + "attn_output_norm.weight", c.n_embd);
    l.attn_norm_b = vector_weight(*file_, p + "attn_output_norm.bias", c.n_embd);
    l.out_norm_w = vector_weight(*file_, p + "layer_output_norm.weight", c.n_embd);
    l.out_norm_b = vector_weight(*file_, p + "layer_output_norm.bias", c.n_embd);
    layers_.push_back(l);
  }
}

WeightView BertModel::for_matmul(const WeightView& w) {
  // Q8_0 blocks are 32 columns wide; a matrix of another width stays float.
  if (precision_ == BertPrecision::Int8 && is_float_type(w.type) && w.cols % kernels::QK8_0 == 0) {
    quantized_.push_back(std::make_unique<QuantizedWeight>(w, kernels::TensorType::Q8_0, pool_));
    file_->release(w.data, kernels::row_bytes(w.type, w.cols) * w.rows);
    return quantized_.back()->view();
  }
  if (!kernels::prefers_interleaved(w)) return w;
  interleaved_.push_back(std::make_unique<kernels::InterleavedWeight>(w, pool_));
  file_->release(w.data, interleaved_.back()->bytes());
  return interleaved_.back()->view();
}

void BertModel::matmul(const WeightView& w, const float* x, size_t n, float* y) {
  if (reference_) {
    kernels::matmul_reference(w, x, n, y);
  } else {
    kernels::matmul(w, x, n, y, pool_);
  }
}

void BertModel::matmul_group(std::span<const kernels::MatmulTarget> targets, const float* x,
                             size_t n) {
  if (reference_) {
    for (const auto& t : targets) kernels::matmul_reference(*t.w, x, n, t.y);
  } else {
    kernels::matmul_group(targets, x, n, pool_);
  }
}

void BertModel::embed(std::span<const std::span<const int32_t>> sequences, float* out) {
  const auto& c = config_;
  spans_.clear();
  size_t total = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto& seq = sequences[s];
    if (seq.empty() || seq.size() > c.n_ctx) {
      fail("embed: sequence {} has {} tokens; it must have 1..{}", s, seq.size(), c.n_ctx);
    }
    for (int32_t id : seq) {
      if (id < 0 || static_cast<size_t>(id) >= c.n_vocab) {
        fail("embed: token id {} is outside the vocabulary (0..{})", id, c.n_vocab - 1);
      }
    }
    spans_.push_back({total, seq.size()});
    total += seq.size();
  }
  n_tokens_ = total;
  if (total == 0) return;
  x_.resize(total * c.n_embd);
  q_.resize(total * c.n_embd);
  k_.resize(total * c.n_embd);
  v_.resize(total * c.n_embd);
  attn_.resize(total * c.n_embd);
  tmp_.resize(total * c.n_embd);
  ff_.resize(total * c.n_ff);

  embed_tokens(sequences);
  for (const Layer& l : layers_) {
    attention_block(l);
    ffn_block(l);
  }
  pool_and_normalize(out);
}

void BertModel::embed_tokens(std::span<const std::span<const int32_t>> sequences) {
  const size_t E = config_.n_embd;
  pool_.parallel_for(sequences.size(), [&](size_t s, size_t) {
    const Span sp = spans_[s];
    std::vector<float> pos(E);
    for (size_t i = 0; i < sp.length; ++i) {
      float* x = &x_[(sp.begin + i) * E];
      kernels::get_row(token_embd_, static_cast<size_t>(sequences[s][i]), x);
      kernels::get_row(position_embd_, i, pos.data());
      for (size_t e = 0; e < E; ++e) x[e] += type0_[e] + pos[e];
      kernels::layer_norm(x, embd_norm_w_, embd_norm_b_, x, E, config_.eps);
    }
  });
}

void BertModel::add_bias_residual_norm(float* y, const float* bias, const float* w,
                                       const float* b) {
  const size_t E = config_.n_embd;
  const float eps = config_.eps;
  pool_.parallel_for(n_tokens_, [&](size_t t, size_t) {
    float* x = &x_[t * E];
    const float* yt = y + t * E;
    for (size_t e = 0; e < E; ++e) x[e] += yt[e] + bias[e];
    kernels::layer_norm(x, w, b, x, E, eps);
  });
}

void BertModel::attention_block(const Layer& l) {
  const size_t E = config_.n_embd, T = n_tokens_;
  const kernels::MatmulTarget qkv[] = {{&l.wq, q_.data()}, {&l.wk, k_.data()}, {&l.wv, v_.data()}};
  matmul_group(qkv, x_.data(), T);
  pool_.parallel_for(T, [&](size_t t, size_t) {
    kernels::add(&q_[t * E], l.bq, E);
    kernels::add(&k_[t * E], l.bk, E);
    kernels::add(&v_[t * E], l.bv, E);
  });
  attend();
  matmul(l.wo, attn_.data(), T, tmp_.data());
  add_bias_residual_norm(tmp_.data(), l.bo, l.attn_norm_w, l.attn_norm_b);
}

// Scaled dot-product attention of every token over all tokens of its own sequence.
//
// Short sequences (queries) run as (sequence, head) tasks on the pool, each query row through
// the decode-time attention kernel (kernels/attention.h): a sequence's keys and values of
// one head are a single "block" of rows E floats apart, so the kernel reads them in place.
// That kernel re-reads a head's keys for every query row, which costs more than the
// projections once sequences reach passage length, so longer sequences go through
// attend_long(), whose kernel transposes a head's keys once and scores 4 queries at a time.
void BertModel::attend() {
  const auto& c = config_;
  const size_t E = c.n_embd, D = c.head_dim, H = c.n_head;
  const bool all_short = reference_;  // the reference path scores every row in double
  std::vector<size_t> short_seqs;
  size_t max_len = 0;
  for (size_t s = 0; s < spans_.size(); ++s) {
    if (all_short || spans_[s].length < long_sequence_) {
      short_seqs.push_back(s);
      max_len = std::max(max_len, spans_[s].length);
    }
  }
  scores_.resize(pool_.size() * max_len);
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  pool_.parallel_for(short_seqs.size() * H, [&](size_t task, size_t thread) {
    const Span sp = spans_[short_seqs[task / H]];
    const size_t off = (task % H) * D;
    const void* keys = &k_[sp.begin * E + off];
    const void* values = &v_[sp.begin * E + off];
    const kernels::PagedKv kv{{&keys, 1}, {&values, 1}, sp.length, E, kernels::KvType::F32};
    float* scores = &scores_[thread * max_len];
    for (size_t i = 0; i < sp.length; ++i) {
      const float* q = &q_[(sp.begin + i) * E + off];
      float* o = &attn_[(sp.begin + i) * E + off];
      if (reference_) {
        kernels::attend_kv_head_reference(q, 1, D, kv, sp.length, scale, o);
      } else {
        kernels::attend_kv_head(q, 1, D, kv, sp.length, scale, scores, o);
      }
    }
  });
  if (all_short) return;
  for (const Span& sp : spans_) {
    if (sp.length >= long_sequence_) attend_long(sp);
  }
}

// One long sequence, one head per pool task: the dense attention kernel reads the head's
// columns of q_, k_ and v_ in place and writes its columns of attn_.
void BertModel::attend_long(const Span& sp) {
  const auto& c = config_;
  const size_t E = c.n_embd, D = c.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(D));
  head_scratch_.resize(pool_.size());
  pool_.parallel_for(c.n_head, [&](size_t h, size_t thread) {
    const size_t at = sp.begin * E + h * D;
    kernels::dense_attention_head(&q_[at], &k_[at], &v_[at], E, sp.length, D, scale, &attn_[at],
                                  head_scratch_[thread]);
  });
}

void BertModel::ffn_block(const Layer& l) {
  const size_t F = config_.n_ff, T = n_tokens_;
  matmul(l.w_up, x_.data(), T, ff_.data());
  pool_.parallel_for(T, [&](size_t t, size_t) {
    float* f = &ff_[t * F];
    kernels::add(f, l.b_up, F);
    gelu_erf(f, F);
  });
  matmul(l.w_down, ff_.data(), T, tmp_.data());
  add_bias_residual_norm(tmp_.data(), l.b_down, l.out_norm_w, l.out_norm_b);
}

void BertModel::pool_and_normalize(float* out) {
  const size_t E = config_.n_embd;
  for (size_t s = 0; s < spans_.size(); ++s) {
    const Span sp = spans_[s];
    float* o = out + s * E;
    if (config_.pooling == BertPooling::Cls) {
      std::copy_n(&x_[sp.begin * E], E, o);
    } else {
      // Sum in double: long sequences would otherwise lose low bits of every row.
      std::vector<double> acc(E, 0.0);
      for (size_t i = 0; i < sp.length; ++i) {
        const float* x = &x_[(sp.begin + i) * E];
        for (size_t e = 0; e < E; ++e) acc[e] += x[e];
      }
      for (size_t e = 0; e < E; ++e) o[e] = static_cast<float>(acc[e] / sp.length);
    }
    double norm = 0;
    for (size_t e = 0; e < E; ++e) norm += static_cast<double>(o[e]) * o[e];
    // sentence-transformers' Normalize clamps the norm at 1e-12 (a zero vector stays zero).
    const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
    for (size_t e = 0; e < E; ++e) o[e] *= inv;
  }
}

}  // namespace ragd::model
