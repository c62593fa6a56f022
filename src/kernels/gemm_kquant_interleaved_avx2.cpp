// AVX2 kernel for Q4_K weights in the Interleaved16 layout (interleave.h) against Q8_K
// activations, for every batch size, decode included.
//
// Why a second Q4_K kernel: the row-major one (gemm_kquant_avx2.cpp) holds one weight row's
// sub-block of 32 in a ymm, so every vpmaddubsw needs its own vpmaddwd to sum the pairs and
// apply the sub-block scale; both use the multiply pipe (one on Zen 3), which caps batched
// products at half the int8 peak. Here int32 lane r of a ymm is weight row r of a half group (8 rows),
// each vpmaddubsw multiplies 4 weights of all 8 rows by 4 broadcast activations, and a
// sub-block's 8 results are summed in int16 (levels <= 15, |a| <= 127: a pair <= 3810,
// eight <= 30480 < 32767) before one vpmaddwd with the rows' scales widens and scales
// them: 9 multiplies per 256 products instead of 16.
//
// Each sub-block s of row r: sum_i q * a (vpmaddubsw, int16 sums), times the 6-bit scale
// sc[r][s] (vpmaddwd against [sc, sc] per lane), summed over the super-block in int32; the
// mins give sum_s m[r][s] * (bsum[2s] + bsum[2s + 1]) (vpmaddwd of [m, m] against the two
// bsums of the sub-block). Per super-block: y += d_a * (d_w * sumi - dmin_w * summ), the
// integer parts exact, so a row's result does not depend on the tile that computed it.
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/quants_internal.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

constexpr size_t kGroupBlock = kInterleaveRows * sizeof(BlockQ4_K);  // 2304
constexpr size_t kHalfBytes = 32;
// How far ahead decode prefetches into L1: three and a half group blocks. (Zen 3,
// bench_matmul matmul_loaded/avx2/q4_k/n=1, medians of 3, with an earlier version of this
// kernel: 13.7 GB/s without prefetching, 12.8 one block ahead, 15.0 at 4 KB, 14.8-15.5 at
// 8-10 KB; spreading the prefetches over the block's loads was slower, 11-14.)
constexpr size_t kPrefetchBytes = 8192;

// kSelect[t]: in each 128-bit lane, int32 lane l becomes [byte 4t + l, byte 4t + l] as two
// int16: sub-block s's value for the 4 rows of that lane, from the unpacked vector s / 4
// with t = s % 4 (interleave.h's index).
alignas(32) constexpr uint8_t kSelect[4][32] = {
#define RAGD_SELECT_LANE(t) \
  4 * (t), 0x80, 4 * (t), 0x80, 4 * (t) + 1, 0x80, 4 * (t) + 1, 0x80, 4 * (t) + 2, 0x80, 4 * (t) + 2, 0x80, \
      4 * (t) + 3, 0x80, 4 * (t) + 3, 0x80
#define RAGD_SELECT(t) {RAGD_SELECT_LANE(t), RAGD_SELECT_LANE(t)}
    RAGD_SELECT(0), RAGD_SELECT(1), RAGD_SELECT(2), RAGD_SELECT(3),
#undef RAGD_SELECT
#undef RAGD_SELECT_LANE
};

// Sub-block s's value for each row of the half, as [v, v] int16 pairs per int32 lane.
inline __m256i select(const __m256i (&v)[2], int s) {
  return _mm256_shuffle_epi8(v[s / 4], _mm256_load_si256(reinterpret_cast<const __m256i*>(kSelect[s % 4])));
}
// A half's 64 scales and 64 mins (interleave.h) as bytes: sc[v] and m[v] are vectors v.
inline void unpack_scales(const uint8_t* area, __m256i (&sc)[2], __m256i (&m)[2]) {
  const __m256i low = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8(0x30);
  const __m256i ls = load256(area), lm = load256(area + 32), hb = load256(area + 64);
  // 16-bit shifts move bits across bytes; the masks keep only each byte's own.
  sc[0] = _mm256_or_si256(_mm256_and_si256(ls, low), _mm256_and_si256(_mm256_slli_epi16(hb, 4), top));
  sc[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ls, 4), low),
                          _mm256_and_si256(_mm256_slli_epi16(hb, 2), top));
  m[0] = _mm256_or_si256(_mm256_and_si256(lm, low), _mm256_and_si256(hb, top));
  m[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lm, 4), low),
                         _mm256_and_si256(_mm256_srli_epi16(hb, 2), top));
}

// The int32 sums of halves h0 .. h0 + H - 1 of the 16-row super-block at blk with C
// activation blocks: sumi[hh][c] = sum_s sc * dot, summ[hh][c] = sum_s m * (activation sum
// over s). With H = 2 each 64-byte line of levels is used whole at once.
template <int C, int H>
void dots(const uint8_t* blk, size_t h0, const BlockQ8_K* const (&act)[C], __m256i (&sumi)[H][C],
          __m256i (&summ)[H][C]) {
  const __m256i low = _mm256_set1_epi8(0x0F);
  __m256i sc[H][2], mn[H][2];
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
    unpack_scales(blk + kK4ScalesOffset + kK4HalfScaleBytes * (h0 + hh), sc[hh], mn[hh]);
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) sumi[hh][c] = summ[hh][c] = _mm256_setzero_si256();
  }
  // Sub-blocks 2k and 2k + 1 are the low and high nibbles of qs dwords 8k .. 8k + 7. Both
  // are summed in one pass over the dwords when their 2 * H * C int16 sums fit in registers
  // beside the rest (decode: each line of levels is loaded once and used whole).
  constexpr int kNibPasses = 2 * H * C <= 4 ? 1 : 2;
  constexpr int kNibsPerPass = 2 / kNibPasses;
