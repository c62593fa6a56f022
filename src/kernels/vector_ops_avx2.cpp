// AVX2 versions of dot_f32, axpy (scalar remainder), swiglu and softmax (masked tails);
// see vector_ops_avx512.cpp.
#include <cstddef>

#include "kernels/simd_avx2.h"
#include "kernels/simd_exp_avx2.h"

namespace ragd::kernels::detail {

float dot_f32_avx2(const float* a, const float* b, size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = avx2::hsum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy_avx2(float* y, float a, const float* x, size_t n) {
  const __m256 va = _mm256_set1_ps(a);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

// gate = gate / (1 + exp(-gate)) * up, as the scalar loop computes it, with exp_ps (within
// 3 ulp of std::exp). exp_ps clamps its input to 88, so below gate = -88 the quotient would
// be gate / e^88 instead of ~0: those lanes are set to 0 (NaN lanes are kept, as NaN).
namespace {
__m256 swiglu8(__m256 g, __m256 up) {
  const __m256 e = avx2::exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g));
  const __m256 keep = _mm256_cmp_ps(g, _mm256_set1_ps(-88.0f), _CMP_NLT_UQ);
  const __m256 silu =
      _mm256_and_ps(keep, _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)));
  return _mm256_mul_ps(silu, up);
}
}  // namespace

// Here and in softmax_avx2 only the last n % 8 floats go through maskload/maskstore, which
// then touch nothing past n: Zen 2 runs a masked store as microcode, many times the cost
// of a plain one (masking every vector made swiglu ~3x slower: 88 against 31 us for
// 32 x 1536 floats).
void swiglu_avx2(float* gate, const float* up, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  }
  if (i < n) {
    const __m256i m = avx2::first_lanes(n - i);
    const __m256 g = _mm256_maskload_ps(gate + i, m), u = _mm256_maskload_ps(up + i, m);
    _mm256_maskstore_ps(gate + i, m, swiglu8(g, u));
  }
}

// x[0..n) <- exp(x - max) / sum, with exp_ps: softmax()'s three passes, 8 lanes at a time
// (the attention kernel's pass 2, and BERT's attention). Masked-off tail lanes count as
// -3e38 for the max and 0 for the sum.
void softmax_avx2(float* x, size_t n) {
  const size_t full = n - n % 8;
  const __m256i tail = avx2::first_lanes(n % 8);  // used only when n % 8 != 0
  const __m256 lowest = _mm256_set1_ps(-3.0e38f);
  __m256 vmax = lowest;
  for (size_t i = 0; i < full; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  if (full < n) {
    vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(lowest, _mm256_maskload_ps(x + full, tail),
                                                _mm256_castsi256_ps(tail)));
  }
  const __m256 max = _mm256_set1_ps(avx2::hmax(vmax));
  __m256 vsum = _mm256_setzero_ps();
  for (size_t i = 0; i < full; i += 8) {
    const __m256 e = avx2::exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), max));
    vsum = _mm256_add_ps(vsum, e);
    _mm256_storeu_ps(x + i, e);
  }
  if (full < n) {
    const __m256 v = _mm256_maskload_ps(x + full, tail);
    const __m256 e = _mm256_and_ps(avx2::exp_ps(_mm256_sub_ps(v, max)), _mm256_castsi256_ps(tail));
    vsum = _mm256_add_ps(vsum, e);
    _mm256_maskstore_ps(x + full, tail, e);
  }
  const __m256 inv = _mm256_set1_ps(1.0f / avx2::hsum(vsum));
  for (size_t i = 0; i < full; i += 8) {
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  }
  if (full < n) {
    _mm256_maskstore_ps(x + full, tail, _mm256_mul_ps(_mm256_maskload_ps(x + full, tail), inv));
  }
}

}  // namespace ragd::kernels::detail
