// AVX2 kernels for the k-quants (Q4_K Q5_K Q6_K) against Q8_K activations.
// Per 32 weights: vpmaddubsw (u8 levels <= 63, so no int16 saturation) then vpmaddwd
// with the sub-block's integer scale gives int32 lanes already multiplied by the scale;
// they are summed over the super-block in int32 and scaled by d_w * d_a once. Mins (Q4_K,
// Q5_K) and the Q6_K offset of 32 come from the activation's bsums.
#include <algorithm>

#include "kernels/gemm.h"
#include "kernels/quants_internal.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

// Per-row, per-super-block state: integer scales and the (scaled) float constants.
struct Prep {
  int16_t sc[16];  // one per 16 elements (Q4_K/Q5_K: each 32-element scale twice)
  __m256i mins;    // int16 per bsum (Q4_K/Q5_K: m_j twice), or Q6_K scales
  float d, dmin;   // Q6_K: dmin = 32 * d (the offset's weight)
};

struct WQ4_K {
  using Block = BlockQ4_K;
  static void prep(const Block& b, Prep& p) {
    int16_t m16[16];
    for (size_t j = 0; j < 8; ++j) {
      uint8_t s, m;
      unpack_scale_min_k4(j, b.scales, &s, &m);
      p.sc[2 * j] = p.sc[2 * j + 1] = s;
      m16[2 * j] = m16[2 * j + 1] = m;
    }
    p.mins = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m16));
    p.d = half_to_float(b.d);
    p.dmin = half_to_float(b.dmin);
  }
  // 32 elements 32q..32q+31 (q < 8): nibbles of qs[32(q/2) ..], low for even q.
  static __m256i unpack(const Block& b, int q) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (q / 2)));
    return _mm256_and_si256(q % 2 ? _mm256_srli_epi16(x, 4) : x, _mm256_set1_epi8(0x0F));
  }
};

struct WQ5_K {
  using Block = BlockQ5_K;
  static void prep(const Block& b, Prep& p) { WQ4_K::prep(reinterpret_cast<const BlockQ4_K&>(b), p); }
  static __m256i unpack(const Block& b, int q) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * (q / 2)));
    const __m256i lo = _mm256_and_si256(q % 2 ? _mm256_srli_epi16(x, 4) : x, _mm256_set1_epi8(0x0F));
    // Fifth bit of element 32q + l is bit q of qh[l].
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
    const __m256i bit = _mm256_set1_epi8(static_cast<char>(1 << q));
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(h, bit), bit);
    return _mm256_or_si256(lo, _mm256_and_si256(set, _mm256_set1_epi8(16)));
  }
};

struct WQ6_K {
  using Block = BlockQ6_K;
  static void prep(const Block& b, Prep& p) {
    for (size_t j = 0; j < 16; ++j) p.sc[j] = b.scales[j];
    p.mins = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    p.d = half_to_float(b.d);
    p.dmin = 32.0f * p.d;
  }
  // 32 elements 32q..: half h = q / 4, quarter t = q % 4 of that half's 128 elements.
  static __m256i unpack(const Block& b, int q) {
    const int h = q / 4, t = q % 4;
    const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32 * (t % 2)));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    const __m256i lo = _mm256_and_si256(t < 2 ? ql : _mm256_srli_epi16(ql, 4), _mm256_set1_epi8(0x0F));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * t), _mm256_set1_epi8(3));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
  }
};

template <typename W, int R, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / QK_K;
  const typename W::Block* wr[R];
  for (int k = 0; k < R; ++k) wr[k] = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
  const BlockQ8_K* ar[C];
  for (int c = 0; c < C; ++c) ar[c] = reinterpret_cast<const BlockQ8_K*>(g.a + (i + c) * g.a_stride);
  __m256 acc[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) acc[k][c] = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) {
      for (int k = 0; k < R; ++k) {
        const char* base = reinterpret_cast<const char*>(wr[k] + b) + kDecodePrefetchBytesL1;
        for (size_t off = 0; off < sizeof(typename W::Block); off += 64) _mm_prefetch(base + off, _MM_HINT_T0);
      }
    }
    Prep p[R];
    for (int k = 0; k < R; ++k) W::prep(wr[k][b], p[k]);
    __m256i sumi[R][C];
    for (int k = 0; k < R; ++k) {
      for (int c = 0; c < C; ++c) sumi[k][c] = _mm256_setzero_si256();
    }
    for (int q = 0; q < 8; ++q) {
      __m256i wq[R], sc[R];
      for (int k = 0; k < R; ++k) {
        wq[k] = W::unpack(wr[k][b], q);
        // int16 scale per 16-element half of the 32 (pairs of int16 lanes after maddubs).
        sc[k] = _mm256_setr_m128i(_mm_set1_epi16(p[k].sc[2 * q]), _mm_set1_epi16(p[k].sc[2 * q + 1]));
      }
      for (int c = 0; c < C; ++c) {
        const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[c][b].qs + 32 * q));
        for (int k = 0; k < R; ++k) {
          const __m256i p16 = _mm256_maddubs_epi16(wq[k], a);
          sumi[k][c] = _mm256_add_epi32(sumi[k][c], _mm256_madd_epi16(p16, sc[k]));
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[c][b].bsums));
      for (int k = 0; k < R; ++k) {
        const __m256i mi = _mm256_madd_epi16(bsums, p[k].mins);
        const __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(sumi[k][c]), _mm256_set1_ps(p[k].d),
                                         _mm256_mul_ps(_mm256_cvtepi32_ps(mi), _mm256_set1_ps(p[k].dmin)));
        acc[k][c] = _mm256_fmadd_ps(v, _mm256_set1_ps(ar[c][b].d), acc[k][c]);
      }
    }
  }
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) g.y[(i + c) * g.ldy + r + k] = hsum(acc[k][c]);
  }
}

template <typename W, int R, int C>
void rows(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  size_t r = r0;
  for (; r + R <= r1; r += R) micro<W, R, C>(g, r, i);
  for (; r < r1; ++r) micro<W, 1, C>(g, r, i);
}

// Weight rows outer, activation rows inner, kRowBlock weight rows at a time: a batch of
// more than 2 activation rows then reads each weight row from memory once (see
// gemm_kquant_avx512.cpp; the same micro-kernel calls, so the same bits).
constexpr size_t kRowBlock = 16;

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t rb = r0; rb < r1; rb += kRowBlock) {
    const size_t re = std::min(rb + kRowBlock, r1);
    size_t i = i0;
    for (; i + 2 <= i1; i += 2) rows<W, 2, 2>(g, rb, re, i);
    if (i < i1) rows<W, 4, 1>(g, rb, re, i);
  }
}

}  // namespace

GemmKernel avx2_kquant_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_K: return {gemm<WQ4_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q5_K: return {gemm<WQ5_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q6_K: return {gemm<WQ6_K>, ActFormat::Q8K, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
