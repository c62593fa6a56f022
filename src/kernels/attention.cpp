// attend_kv_head: run-time dispatch, the portable path, and the double-precision reference.
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "util/error.h"
#include "kernels/vector_ops.h"

namespace ragd::kernels {

namespace detail {
// False when it has no kernel for head_dim (> 128).
bool attend_kv_head_avx512(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                           size_t n_ctx, float scale, float* scores, float* out);
void store_kv_row_f16_avx512(const float* x, fp16_t* out, size_t n);
// False when it has no kernel for head_dim (not a multiple of 8, or > 128).
bool attend_kv_head_avx2(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                         size_t n_ctx, float scale, float* scores, float* out);
void store_kv_row_f16_avx2(const float* x, fp16_t* out, size_t n);
}  // namespace detail

namespace {

// Row `pos` of the keys or values (`blocks`) as floats: in place for an f32 cache,
// converted into `scratch` (dim floats) for f16.
const float* row_floats(const PagedKv& kv, std::span<const void* const> blocks, size_t pos,
                        size_t dim, float* scratch) {
  const size_t offset = (pos % kv.block_rows) * kv.row_stride;
  if (kv.type == KvType::F32) return static_cast<const float*>(blocks[pos / kv.block_rows]) + offset;
  const fp16_t* row = static_cast<const fp16_t*>(blocks[pos / kv.block_rows]) + offset;
  for (size_t d = 0; d < dim; ++d) scratch[d] = fp16_to_fp32(row[d]);
  return scratch;
}

// Without a SIMD kernel for this CPU or head dim: the same three passes with one dot_f32 /
// axpy per row and head (both dispatch to AVX2 where the CPU has it). Each row is used by
// all heads while in L1.
void attend_portable(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
                     float scale, float* scores, float* out) {
  std::vector<float> scratch(dim);
  for (size_t j = 0; j < n_ctx; ++j) {
    const float* k = row_floats(kv, kv.key_blocks, j, dim, scratch.data());
    for (size_t g = 0; g < group; ++g) scores[g * n_ctx + j] = scale * dot_f32(q + g * dim, k, dim);
  }
  for (size_t g = 0; g < group; ++g) softmax(scores + g * n_ctx, n_ctx);
  std::fill(out, out + group * dim, 0.0f);
  for (size_t j = 0; j < n_ctx; ++j) {
    const float* v = row_floats(kv, kv.value_blocks, j, dim, scratch.data());
    for (size_t g = 0; g < group; ++g) axpy(out + g * dim, scores[g * n_ctx + j], v, dim);
  }
}

}  // namespace

size_t kv_type_bytes(KvType type) { return type == KvType::F16 ? sizeof(fp16_t) : sizeof(float); }

std::string_view kv_type_name(KvType type) { return type == KvType::F16 ? "f16" : "f32"; }

KvType kv_type_from_name(std::string_view name) {
  if (name == "f32") return KvType::F32;
  if (name == "f16") return KvType::F16;
  fail("unknown KV cache type '{}': use f16 or f32", name);
}

void store_kv_row(KvType type, const float* x, void* dst, size_t n) {
  if (type == KvType::F32) {
    std::memcpy(dst, x, n * sizeof(float));
    return;
  }
  auto* out = static_cast<fp16_t*>(dst);
  if (active_isa() >= Isa::Avx512) return detail::store_kv_row_f16_avx512(x, out, n);
  if (active_isa() >= Isa::Avx2) return detail::store_kv_row_f16_avx2(x, out, n);
  for (size_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(x[i]);
}

void attend_kv_head(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                    size_t n_ctx, float scale, float* scores, float* out) {
  if (n_ctx == 0) {
    std::fill(out, out + group * head_dim, 0.0f);
    return;
  }
  // active_isa() rather than best_isa(): tests and RAGD_ISA lower it to reach the
  // portable path on an AVX-512 machine.
  const Isa isa = active_isa();
  if (isa >= Isa::Avx512 &&
      detail::attend_kv_head_avx512(q, group, head_dim, kv, n_ctx, scale, scores, out)) {
    return;
  }
  if (isa >= Isa::Avx2 &&
      detail::attend_kv_head_avx2(q, group, head_dim, kv, n_ctx, scale, scores, out)) {
    return;
  }
  attend_portable(q, group, head_dim, kv, n_ctx, scale, scores, out);
}

void attend_kv_head_reference(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                              size_t n_ctx, float scale, float* out) {
  std::vector<double> s(n_ctx), acc(head_dim);
  std::vector<float> scratch(head_dim);
  for (size_t g = 0; g < group; ++g) {
    const float* qg = q + g * head_dim;
    double max = -INFINITY;
    for (size_t j = 0; j < n_ctx; ++j) {
      const float* k = row_floats(kv, kv.key_blocks, j, head_dim, scratch.data());
      double dot = 0.0;
      for (size_t d = 0; d < head_dim; ++d) dot += static_cast<double>(qg[d]) * k[d];
      s[j] = scale * dot;
      max = std::max(max, s[j]);
    }
    double sum = 0.0;
    for (size_t j = 0; j < n_ctx; ++j) sum += s[j] = std::exp(s[j] - max);
    std::fill(acc.begin(), acc.end(), 0.0);
    for (size_t j = 0; j < n_ctx; ++j) {
      const float* v = row_floats(kv, kv.value_blocks, j, head_dim, scratch.data());
      for (size_t d = 0; d < head_dim; ++d) acc[d] += s[j] / sum * v[d];
    }
    for (size_t d = 0; d < head_dim; ++d) out[g * head_dim + d] = static_cast<float>(acc[d]);
  }
}

}  // namespace ragd::kernels
