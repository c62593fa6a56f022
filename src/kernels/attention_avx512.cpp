// AVX-512 kernel of attend_kv_head (attention.h), chosen at run time by attention.cpp.
//
// Head dims up to 128 (kVecs <= 8 vectors of 16 floats) are compile-time specialised, so q,
// the 16 score accumulators of a tile and the output accumulators live in registers; a head
// dim that is not a multiple of 16 reads its last vector with a mask (kTail). Three passes
// per call:
//   1. scores, 16 positions x one head at a time, reduced by one transpose-add tree; each
//      block's keys are read from memory once for the whole group, and the next block's
//      keys and this block's values are prefetched meanwhile;
//   2. per head: subtract the max, exponentiate, normalise (in place, over n_ctx floats);
//   3. out_g = sum_j p_gj v_j, with max_heads_per_sweep(kVecs) heads per sweep over the
//      value rows (one sweep for SmolLM2's group of 3 at head dim 64).
// Every function is templated on the cache's element type E: float, or fp16_t converted
// with vcvtph2ps as it is loaded (half the bytes from memory, one more op per vector).
#include <algorithm>
#include <cstddef>

#include "kernels/attention.h"
#include "kernels/attention_blocks.h"
#include "kernels/simd_avx512.h"
#include "kernels/simd_exp_avx512.h"
#include "kernels/tensor_type.h"

namespace ragd::kernels::detail {
namespace {

constexpr size_t kTile = 16;  // positions per score tile: one zmm of scores

__mmask16 first_lanes(size_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// Lane i of the result = the sum of the 16 lanes of v[i]. 30 shuffles and 15 adds, against
// 16 separate horizontal sums of ~8 operations each.
inline __m512 sum_lanes_transposed(const __m512 (&v)[16]) {
  __m512 pairs[8];  // 128-bit lane k of pairs[i]: partial sums of v[2i], v[2i+1], v[2i], v[2i+1]
  for (int i = 0; i < 8; ++i) {
    pairs[i] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * i], v[2 * i + 1]),
                             _mm512_unpackhi_ps(v[2 * i], v[2 * i + 1]));
  }
  __m512 quads[4];  // 128-bit lane k of quads[i]: v[4i..4i+3] summed over their lane k
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(pairs[2 * i]), b = _mm512_castps_pd(pairs[2 * i + 1]);
    quads[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(a, b)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(a, b)));
  }
  // Fold the four 128-bit lanes: [a0 a2 b0 b2] + [a1 a3 b1 b3], twice.
  __m512 halves[2];
  for (int i = 0; i < 2; ++i) {
    halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0x88),
                              _mm512_shuffle_f32x4(quads[2 * i], quads[2 * i + 1], 0xDD));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], 0x88),
                       _mm512_shuffle_f32x4(halves[0], halves[1], 0xDD));
}

// 16 elements at p as floats; only the lanes of `mask` are read (the others are 0).
inline __m512 load16(const float* p, __mmask16 mask) { return _mm512_maskz_loadu_ps(mask, p); }
inline __m512 load16(const fp16_t* p, __mmask16 mask) {
  return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, p));
}
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const fp16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

template <bool kTail, typename E>
inline __m512 load_vec(const E* p, bool last, __mmask16 tail) {
  if constexpr (kTail) {
    if (last) return load16(p, tail);
  }
  return load16(p);
}

// Lane i = q . row_i for the n <= 16 rows starting at `rows`, `stride` elements apart.
// Lanes i >= n repeat row n-1 (never read past the block); the caller discards them.
template <int kVecs, bool kTail, typename E>
inline __m512 tile_dots(const float* q, __mmask16 tail, const E* rows, size_t stride,
                        size_t n) {
  __m512 qv[kVecs];
#pragma GCC unroll 8
  for (int c = 0; c < kVecs; ++c) qv[c] = load_vec<kTail>(q + 16 * c, c == kVecs - 1, tail);
  __m512 acc[kTile];
#pragma GCC unroll 16
  for (size_t i = 0; i < kTile; ++i) {
    const E* row = rows + std::min(i, n - 1) * stride;
    acc[i] = _mm512_mul_ps(qv[0], load_vec<kTail>(row, kVecs == 1, tail));
#pragma GCC unroll 8
    for (int c = 1; c < kVecs; ++c) {
      acc[i] = _mm512_fmadd_ps(qv[c], load_vec<kTail>(row + 16 * c, c == kVecs - 1, tail), acc[i]);
    }
  }
  return sum_lanes_transposed(acc);
}

// Pass 1: scores[g * n_ctx + j] = scale * q_g . k_j. Tiles never straddle a block, so the
// rows of a tile are equally spaced; each tile's rows stay in L1 while every head uses them.
template <int kVecs, bool kTail, typename E>
void score_pass(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
                float scale, float* scores) {
  const __mmask16 tail = first_lanes(dim % 16);
  const __m512 vscale = _mm512_set1_ps(scale);
  for_each_key_tile<E>(kv, n_ctx, dim, kTile, [&](const E* rows, size_t j, size_t n) {
    for (size_t g = 0; g < group; ++g) {
      const __m512 s = tile_dots<kVecs, kTail>(q + g * dim, tail, rows, kv.row_stride, n);
      _mm512_mask_storeu_ps(scores + g * n_ctx + j, first_lanes(n), _mm512_mul_ps(s, vscale));
    }
  });
}

