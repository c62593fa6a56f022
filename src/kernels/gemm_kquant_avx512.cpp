// AVX-512 VNNI kernels for the k-quants (Q4_K Q5_K Q6_K) against Q8_K activations.
//
// Per 256-element super-block and 64-element group g: the weights are unpacked to
// unsigned bytes in element order (one zmm), vpdpbusd gives int32 lanes of 4 products
// each, and vpdpwssd multiplies every lane by its sub-block's integer scale and adds it
// to an int32 super-block sum. (Lane sums stay below 2^15 -- at most 4*63*127 = 32004 for
// Q6_K -- so vpdpwssd can read them as int16 with a zero high half.) Only then is one
// float FMA applied per super-block, with d_w * d_a. The min (Q4_K/Q5_K) and the -32
// offset (Q6_K) come from the activation's 16-element sums (bsums) with one vpmaddwd.
#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/quants_internal.h"
#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {
namespace {

inline float h2f_fast(fp16_t h) { return _cvtsh_ss(h); }

// The 8 6-bit scales and 8 6-bit mins of Q4_K/Q5_K as bytes sc[0..8), m[0..8).
inline void unpack_k4_scales(const uint8_t* s, uint8_t* sc, uint8_t* m) {
  uint32_t u[3];
  std::memcpy(u, s, 12);
  const uint32_t sc_lo = u[0] & 0x3f3f3f3f;                                        // sc 0..3
  const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | ((u[0] >> 6) & 0x03030303) << 4;   // sc 4..7
  const uint32_t m_lo = u[1] & 0x3f3f3f3f;                                         // m 0..3
  const uint32_t m_hi = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 6) & 0x03030303) << 4;
  std::memcpy(sc, &sc_lo, 4);
  std::memcpy(sc + 4, &sc_hi, 4);
  std::memcpy(m, &m_lo, 4);
  std::memcpy(m + 4, &m_hi, 4);
}

// Per-row, per-super-block state shared by all activation rows of a tile.
struct Prep {
  __m512i scv[4];  // per group: int32 lanes, low 16 bits = the lane's sub-block scale
  __m256i mins;    // int16 [m0, m0, m1, m1, ...] to pair with bsums (Q4_K/Q5_K)
  __m256i sc16;    // int16 scales of the 16 sub-blocks (Q6_K)
  __m512 d, dmin;  // broadcast super-block scales
};

// Lanes 0..7 <- sc[2g], lanes 8..15 <- sc[2g+1] of an int32 vector holding sc in 0..7.
inline void spread_scales_32(__m512i s32, __m512i* scv) {
  for (int g = 0; g < 4; ++g) {
    const int a = 2 * g, b = 2 * g + 1;
    scv[g] = _mm512_permutexvar_epi32(_mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b), s32);
  }
}

struct WQ4_K {
  using Block = BlockQ4_K;
  static constexpr bool kMin = true;
  static void prep(const Block& b, Prep& p) {
    uint8_t sc[8], m[8];
    unpack_k4_scales(b.scales, sc, m);
    uint64_t sc64, m64;
    std::memcpy(&sc64, sc, 8);
    std::memcpy(&m64, m, 8);
    spread_scales_32(_mm512_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(sc64))), p.scv);
    const __m128i m16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<long long>(m64)));
    p.mins = _mm256_setr_m128i(_mm_unpacklo_epi16(m16, m16), _mm_unpackhi_epi16(m16, m16));
    p.d = _mm512_set1_ps(h2f_fast(b.d));
    p.dmin = _mm512_set1_ps(h2f_fast(b.dmin));
  }
  // Group g = elements 64g..64g+63: low nibbles of qs[32g..32g+32), then high nibbles.
  static __m512i unpack(const Block& b, int g) {
    const __m512i z = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * g)));
    const __m512i shifts = _mm512_setr_epi64(0, 0, 0, 0, 0x0004000400040004, 0x0004000400040004,
                                             0x0004000400040004, 0x0004000400040004);
    return _mm512_and_si512(_mm512_srlv_epi16(z, shifts), _mm512_set1_epi8(0x0F));
  }
};

