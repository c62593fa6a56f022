// AVX-512 dot product; entered only through dot_kernel() (see vector_dot.h).
#include <immintrin.h>

// GCC 12's AVX-512 reduction and extract intrinsics build their results from
// _mm256_undefined_*(), which its own -Wuninitialized then reports (a known false positive).
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "rag/vector_dot.h"

namespace ragd::rag {

float dot_avx512(const float* a, const float* b, size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {  // masked tail: no scalar loop, no reads past the end
    auto mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

}  // namespace ragd::rag
