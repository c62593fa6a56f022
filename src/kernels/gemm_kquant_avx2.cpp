// AVX2 kernels for the k-quants (Q4_K Q5_K Q6_K) against Q8_K activations.
//
// Per 32 weights (one Q4_K/Q5_K sub-block, two Q6_K ones): vpmaddubsw (unsigned levels
// <= 63, so the int16 pair sums stay below 2 * 63 * 127 and never saturate), then vpmaddwd
// with the sub-block's integer scale gives int32 lanes already multiplied by the scale;
// they are summed over the super-block in int32 and scaled by d_w * d_a once. Mins (Q4_K,
// Q5_K) and the Q6_K offset of 32 come from the activation's bsums.
//
// What keeps the instruction count low (the kernels are compute-bound on AVX2, even for
// one activation row): a super-block's scales are unpacked with a few 32-bit operations
// into one int16 vector per weight row, and each sub-block's scale is broadcast from it
// with one vpshufb; the packed levels are loaded once for all the sub-blocks they hold.
// Every output comes from the same arithmetic in the same lane order whatever the tile
// shape, so a row's result does not depend on the batch it is multiplied in.
#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/quants_internal.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

// vpshufb controls: kSpread[j] broadcasts int16 element j of each 128-bit lane.
alignas(32) constexpr uint8_t kSpread[8][32] = {
#define RAGD_SPREAD(j)                                                                          \
  {2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,      \
   2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,      \
   2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,      \
   2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1}
    RAGD_SPREAD(0), RAGD_SPREAD(1), RAGD_SPREAD(2), RAGD_SPREAD(3),
    RAGD_SPREAD(4), RAGD_SPREAD(5), RAGD_SPREAD(6), RAGD_SPREAD(7),
#undef RAGD_SPREAD
};
// kSplit[t]: the low lane broadcasts int16 element 2t, the high lane element 2t + 1.
alignas(32) constexpr uint8_t kSplit[4][32] = {
#define RAGD_SPLIT(t)                                                                           \
  {4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1,      \
   4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1, 4 * (t), 4 * (t) + 1,      \
   4 * (t) + 2, 4 * (t) + 3, 4 * (t) + 2, 4 * (t) + 3, 4 * (t) + 2, 4 * (t) + 3, 4 * (t) + 2,   \
   4 * (t) + 3, 4 * (t) + 2, 4 * (t) + 3, 4 * (t) + 2, 4 * (t) + 3, 4 * (t) + 2, 4 * (t) + 3,   \
   4 * (t) + 2, 4 * (t) + 3}
    RAGD_SPLIT(0), RAGD_SPLIT(1), RAGD_SPLIT(2), RAGD_SPLIT(3),
#undef RAGD_SPLIT
};

inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline __m256i shuffle(__m256i v, const uint8_t* control) {
  return _mm256_shuffle_epi8(v, _mm256_load_si256(reinterpret_cast<const __m256i*>(control)));
}

// Per weight row and super-block: the integer scales and the float constants.
struct Prep {
  __m256i sc;    // int16 scales, broadcast per sub-block by W::scale
  __m256i mins;  // int16 per bsum: Q4_K/Q5_K [m0, m0, m1, m1, ...]; Q6_K its 16 scales
  float d, dmin;  // Q6_K: dmin = 32 * d (the offset's weight)
};

// Q4_K and Q5_K share the 12-byte scale layout: bytes 0-3 hold scales 0-3 and bytes 4-7
// mins 0-3 in their low 6 bits; bytes 8-11 the low 4 bits of scales / mins 4-7, whose top
// 2 bits are the top bits of bytes 0-7.
inline void prep_k4(const uint8_t* scales, fp16_t d, fp16_t dmin, Prep& p) {
  uint32_t u[3];
  std::memcpy(u, scales, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3f;
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | ((u[0] >> 6) & 0x03030303) << 4;
  const uint32_t m_lo = u[1] & 0x3f3f3f3f;
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 6) & 0x03030303) << 4;
  const __m256i sm = _mm256_cvtepu8_epi16(_mm_setr_epi32(static_cast<int>(sc_lo), static_cast<int>(sc_hi),
                                                         static_cast<int>(m_lo), static_cast<int>(m_hi)));
  p.sc = _mm256_permute2x128_si256(sm, sm, 0x00);  // scales 0-7 in both lanes
  const __m128i m = _mm256_extracti128_si256(sm, 1);
  p.mins = _mm256_setr_m128i(_mm_unpacklo_epi16(m, m), _mm_unpackhi_epi16(m, m));
  p.d = half_to_float(d);
  p.dmin = half_to_float(dmin);
}

// Sub-blocks 2j and 2j + 1 (elements 64j ..) of Q4_K/Q5_K: the low and high nibbles of
// qs[32j ..].
inline void unpack_nibbles(const uint8_t* qs, int j, __m256i& lo, __m256i& hi) {
  const __m256i x = load32(qs + 32 * j);
  const __m256i m = _mm256_set1_epi8(0x0F);
  lo = _mm256_and_si256(x, m);
  hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), m);
}

struct WQ4_K {
  using Block = BlockQ4_K;
  static void prep(const Block& b, Prep& p) { prep_k4(b.scales, b.d, b.dmin, p); }
  static __m256i scale(const Prep& p, int q) { return shuffle(p.sc, kSpread[q]); }
  static void unpack_pair(const Block& b, int j, __m256i& lo, __m256i& hi) { unpack_nibbles(b.qs, j, lo, hi); }
};

