// Common prelude and helpers of the *_avx2.cpp kernel files (include only from those).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ragd::kernels::detail::avx2 {

inline float hsum(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 s2 = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

// All-ones in int32 lanes [0, n), zero in [n, 8) (n <= 8): a maskload/maskstore mask.
inline __m256i first_lanes(size_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// u8 x s8 dot product of 32 bytes as 8 int32 lanes (4 products each). vpmaddubsw
// saturates pairs at int16, so callers keep the unsigned operand <= 63 (2*63*127 fits).
inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

// 16 bytes of nibbles -> 32 bytes in element order (element j low nibble, j+16 high).
inline __m256i nibbles32(const uint8_t* qs) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i y = _mm256_setr_m128i(x, _mm_srli_epi16(x, 4));
  return _mm256_and_si256(y, _mm256_set1_epi8(0x0F));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
// The 4 bytes at p in every int32 lane.
inline __m256i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
// 8 fp16 values at p as floats.
inline __m256 fp16x8(const void* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(static_cast<const __m128i*>(p)));
}
// Hides v's value from the optimiser. Integer adds are associative, so GCC rebalances a
// chain of int16 vpmaddubsw sums into a tree, computing all of a block's products first
// and spilling them (and the accumulators) to the stack; an opaque running sum keeps the
// chain in order and the vectors in registers (bench_matmul smollm2_135m/q4_1/
// decode_batch32, one thread: 94.5 -> 88.9 ms per step).
inline void opaque(__m256i& v) { asm("" : "+x"(v)); }

}  // namespace ragd::kernels::detail::avx2