// Pass 2: s[0..n) <- softmax(s) = exp(s - max) / sum.
void softmax_in_place(float* s, size_t n) {
  __m512 vmax = _mm512_set1_ps(-3.0e38f);
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes(n - i);
    vmax = _mm512_mask_max_ps(vmax, m, vmax, _mm512_maskz_loadu_ps(m, s + i));
  }
  const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 vsum = _mm512_setzero_ps();
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes(n - i);
    const __m512 e = avx512::exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + i), max));
    vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
    _mm512_mask_storeu_ps(s + i, m, e);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
  for (size_t i = 0; i < n; i += 16) {
    const __mmask16 m = first_lanes(n - i);
    _mm512_mask_storeu_ps(s + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + i), inv));
  }
}

// Output accumulators of kHeads heads x kVecs vectors stay in registers: at most 24 of the
// 32 zmm, leaving room for the value row and the broadcast weights. (Register arrays need
// their constant-trip loops under `#pragma GCC unroll`: unrolled that early, GCC keeps them
// in registers; otherwise it stores all of acc to the stack on every row.)
constexpr int max_heads_per_sweep(int vecs) { return std::min(4, 24 / vecs); }

// Pass 3 for heads [0, kHeads) of p/out: out_h = sum_j p[h * n_ctx + j] * v_j.
template <int kVecs, int kHeads, typename E>
void value_sweep(const float* p, size_t dim, const PagedKv& kv, size_t n_ctx, float* out) {
  const __mmask16 tail = first_lanes(dim % 16 ? dim % 16 : 16);
  __m512 acc[kHeads][kVecs];
#pragma GCC unroll 8
  for (int h = 0; h < kHeads; ++h) {
#pragma GCC unroll 8
    for (int c = 0; c < kVecs; ++c) acc[h][c] = _mm512_setzero_ps();
  }
  for (size_t b = 0, j0 = 0; j0 < n_ctx; ++b, j0 += kv.block_rows) {
    const size_t block_n = std::min(kv.block_rows, n_ctx - j0);
    const E* row = block_of<E>(kv.value_blocks, b);
    const float* w = p + j0;
    for (size_t i = 0; i < block_n; ++i, row += kv.row_stride) {
      __m512 v[kVecs];
#pragma GCC unroll 8
      for (int c = 0; c < kVecs; ++c) {
        v[c] = load16(row + 16 * c, c == kVecs - 1 ? tail : 0xFFFF);
      }
#pragma GCC unroll 8
      for (int h = 0; h < kHeads; ++h) {
        const __m512 wh = _mm512_set1_ps(w[h * n_ctx + i]);
#pragma GCC unroll 8
        for (int c = 0; c < kVecs; ++c) acc[h][c] = _mm512_fmadd_ps(wh, v[c], acc[h][c]);
      }
    }
  }
#pragma GCC unroll 8
  for (int h = 0; h < kHeads; ++h) {
#pragma GCC unroll 8
    for (int c = 0; c < kVecs; ++c) {
      _mm512_mask_storeu_ps(out + h * dim + 16 * c, c == kVecs - 1 ? tail : 0xFFFF, acc[h][c]);
    }
  }
}

// value_sweep with kHeads = `heads` (1 <= heads <= kHeads) chosen at run time.
template <typename E, int kVecs, int kHeads = max_heads_per_sweep(kVecs)>
void value_sweep_of(size_t heads, const float* p, size_t dim, const PagedKv& kv, size_t n_ctx,
                    float* out) {
  if constexpr (kHeads > 1) {
    if (heads < static_cast<size_t>(kHeads)) {
      return value_sweep_of<E, kVecs, kHeads - 1>(heads, p, dim, kv, n_ctx, out);
    }
  }
  value_sweep<kVecs, kHeads, E>(p, dim, kv, n_ctx, out);
}

template <int kVecs, bool kTail, typename E>
void attend(const float* q, size_t group, size_t dim, const PagedKv& kv, size_t n_ctx,
            float scale, float* scores, float* out) {
  score_pass<kVecs, kTail, E>(q, group, dim, kv, n_ctx, scale, scores);
  for (size_t g = 0; g < group; ++g) softmax_in_place(scores + g * n_ctx, n_ctx);
  constexpr size_t kSweep = max_heads_per_sweep(kVecs);
  for (size_t h0 = 0; h0 < group; h0 += kSweep) {
    value_sweep_of<E, kVecs>(std::min(kSweep, group - h0), scores + h0 * n_ctx, dim, kv, n_ctx,
                             out + h0 * dim);
  }
}

using AttendFn = void (*)(const float*, size_t, size_t, const PagedKv&, size_t, float, float*,
                          float*);

// [vecs - 1][dim % 16 != 0]
template <typename E>
constexpr AttendFn kAttend[8][2] = {
    {attend<1, false, E>, attend<1, true, E>}, {attend<2, false, E>, attend<2, true, E>},
    {attend<3, false, E>, attend<3, true, E>}, {attend<4, false, E>, attend<4, true, E>},
    {attend<5, false, E>, attend<5, true, E>}, {attend<6, false, E>, attend<6, true, E>},
    {attend<7, false, E>, attend<7, true, E>}, {attend<8, false, E>, attend<8, true, E>},
};

}  // namespace

bool attend_kv_head_avx512(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                           size_t n_ctx, float scale, float* scores, float* out) {
  const size_t vecs = (head_dim + 15) / 16;
  if (vecs == 0 || vecs > 8) return false;
  const bool tail = head_dim % 16 != 0;
  if (kv.type == KvType::F16) {
    kAttend<fp16_t>[vecs - 1][tail](q, group, head_dim, kv, n_ctx, scale, scores, out);
  } else {
    kAttend<float>[vecs - 1][tail](q, group, head_dim, kv, n_ctx, scale, scores, out);
  }
  return true;
}

void store_kv_row_f16_avx512(const float* x, fp16_t* out, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  }
  if (i < n) {
    const __mmask16 m = first_lanes(n - i);
    _mm256_mask_storeu_epi16(out + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
  }
}

}  // namespace ragd::kernels::detail