struct WQ5_K {
  using Block = BlockQ5_K;
  static constexpr bool kMin = true;
  static void prep(const Block& b, Prep& p) { WQ4_K::prep(reinterpret_cast<const BlockQ4_K&>(b), p); }
  static __m512i unpack(const Block& b, int g) {
    const __m512i z = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * g)));
    const __m512i shifts = _mm512_setr_epi64(0, 0, 0, 0, 0x0004000400040004, 0x0004000400040004,
                                             0x0004000400040004, 0x0004000400040004);
    const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(z, shifts), _mm512_set1_epi8(0x0F));
    // Fifth bit of element 64g + l: bit 2g of qh[l]; of element 64g + 32 + l: bit 2g + 1.
    const __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh)));
    const __m512i bit = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * g))),
                                           _mm256_set1_epi8(static_cast<char>(1 << (2 * g + 1))), 1);
    return _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(h, bit), q, _mm512_set1_epi8(16));
  }
};
static_assert(offsetof(BlockQ5_K, scales) == offsetof(BlockQ4_K, scales));
static_assert(offsetof(BlockQ5_K, dmin) == offsetof(BlockQ4_K, dmin));

struct WQ6_K {
  using Block = BlockQ6_K;
  static constexpr bool kMin = false;
  static void prep(const Block& b, Prep& p) {
    const __m128i s8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    p.sc16 = _mm256_cvtepi8_epi16(s8);
    const __m512i s32 = _mm512_cvtepu16_epi32(p.sc16);  // zero-extended: high half 0
    for (int g = 0; g < 4; ++g) {
      const int a = 4 * g;
      p.scv[g] = _mm512_permutexvar_epi32(
          _mm512_setr_epi32(a, a, a, a, a + 1, a + 1, a + 1, a + 1, a + 2, a + 2, a + 2, a + 2, a + 3,
                            a + 3, a + 3, a + 3),
          s32);
    }
    p.d = _mm512_set1_ps(h2f_fast(b.d));
  }
  // Half h = g / 2 covers elements 128h..128h+127. Low 4 bits: ql[64h + l] (l < 64), low
  // nibble for group 2h, high nibble for group 2h+1. Top 2 bits: qh[32h + l] (l < 32) holds
  // them for elements l, l+32, l+64, l+96 of the half in bit pairs 0, 2, 4, 6.
  static __m512i unpack(const Block& b, int g) {
    const int h = g / 2;
    const __m512i ql = _mm512_loadu_si512(b.ql + 64 * h);
    const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h)));
    // hz byte = qh for elements 0..31 of the group, qh >> 2 for elements 32..63.
    const __m512i hz = _mm512_srlv_epi16(
        qh, _mm512_setr_epi64(0, 0, 0, 0, 0x0002000200020002, 0x0002000200020002,
                              0x0002000200020002, 0x0002000200020002));
    const __m512i m30 = _mm512_set1_epi8(0x30), m0f = _mm512_set1_epi8(0x0F);
    if (g % 2 == 0) {
      return _mm512_or_si512(_mm512_and_si512(ql, m0f), _mm512_and_si512(_mm512_slli_epi16(hz, 4), m30));
    }
    return _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m0f), _mm512_and_si512(hz, m30));
  }
};