struct WQ5_K {
  using Block = BlockQ5_K;
  static void prep(const Block& b, Prep& p) { prep_k4(b.scales, b.d, b.dmin, p); }
  static __m256i scale(const Prep& p, int q) { return shuffle(p.sc, kSpread[q]); }
  // As Q4_K, plus the fifth bit of element 32q + l: bit q of qh[l].
  static void unpack_pair(const Block& b, int j, __m256i& lo, __m256i& hi) {
    unpack_nibbles(b.qs, j, lo, hi);
    const __m256i h = load32(b.qh);
    const __m256i bit16 = _mm256_set1_epi8(16);
    // Bit 2j moved to bit 4, then bit 2j + 1 moved to bit 4 (shifts of 16-bit lanes
    // cross bytes, the mask keeps only bit 4 of each).
    const int s = 2 * j;
    const __m256i hl = s <= 4 ? _mm256_slli_epi16(h, 4 - s) : _mm256_srli_epi16(h, s - 4);
    const __m256i hh = s + 1 <= 4 ? _mm256_slli_epi16(h, 3 - s) : _mm256_srli_epi16(h, s - 3);
    lo = _mm256_or_si256(lo, _mm256_and_si256(hl, bit16));
    hi = _mm256_or_si256(hi, _mm256_and_si256(hh, bit16));
  }
};

struct WQ6_K {
  using Block = BlockQ6_K;
  static void prep(const Block& b, Prep& p) {
    p.mins = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    p.d = half_to_float(b.d);
    p.dmin = 32.0f * p.d;
  }
  // Sub-block q (32 elements) has two 16-element scales, 2q for its low lane and 2q + 1
  // for its high lane.
  static __m256i scale(const Prep& p, int q) {
    const __m256i half = q < 4 ? _mm256_permute2x128_si256(p.mins, p.mins, 0x00)
                               : _mm256_permute2x128_si256(p.mins, p.mins, 0x11);
    return shuffle(half, kSplit[q % 4]);
  }
  // Sub-blocks 2j and 2j + 1 (elements 64j ..): half h = j / 2 covers elements 128h ..;
  // its quarter t (32 elements) takes the low (t < 2) or high nibbles of ql[64h + 32(t % 2) ..]
  // and bits 2t, 2t + 1 of qh[32h ..] as bits 4 and 5.
  static void unpack_pair(const Block& b, int j, __m256i& lo, __m256i& hi) {
    const int h = j / 2, t0 = 2 * (j % 2);
    const __m256i ql0 = load32(b.ql + 64 * h), ql1 = load32(b.ql + 64 * h + 32);
    const __m256i qh = load32(b.qh + 32 * h);
    const __m256i m0f = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30);
    if (t0 == 0) {
      lo = _mm256_or_si256(_mm256_and_si256(ql0, m0f), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
      hi = _mm256_or_si256(_mm256_and_si256(ql1, m0f), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
    } else {
      lo = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m0f), _mm256_and_si256(qh, m30));
      hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m0f),
                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
    }
  }
};

// One weight row against C activation rows. One row at a time: with more, the unpacked
// levels, scales and accumulators of each row no longer fit the 16 ymm registers, and
// the spills cost more than re-reading the activations (bench_matmul, Zen 3: decode of
// a Q4_K matrix 13.1 GB/s with two rows per call against 17.8 with one).
template <typename W, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / QK_K;
  const auto* wr = reinterpret_cast<const typename W::Block*>(g.w + r * g.w_stride);
  const BlockQ8_K* ar[C];
  for (int c = 0; c < C; ++c) ar[c] = reinterpret_cast<const BlockQ8_K*>(g.a + (i + c) * g.a_stride);
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) {
      const char* base = reinterpret_cast<const char*>(wr + b) + kDecodePrefetchBytesL1;
      for (size_t off = 0; off < sizeof(typename W::Block); off += 64) _mm_prefetch(base + off, _MM_HINT_T0);
    }
    Prep p;
    W::prep(wr[b], p);
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      __m256i w[2];
      W::unpack_pair(wr[b], j, w[0], w[1]);
      for (int half = 0; half < 2; ++half) {
        const int q = 2 * j + half;
        const __m256i sc = W::scale(p, q);
        for (int c = 0; c < C; ++c) {
          const __m256i p16 = _mm256_maddubs_epi16(w[half], load32(ar[c][b].qs + 32 * q));
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(p16, sc));
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i mi = _mm256_madd_epi16(load32(ar[c][b].bsums), p.mins);
      const __m256 v = _mm256_fmsub_ps(_mm256_cvtepi32_ps(sumi[c]), _mm256_set1_ps(p.d),
                                       _mm256_mul_ps(_mm256_cvtepi32_ps(mi), _mm256_set1_ps(p.dmin)));
      acc[c] = _mm256_fmadd_ps(v, _mm256_set1_ps(ar[c][b].d), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) g.y[(i + c) * g.ldy + r] = hsum(acc[c]);
}

template <typename W, int C>
void rows(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  for (size_t r = r0; r < r1; ++r) micro<W, C>(g, r, i);
}

// Weight rows outer, activation rows inner, kRowBlock weight rows at a time: a batch of
// more than 4 activation rows then reads each weight row from memory once, and its later
// groups of activation rows find it in cache. Every output comes from the same arithmetic
// whatever C is, so the order changes no bit.
constexpr size_t kRowBlock = 16;

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t rb = r0; rb < r1; rb += kRowBlock) {
    const size_t re = std::min(rb + kRowBlock, r1);
    size_t i = i0;
    for (; i + 4 <= i1; i += 4) rows<W, 4>(g, rb, re, i);
    switch (i1 - i) {
      case 3: rows<W, 3>(g, rb, re, i); break;
      case 2: rows<W, 2>(g, rb, re, i); break;
      case 1: rows<W, 1>(g, rb, re, i); break;
      default: break;
    }
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
