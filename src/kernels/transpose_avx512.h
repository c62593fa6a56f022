// 16x16 transpose of 32-bit elements in 16 zmm registers (include only from files built
// with AVX-512 flags). Used where a kernel's natural layout is the transpose of what the
// next step reads: AMX's B operand (pairs of bf16 per row) and its C tiles.
#pragma once

#include <immintrin.h>

#include <cstddef>

namespace ragd::kernels::detail {

// r[i] lane j becomes r[j] lane i. Three stages: 32-bit and 64-bit interleaves leave
// b[4i + c] 128-bit lane L holding rows 4i..4i+3 of column 4L + c; two rounds of 128-bit
// lane shuffles then transpose those 4x4 lane blocks.
inline void transpose16x16_epi32(__m512i (&r)[16]) {
  __m512i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    b[4 * i + 0] = _mm512_unpacklo_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 1] = _mm512_unpackhi_epi64(a[4 * i], a[4 * i + 2]);
    b[4 * i + 2] = _mm512_unpacklo_epi64(a[4 * i + 1], a[4 * i + 3]);
    b[4 * i + 3] = _mm512_unpackhi_epi64(a[4 * i + 1], a[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i x0 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0x44);
    const __m512i x1 = _mm512_shuffle_i32x4(b[c], b[4 + c], 0xEE);
    const __m512i x2 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0x44);
    const __m512i x3 = _mm512_shuffle_i32x4(b[8 + c], b[12 + c], 0xEE);
    r[c] = _mm512_shuffle_i32x4(x0, x2, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(x0, x2, 0xDD);
    r[8 + c] = _mm512_shuffle_i32x4(x1, x3, 0x88);
    r[12 + c] = _mm512_shuffle_i32x4(x1, x3, 0xDD);
  }
}

// Writes the 16x16 float tile t (row-major, 64-byte aligned: an AMX C tile of [weight row
// n][activation row m]) transposed into y: y[m * ldy + n] for m < n_act and n < n_w.
inline void store_transposed_16x16(const float* t, float* y, size_t ldy, size_t n_act, size_t n_w) {
  __m512i r[16];
  for (size_t n = 0; n < 16; ++n) r[n] = _mm512_load_si512(t + 16 * n);
  transpose16x16_epi32(r);
  const __mmask16 mask = static_cast<__mmask16>((1u << n_w) - 1);
  for (size_t m = 0; m < n_act; ++m) _mm512_mask_storeu_ps(y + m * ldy, mask, _mm512_castsi512_ps(r[m]));
}

}  // namespace ragd::kernels::detail
