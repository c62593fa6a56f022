// AVX2 + FMA + F16C kernel of attend_kv_head (attention.h), chosen at run time by
// attention.cpp; and the f16 KV-row store. Head dims that are multiples of 8 up to
// kMaxDim; others take the portable path.
//
// With 16 ymm registers neither q nor a head's output fits in registers next to the
// accumulators (head dim 64 is 8 vectors per head), so the passes are shaped around the
// register file rather than copied from the AVX-512 kernel:
//   1. scores, 8 positions x one head at a time: 8 accumulators, q streamed from L1, one
//      transpose-add tree for the 8 sums. An f16 tile's keys are converted once into an
//      f32 scratch tile that every head of the group then reads (vcvtph2ps issues once per
//      cycle on Zen 2, half the FMA rate: converting per head would cap the dots there).
//      Each block's keys come from memory once for the whole group; the next block's keys
//      and this block's values are prefetched meanwhile;
//   2. per head: softmax_avx2 (subtract the max, exponentiate, normalise, in place);
//   3. out_h = sum_j p_hj v_j for up to kMaxHeads heads per sweep over the value rows, each
//      sweep covering a chunk of the head dim small enough that the heads x chunk
//      accumulators, the heads' broadcast weights and one value vector fit the 16
//      registers (SmolLM2, head dim 64, group 3: two sweeps of 3 heads x 32 dims; the
//      sweeps read disjoint cache lines of each value row, e.g. one 64-byte half of an f16
//      row each, so no line is fetched from memory twice).
// Every function is templated on the cache's element type E: float, or fp16_t converted
// with vcvtph2ps as it is loaded.
#include <algorithm>
#include <cstddef>
#include <cstring>

#include "kernels/attention.h"
#include "kernels/attention_blocks.h"
#include "kernels/simd_avx2.h"
#include "kernels/simd_exp_avx2.h"
#include "kernels/tensor_type.h"