#pragma GCC unroll 1
  for (int k = 0; k < 4; ++k) {
#pragma GCC unroll 2
    for (int pass = 0; pass < kNibPasses; ++pass) {
      __m256i sum[H][kNibsPerPass][C];
#pragma GCC unroll 8
      for (int jj = 0; jj < 8; ++jj) {
#pragma GCC unroll 2
        for (int hh = 0; hh < H; ++hh) {
          const __m256i raw = load256(blk + 64 * (8 * k + jj) + kHalfBytes * (h0 + hh));
#pragma GCC unroll 2
          for (int q = 0; q < kNibsPerPass; ++q) {
            const int nib = pass + q;
            const __m256i w = _mm256_and_si256(nib ? _mm256_srli_epi16(raw, 4) : raw, low);
#pragma GCC unroll 8
            for (int c = 0; c < C; ++c) {
              const __m256i p = _mm256_maddubs_epi16(w, bcast4(act[c]->qs + 32 * (2 * k + nib) + 4 * jj));
              sum[hh][q][c] = jj == 0 ? p : _mm256_add_epi16(sum[hh][q][c], p);
              opaque(sum[hh][q][c]);
            }
          }
        }
      }
#pragma GCC unroll 2
      for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 2
        for (int q = 0; q < kNibsPerPass; ++q) {
          const __m256i scale = select(sc[hh], 2 * k + pass + q);
#pragma GCC unroll 8
          for (int c = 0; c < C; ++c) {
            sumi[hh][c] = _mm256_add_epi32(sumi[hh][c], _mm256_madd_epi16(sum[hh][q][c], scale));
          }
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 8
    for (int s = 0; s < 8; ++s) {
      const __m256i mins = select(mn[hh], s);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        summ[hh][c] = _mm256_add_epi32(summ[hh][c], _mm256_madd_epi16(mins, bcast4(act[c]->bsums + 2 * s)));
      }
    }
  }
}

// C activation rows from i0 x H halves (from h0) of the group starting at weight row r.
template <int C, int H>
void tile(const GemmArgs& g, size_t r, size_t h0, size_t i0, bool prefetch) {
  const size_t nb = g.cols / QK_K;
  const uint8_t* group = g.w + r * g.w_stride;
  const BlockQ8_K* rows[C];
#pragma GCC unroll 8
  for (int c = 0; c < C; ++c) rows[c] = reinterpret_cast<const BlockQ8_K*>(g.a + (i0 + c) * g.a_stride);
  __m256 acc[H][C];
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[hh][c] = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* blk = group + b * kGroupBlock;
    if (prefetch) {
      for (size_t o = 0; o < kGroupBlock; o += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(blk + kPrefetchBytes + o), _MM_HINT_T0);
      }
    }
    const BlockQ8_K* act[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) act[c] = rows[c] + b;
    __m256i sumi[H][C], summ[H][C];
    dots<C, H>(blk, h0, act, sumi, summ);
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) {
      const size_t h = h0 + hh;
      const __m256 d = fp16x8(blk + kK4DOffset + 16 * h), dmin = fp16x8(blk + kK4DminOffset + 16 * h);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(sumi[hh][c]), d,
                                         _mm256_mul_ps(_mm256_cvtepi32_ps(summ[hh][c]), dmin));
        acc[hh][c] = _mm256_fmadd_ps(v, _mm256_set1_ps(act[c]->d), acc[hh][c]);
      }
    }
  }
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) _mm256_storeu_ps(g.y + (i0 + c) * g.ldy + r + 8 * (h0 + hh), acc[hh][c]);
  }
}

// Activation rows [i0, i1) x the 16-row group at weight row r, in tiles of 4, 2 or 1 rows.
// Only the first tile prefetches: it brings the group's weights in from memory, the later
// ones find them in cache.
void group_rows(const GemmArgs& g, size_t r, size_t i0, size_t i1) {
  for (size_t i = i0; i < i1;) {
    const bool first = i == i0;
    if (i1 - i >= 4) {
      tile<4, 1>(g, r, 0, i, first);
      tile<4, 1>(g, r, 1, i, false);
      i += 4;
    } else if (i1 - i >= 2) {
      tile<2, 2>(g, r, 0, i, first);
      i += 2;
    } else {
      tile<1, 2>(g, r, 0, i, first);
      i += 1;
    }
  }
}

// Rows [r0, r1) are whole groups: interleaved matrices have rows % 16 == 0 and matmul's
// row chunks are multiples of 16. (Taking a long batch in blocks of activation rows that
// stay in L2 across the task's groups was tried and gained nothing on Zen 3: 170 GFLOP/s
// with 96 KB blocks, 183 without, for 512 rows of 2,048 columns.)
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t r = r0; r < r1; r += kInterleaveRows) group_rows(g, r, i0, i1);
}

}  // namespace

GemmKernel avx2_kquant_interleaved_kernel(TensorType type) {
  if (type == TensorType::Q4_K) return {gemm, ActFormat::Q8K, AuxKind::None};
  return {};
}

}  // namespace ragd::kernels::detail
