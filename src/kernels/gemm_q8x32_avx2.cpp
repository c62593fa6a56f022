// AVX2 kernels for weights in 32-element blocks (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0) against Q8x32
// activations. One ymm holds one block (element order); vpmaddubsw + vpmaddwd give 8
// int32 lanes per block, scaled by the block's d_w * d_a with one FMA.
//   Q4_0 / Q5_0: weights read as unsigned q; the Corr8 / Corr16 aux lanes remove the offset.
//   Q4_1 / Q5_1: the min part is one FMA of m_w with the MinSum aux lanes.
//   Q8_0: signed weights would overflow vpmaddubsw as q + 128, so the classic sign
//         trick is used instead: |w| * (a with w's sign).
#include "kernels/gemm.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Bytes + 16 where the block's 32-bit qh has bit j set (element j).
inline __m256i fifth_bits(const uint8_t* qh) {
  // Replicate byte k of qh into bytes 8k..8k+7, then test bit (j % 8) of each.
  const __m256i bytes = _mm256_shuffle_epi8(
      _mm256_set1_epi32(static_cast<int>(load_u32(qh))),
      _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
  return _mm256_and_si256(set, _mm256_set1_epi8(16));
}

struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i unpack(const Block& b) { return nibbles32(b.qs); }
};
struct WQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i unpack(const Block& b) { return nibbles32(b.qs); }
};
struct WQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kMin = false, kSigned = false;
  static __m256i unpack(const Block& b) { return _mm256_or_si256(nibbles32(b.qs), fifth_bits(b.qh)); }
};
struct WQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true, kSigned = false;
  static __m256i unpack(const Block& b) { return _mm256_or_si256(nibbles32(b.qs), fifth_bits(b.qh)); }
};
struct WQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false, kSigned = true;
  static __m256i unpack(const Block& b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)); }
};

template <typename W, int R, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / 32;
  const typename W::Block* wr[R];
  for (int k = 0; k < R; ++k) wr[k] = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
  const int8_t* aq[C];
  const float* adl[C];
  const uint8_t* aux[C];
  for (int c = 0; c < C; ++c) {
    const uint8_t* row = g.a + (i + c) * g.a_stride;
    aq[c] = q8x32_qs(row);
    adl[c] = q8x32_dl(row, g.cols);
    aux[c] = static_cast<const uint8_t*>(q8x32_aux(row, g.cols));
  }
  __m256 acc[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) acc[k][c] = _mm256_setzero_ps();
  }
  for (size_t b = 0; b < nb; ++b) {
    if constexpr (C == 1) {
      // Decode streams weights from memory: prefetch ahead (see kDecodePrefetchBytesL1).
      for (int k = 0; k < R; ++k) {
        _mm_prefetch(reinterpret_cast<const char*>(wr[k] + b) + kDecodePrefetchBytesL1, _MM_HINT_T0);
      }
    }
    __m256i wq[R];
    __m256 wd[R], wm[R];
    for (int k = 0; k < R; ++k) {
      wq[k] = W::unpack(wr[k][b]);
      wd[k] = _mm256_set1_ps(half_to_float(wr[k][b].d));
      if constexpr (W::kMin) wm[k] = _mm256_set1_ps(half_to_float(wr[k][b].m));
    }
    for (int c = 0; c < C; ++c) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aq[c] + 32 * b));
      const __m256 da = _mm256_loadu_ps(adl[c] + 8 * b);
      for (int k = 0; k < R; ++k) {
        __m256i dot;
        if constexpr (W::kSigned) {
          dot = dot_u8s8(_mm256_sign_epi8(wq[k], wq[k]), _mm256_sign_epi8(a, wq[k]));
        } else {
          dot = dot_u8s8(wq[k], a);
        }
        if constexpr (!W::kMin && !W::kSigned) {
          dot = _mm256_add_epi32(dot, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(aux[c] + 32 * b)));
        }
        acc[k][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(wd[k], da), acc[k][c]);
        if constexpr (W::kMin) {
          acc[k][c] = _mm256_fmadd_ps(wm[k], _mm256_loadu_ps(reinterpret_cast<const float*>(aux[c] + 32 * b)),
                                      acc[k][c]);
        }
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

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  size_t i = i0;
  for (; i + 3 <= i1; i += 3) rows<W, 2, 3>(g, r0, r1, i);
  switch (i1 - i) {
    case 2: rows<W, 2, 2>(g, r0, r1, i); break;
    case 1: rows<W, 4, 1>(g, r0, r1, i); break;
    default: break;
  }
}

}  // namespace

GemmKernel avx2_q8x32_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<WQ4_0>, ActFormat::Q8x32, AuxKind::Corr8};
    case TensorType::Q4_1: return {gemm<WQ4_1>, ActFormat::Q8x32, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<WQ5_0>, ActFormat::Q8x32, AuxKind::Corr16};
    case TensorType::Q5_1: return {gemm<WQ5_1>, ActFormat::Q8x32, AuxKind::MinSum};
    case TensorType::Q8_0: return {gemm<WQ8_0>, ActFormat::Q8x32, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