namespace ragd::kernels::detail {

void softmax_avx2(float* x, size_t n);  // vector_ops_avx2.cpp

namespace {

constexpr size_t kTile = 8;      // positions per score tile: one ymm of scores
constexpr size_t kMaxDim = 128;  // bounds the f32 scratch tile (4 KB on the stack)
constexpr int kMaxHeads = 4;     // heads per value sweep

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const fp16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Lane i of the result = the sum of the 8 lanes of v[i]: 17 shuffles and adds, against 8
// separate horizontal sums of ~5 dependent operations each.
inline __m256 sum_lanes_transposed(const __m256 (&v)[8]) {
  __m256 pairs[4];  // 128-bit lane k of pairs[i]: partial sums of v[2i], v[2i+1], v[2i], v[2i+1]
  for (int i = 0; i < 4; ++i) {
    pairs[i] = _mm256_add_ps(_mm256_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm256_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
  __m256 quads[2];  // 128-bit lane k of quads[i]: v[4i..4i+3] summed over their lane k
  for (int i = 0; i < 2; ++i) {
    const __m256d a = _mm256_castps_pd(pairs[2 * i]), b = _mm256_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(a, b)),
                             _mm256_castpd_ps(_mm256_unpackhi_pd(a, b)));
  }
  // [low lanes of quads[0], of quads[1]] + [high lanes of quads[0], of quads[1]].
  return _mm256_add_ps(_mm256_permute2f128_ps(quads[0], quads[1], 0x20),
                       _mm256_permute2f128_ps(quads[0], quads[1], 0x31));
}

// Lane i = q . rows[i * stride ...] over dim floats (a multiple of 8), for 8 rows.
inline __m256 tile_dots(const float* q, const float* rows, size_t stride, size_t dim) {
  __m256 acc[kTile];
  const __m256 q0 = _mm256_loadu_ps(q);
#pragma GCC unroll 8
  for (size_t i = 0; i < kTile; ++i) acc[i] = _mm256_mul_ps(q0, _mm256_loadu_ps(rows + i * stride));
  for (size_t d = 8; d < dim; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
    for (size_t i = 0; i < kTile; ++i) {
      acc[i] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(rows + i * stride + d), acc[i]);
    }
  }
  return sum_lanes_transposed(acc);
}

// The n <= 8 key rows at `rows` as 8 f32 rows for tile_dots: returns where they are and
// sets `stride`. A full f32 tile is used in place; otherwise the rows are converted or
// copied into `scratch` (8 x dim floats), rows >= n repeating row n-1 so that no row past
// the context (or the block) is read. Their lanes are discarded by the caller.
template <typename E>
const float* stage_tile(const E* rows, size_t row_stride, size_t n, size_t dim, float* scratch,
                        size_t& stride) {
  if constexpr (sizeof(E) == sizeof(float)) {
    if (n == kTile) {
      stride = row_stride;
      return rows;
    }
  }
  for (size_t i = 0; i < kTile; ++i) {
    const E* row = rows + std::min(i, n - 1) * row_stride;
    for (size_t d = 0; d < dim; d += 8) _mm256_storeu_ps(scratch + i * dim + d, load8(row + d));
  }
  stride = dim;
  return scratch;
}

// Pass 1: scores[g * n_ctx + j] = scale * q_g . k_j. Tiles never straddle a block, so the
// rows of a tile are equally spaced; each tile stays in L1 while every head uses it.
template <typename E>
void score_pass(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
                float scale, float* scores) {
  alignas(32) float scratch[kTile * kMaxDim];
  const __m256 vscale = _mm256_set1_ps(scale);
  for_each_key_tile<E>(kv, n_ctx, dim, kTile, [&](const E* keys, size_t j, size_t n) {
    size_t stride = 0;
    const float* rows = stage_tile(keys, kv.row_stride, n, dim, scratch, stride);
    for (size_t g = 0; g < group; ++g) {
      const __m256 s = _mm256_mul_ps(tile_dots(q + g * dim, rows, stride, dim), vscale);
      float* dst = scores + g * n_ctx + j;
      if (n == kTile) {
        _mm256_storeu_ps(dst, s);
      } else {
        _mm256_maskstore_ps(dst, avx2::first_lanes(n), s);
      }
    }
  });
}

// Vectors (of 8 floats) of the head dim one value sweep of kHeads heads covers: the
// kHeads x chunk accumulators, kHeads broadcast weights and one value vector must fit the
// 16 ymm registers, or GCC spills the accumulators on every row. (Register arrays need
// their constant-trip loops under `#pragma GCC unroll` to stay in registers.)
constexpr int max_chunk(int heads) { return std::min(8, 15 / heads - 1); }

// Pass 3 for heads [0, kHeads) of p/out and dims [d0, d0 + 8 * kChunk):
// out_h = sum_j p[h * n_ctx + j] * v_j.
template <int kHeads, int kChunk, typename E>
void value_sweep(const float* p, size_t dim, size_t d0, const PagedKv& kv, size_t n_ctx,
                 float* out) {
  __m256 acc[kHeads][kChunk];
#pragma GCC unroll 8
  for (int h = 0; h < kHeads; ++h) {
#pragma GCC unroll 8
    for (int c = 0; c < kChunk; ++c) acc[h][c] = _mm256_setzero_ps();
  }
  for (size_t b = 0, j0 = 0; j0 < n_ctx; ++b, j0 += kv.block_rows) {
    const size_t block_n = std::min(kv.block_rows, n_ctx - j0);
    const E* row = block_of<E>(kv.value_blocks, b) + d0;
    const float* w = p + j0;
    for (size_t i = 0; i < block_n; ++i, row += kv.row_stride) {
      __m256 wh[kHeads];
#pragma GCC unroll 8
      for (int h = 0; h < kHeads; ++h) wh[h] = _mm256_broadcast_ss(w + h * n_ctx + i);
#pragma GCC unroll 8
      for (int c = 0; c < kChunk; ++c) {
        const __m256 v = load8(row + 8 * c);
#pragma GCC unroll 8
        for (int h = 0; h < kHeads; ++h) acc[h][c] = _mm256_fmadd_ps(wh[h], v, acc[h][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < kHeads; ++h) {
#pragma GCC unroll 8
    for (int c = 0; c < kChunk; ++c) _mm256_storeu_ps(out + h * dim + d0 + 8 * c, acc[h][c]);
  }
}

// value_sweep with kChunk = `chunk` (1 <= chunk <= max_chunk(kHeads)) chosen at run time.
template <typename E, int kHeads, int kChunk = max_chunk(kHeads)>
void value_sweep_chunk(size_t chunk, const float* p, size_t dim, size_t d0, const PagedKv& kv,
                       size_t n_ctx, float* out) {
  if constexpr (kChunk > 1) {
    if (chunk < static_cast<size_t>(kChunk)) {
      return value_sweep_chunk<E, kHeads, kChunk - 1>(chunk, p, dim, d0, kv, n_ctx, out);
    }
  }
  value_sweep<kHeads, kChunk, E>(p, dim, d0, kv, n_ctx, out);
}

// Pass 3 for heads [0, kHeads) over the whole head dim, in as few sweeps as the register
// budget allows, of near-equal chunks (head dim 64 as 4 + 4 vectors, not 6 + 2).
template <typename E, int kHeads>
void value_heads(const float* p, size_t dim, const PagedKv& kv, size_t n_ctx, float* out) {
  const size_t vecs = dim / 8, limit = max_chunk(kHeads);
  const size_t sweeps = (vecs + limit - 1) / limit;
  const size_t chunk = (vecs + sweeps - 1) / sweeps;
  for (size_t c0 = 0; c0 < vecs; c0 += chunk) {
    value_sweep_chunk<E, kHeads>(std::min(chunk, vecs - c0), p, dim, 8 * c0, kv, n_ctx, out);
  }
}

// value_heads with kHeads = `heads` (1 <= heads <= kMaxHeads) chosen at run time.
template <typename E, int kHeads = kMaxHeads>
void value_heads_of(size_t heads, const float* p, size_t dim, const PagedKv& kv, size_t n_ctx,
                    float* out) {
  if constexpr (kHeads > 1) {
    if (heads < static_cast<size_t>(kHeads)) {
      return value_heads_of<E, kHeads - 1>(heads, p, dim, kv, n_ctx, out);
    }
  }
  value_heads<E, kHeads>(p, dim, kv, n_ctx, out);
}

template <typename E>
void attend(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
            float scale, float* scores, float* out) {
  score_pass<E>(q, group, dim, kv, n_ctx, scale, scores);
  for (size_t g = 0; g < group; ++g) softmax_avx2(scores + g * n_ctx, n_ctx);  // pass 2
  for (size_t h0 = 0; h0 < group; h0 += kMaxHeads) {
    value_heads_of<E>(std::min<size_t>(kMaxHeads, group - h0), scores + h0 * n_ctx, dim, kv,
                      n_ctx, out + h0 * dim);
  }
}

}  // namespace

bool attend_kv_head_avx2(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                         size_t n_ctx, float scale, float* scores, float* out) {
  if (head_dim == 0 || head_dim % 8 != 0 || head_dim > kMaxDim) return false;
  if (kv.type == KvType::F16) {
    attend<fp16_t>(q, group, head_dim, kv, n_ctx, scale, scores, out);
  } else {
    attend<float>(q, group, head_dim, kv, n_ctx, scale, scores, out);
  }
  return true;
}

// vcvtps2ph rounding to nearest even gives fp32_to_fp16's bits for every non-NaN float,
// subnormal halves included (the instruction ignores MXCSR.FTZ; a float subnormal, which
// DAZ would zero, rounds to a signed half zero either way). NaN payloads may differ.
void store_kv_row_f16_avx2(const float* x, fp16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {  // the last n - i < 8 floats, through a buffer: AVX2 has no 16-bit maskstore
    alignas(16) fp16_t tail[8];
    const __m256 v = _mm256_maskload_ps(x + i, avx2::first_lanes(n - i));
    _mm_store_si128(reinterpret_cast<__m128i*>(tail),
                    _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(out + i, tail, (n - i) * sizeof(fp16_t));
  }
}

}  // namespace ragd::kernels::detail
