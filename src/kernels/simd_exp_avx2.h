// Vectorised exp(x) for the *_avx2.cpp kernel files (include only from those, after
// simd_avx2.h): the algorithm of simd_exp_avx512.h, 8 lanes at a time.
//
// Cephes-style: x = n ln2 + r with |r| <= ln2/2, exp(r) by its degree-6 Taylor polynomial
// (truncation error < 2e-7 relative), then 2^n applied as a multiply by a float built from
// its exponent bits (AVX2 has no scalef). Within 3 ulp of std::exp for x in [-87, 88];
// inputs are clamped to that range, so the result is never inf or NaN for finite x
// (exp(-87) ~ 1.6e-38 stands in for anything smaller). NaN inputs give NaN: x is the
// second operand of the clamp's min and max, which return that operand when either is NaN.
#pragma once

#include <immintrin.h>

namespace ragd::kernels::detail::avx2 {

inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(_mm256_set1_ps(-87.0f), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // ln2 split in a part exact in float and a correction, so r keeps full precision.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.0f / 720);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // n is in [-126, 127] after the clamp, so n + 127 is a normal exponent field and 2^n a
  // normal float; the product is p * 2^n correctly rounded, as scalef gives it.
  const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
  const __m256i bits = _mm256_slli_epi32(biased, 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

}  // namespace ragd::kernels::detail::avx2
