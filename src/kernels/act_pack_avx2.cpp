// AVX2 quantizer for rows of Q8x32R16 activation panels (gemm.h), the format of the
// batched kernels. It writes each row straight into its panel slots, with the same float
// operations and round-to-nearest-even conversions as the scalar path (which quantizes a
// whole Q8x32 row first and copies it), so the bytes are identical: tests/kernels checks.
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

inline __m256 abs_ps(__m256 v) {
  return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

inline int32_t hsum_epi32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1)));
}

}  // namespace

void pack_q8x32_panel_row_avx2(AuxKind aux, const float* x, size_t cols, size_t t, uint8_t* dst) {
  const int32_t c = corr_factor(aux);
  for (size_t b = 0; b < cols / 32; ++b, x += 32, dst += kPanelBlockBytes) {
    __m256 v[4];
    __m256 vmax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      vmax = _mm256_max_ps(vmax, abs_ps(v[k]));
    }
    const float amax = avx2::hmax(vmax);
    const float d = amax / 127.0f;
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    __m256i q[4];
    for (int k = 0; k < 4; ++k) q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
    const int32_t sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    // |q| <= 127: the saturating packs are exact; they interleave 128-bit lanes, which the
    // final permute puts back in element order.
    const __m256i q16a = _mm256_packs_epi32(q[0], q[1]), q16b = _mm256_packs_epi32(q[2], q[3]);
    const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b),
                                                   _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32 * t), q8);
    std::memcpy(dst + kPanelScaleOffset + 4 * t, &d, 4);
    if (aux == AuxKind::MinSum) {
      const float ds = d * static_cast<float>(sum);
      std::memcpy(dst + kPanelAuxOffset + 4 * t, &ds, 4);
    } else {
      const int32_t corr = -c * sum;
      std::memcpy(dst + kPanelAuxOffset + 4 * t, &corr, 4);
    }
  }
}

}  // namespace ragd::kernels::detail