template <typename W, int R, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / QK_K;
  const typename W::Block* wr[R];
  for (int k = 0; k < R; ++k) wr[k] = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
  const BlockQ8_K* ar[C];
  for (int c = 0; c < C; ++c) ar[c] = reinterpret_cast<const BlockQ8_K*>(g.a + (i + c) * g.a_stride);
  __m512 acc[R][C];
  __m256 accm[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) {
      acc[k][c] = _mm512_setzero_ps();
      accm[k][c] = _mm256_setzero_ps();
    }
  }
  for (size_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) {
      // Decode streams weights from memory: prefetch ahead (see kDecodePrefetchBytes).
      for (int k = 0; k < R; ++k) {
        const char* base = reinterpret_cast<const char*>(wr[k] + b) + kDecodePrefetchBytes;
        for (size_t off = 0; off < sizeof(typename W::Block); off += 64) prefetch_decode(base + off);
      }
    }
    Prep p[R];
    for (int k = 0; k < R; ++k) W::prep(wr[k][b], p[k]);
    __m512i sumi[R][C];
    for (int k = 0; k < R; ++k) {
      for (int c = 0; c < C; ++c) sumi[k][c] = _mm512_setzero_si512();
    }
    for (int grp = 0; grp < 4; ++grp) {
      __m512i wq[R];
      for (int k = 0; k < R; ++k) wq[k] = W::unpack(wr[k][b], grp);
      for (int c = 0; c < C; ++c) {
        const __m512i a = _mm512_loadu_si512(ar[c][b].qs + 64 * grp);
        for (int k = 0; k < R; ++k) {
          const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[k], a);
          sumi[k][c] = _mm512_dpwssd_epi32(sumi[k][c], dot, p[k].scv[grp]);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ar[c][b].bsums));
      const __m512 da = _mm512_set1_ps(ar[c][b].d);
      for (int k = 0; k < R; ++k) {
        if constexpr (W::kMin) {
          // sum_j m_j * (bsum[2j] + bsum[2j+1]), scaled by dmin * d_a, subtracted at the end.
          const __m256i mi = _mm256_madd_epi16(bsums, p[k].mins);
          accm[k][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(mi),
                                       _mm512_castps512_ps256(_mm512_mul_ps(p[k].dmin, da)), accm[k][c]);
        } else {
          // Q6_K levels are stored +32: remove 32 * sum_j sc_j * bsum_j.
          const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(bsums, p[k].sc16), 5);
          sumi[k][c] = _mm512_sub_epi32(sumi[k][c], _mm512_zextsi256_si512(corr));
        }
        acc[k][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[k][c]), _mm512_mul_ps(p[k].d, da), acc[k][c]);
      }
    }
  }
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) {
      float v = _mm512_reduce_add_ps(acc[k][c]);
      if constexpr (W::kMin) {
        const __m256 m = accm[k][c];
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
        v -= _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
      }
      g.y[(i + c) * g.ldy + r + k] = v;
    }
  }
}

template <typename W, int R, int C>
void rows(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  size_t r = r0;
  for (; r + R <= r1; r += R) micro<W, R, C>(g, r, i);
  for (; r < r1; ++r) micro<W, 1, C>(g, r, i);
}

// Weight rows outer, activation rows inner, kRowBlock weight rows at a time: a batch of
// more than 4 activation rows (a speculative verify pass, a small batch) then reads each
// weight row from memory once, and its later groups of activation rows find it in cache.
// The order changes no output bit: every output comes from the same micro-kernel call,
// with the same row and column groups (kRowBlock is a multiple of every R used).
constexpr size_t kRowBlock = 16;

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t rb = r0; rb < r1; rb += kRowBlock) {
    const size_t re = std::min(rb + kRowBlock, r1);
    size_t i = i0;
    for (; i + 4 <= i1; i += 4) rows<W, 2, 4>(g, rb, re, i);
    switch (i1 - i) {
      case 3: rows<W, 2, 3>(g, rb, re, i); break;
      case 2: rows<W, 2, 2>(g, rb, re, i); break;
      case 1: rows<W, 4, 1>(g, rb, re, i); break;
      default: break;
    }
  }
}

}  // namespace

GemmKernel avx512_kquant_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_K: return {gemm<WQ4_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q5_K: return {gemm<WQ5_K>, ActFormat::Q8K, AuxKind::None};
    case TensorType::Q6_K: return {gemm<WQ6_K>, ActFormat::Q8K, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
