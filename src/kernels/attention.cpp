// attend_kv_head: run-time dispatch, the portable path, and the double-precision reference.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/vector_ops.h"

namespace ragd::kernels {

namespace detail {
// False when it has no kernel for head_dim (> 128).
bool attend_kv_head_avx512(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                           size_t n_ctx, float scale, float* scores, float* out);
}  // namespace detail

namespace {

const float* key_row(const PagedKv& kv, size_t pos) {
  return kv.key_blocks[pos / kv.block_rows] + (pos % kv.block_rows) * kv.row_stride;
}

const float* value_row(const PagedKv& kv, size_t pos) {
  return kv.value_blocks[pos / kv.block_rows] + (pos % kv.block_rows) * kv.row_stride;
}

// Without AVX-512: the same three passes with one dot_f32 / axpy per row and head (both
// dispatch to AVX2 where the CPU has it). Each row is used by all heads while in L1.
void attend_portable(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
                     float scale, float* scores, float* out) {
  for (size_t j = 0; j < n_ctx; ++j) {
    const float* k = key_row(kv, j);
    for (size_t g = 0; g < group; ++g) scores[g * n_ctx + j] = scale * dot_f32(q + g * dim, k, dim);
  }
  for (size_t g = 0; g < group; ++g) softmax(scores + g * n_ctx, n_ctx);
  std::fill(out, out + group * dim, 0.0f);
  for (size_t j = 0; j < n_ctx; ++j) {
    const float* v = value_row(kv, j);
    for (size_t g = 0; g < group; ++g) axpy(out + g * dim, scores[g * n_ctx + j], v, dim);
  }
}

}  // namespace

void attend_kv_head(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                    size_t n_ctx, float scale, float* scores, float* out) {
  if (n_ctx == 0) {
    std::fill(out, out + group * head_dim, 0.0f);
    return;
  }
  // active_isa() rather than best_isa(): tests and RAGD_ISA lower it to reach the
  // portable path on an AVX-512 machine.
  if (active_isa() >= Isa::Avx512 &&
      detail::attend_kv_head_avx512(q, group, head_dim, kv, n_ctx, scale, scores, out)) {
    return;
  }
  attend_portable(q, group, head_dim, kv, n_ctx, scale, scores, out);
}

void attend_kv_head_reference(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                              size_t n_ctx, float scale, float* out) {
  std::vector<double> s(n_ctx), acc(head_dim);
  for (size_t g = 0; g < group; ++g) {
    const float* qg = q + g * head_dim;
    double max = -INFINITY;
    for (size_t j = 0; j < n_ctx; ++j) {
      const float* k = key_row(kv, j);
      double dot = 0.0;
      for (size_t d = 0; d < head_dim; ++d) dot += static_cast<double>(qg[d]) * k[d];
      s[j] = scale * dot;
      max = std::max(max, s[j]);
    }
    double sum = 0.0;
    for (size_t j = 0; j < n_ctx; ++j) sum += s[j] = std::exp(s[j] - max);
    std::fill(acc.begin(), acc.end(), 0.0);
    for (size_t j = 0; j < n_ctx; ++j) {
      const float* v = value_row(kv, j);
      for (size_t d = 0; d < head_dim; ++d) acc[d] += s[j] / sum * v[d];
    }
    for (size_t d = 0; d < head_dim; ++d) out[g * head_dim + d] = static_cast<float>(acc[d]);
  }
}

}  // namespace ragd::kernels
