// Dequantization of the 2- and 3-bit k-quants (Q2_K, Q3_K). ragd does not write these,
// but llama.cpp's low-bit mixes (Q2_K, Q3_K_*) contain them, so files using them load.
#include <cstring>

#include "kernels/quants_internal.h"

namespace ragd::kernels::detail {

// Q2_K: 16 sub-blocks of 16; scales[j] holds a 4-bit scale (low) and 4-bit min (high).
// Each 32-byte group of qs holds 128 elements as four 2-bit planes (shift 0, 2, 4, 6),
// each plane covering two sub-blocks (qs[0..16) then qs[16..32)).
void dequantize_q2_k(const BlockQ2_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b) {
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    const uint8_t* q = x[b].qs;
    size_t is = 0;
    for (size_t half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (size_t part = 0; part < 2; ++part) {
          const uint8_t sc = x[b].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (size_t l = 0; l < 16; ++l) {
            *y++ = dl * static_cast<float>((q[l + 16 * part] >> shift) & 3) - ml;
          }
        }
      }
    }
  }
}

// Q3_K: 16 sub-blocks of 16 with 6-bit scales (bias 32) packed in 12 bytes: the low 4
// bits of scales 0..7 / 8..15 are the low / high nibbles of bytes 0..7, the top 2 bits
// are the 2-bit fields of bytes 8..11. Levels are 2 low bits (same planes as Q2_K) plus
// a high bit in hmask; a clear high bit subtracts 4.
void dequantize_q3_k(const BlockQ3_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b) {
    int8_t scales[16];
    for (size_t j = 0; j < 16; ++j) {
      const uint8_t lo = j < 8 ? (x[b].scales[j] & 0xF) : (x[b].scales[j - 8] >> 4);
      const uint8_t hi = (x[b].scales[8 + j % 4] >> (2 * (j / 4))) & 3;
      scales[j] = static_cast<int8_t>((lo | (hi << 4)) - 32);
    }
    const float d_all = h2f(x[b].d);
    const uint8_t* q = x[b].qs;
    const uint8_t* hm = x[b].hmask;
    uint8_t m = 1;
    size_t is = 0;
    for (size_t half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (size_t part = 0; part < 2; ++part) {
          const float dl = d_all * static_cast<float>(scales[is++]);
          for (size_t l = 16 * part; l < 16 * part + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

}  // namespace ragd::kernels::detail
