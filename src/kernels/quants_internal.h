// Internal helpers shared by the quantization files (not part of the public API).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/quants.h"

namespace ragd::kernels::detail {

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5 * 2^23 moves the integer
// part into the low mantissa bits, where the FPU's default rounding mode rounds it.
// This is the rounding GGML's reference quantizers use.
inline int nearest_int(float v) {
  const float f = v + 12582912.0f;
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

inline float h2f(fp16_t h) { return fp16_to_fp32(h); }
inline fp16_t f2h(float f) { return fp32_to_fp16(f); }

// Per-type reference row functions; n is a multiple of the block size.
void quantize_q4_0(const float* x, BlockQ4_0* y, size_t n);
void quantize_q4_1(const float* x, BlockQ4_1* y, size_t n);
void quantize_q5_0(const float* x, BlockQ5_0* y, size_t n);
void quantize_q5_1(const float* x, BlockQ5_1* y, size_t n);
void quantize_q8_0(const float* x, BlockQ8_0* y, size_t n);
void quantize_q8_1(const float* x, BlockQ8_1* y, size_t n);
void quantize_q8_k(const float* x, BlockQ8_K* y, size_t n);
void quantize_q4_k(const float* x, BlockQ4_K* y, size_t n);
void quantize_q5_k(const float* x, BlockQ5_K* y, size_t n);
void quantize_q6_k(const float* x, BlockQ6_K* y, size_t n);

void dequantize_q4_0(const BlockQ4_0* x, float* y, size_t n);
void dequantize_q4_1(const BlockQ4_1* x, float* y, size_t n);
void dequantize_q5_0(const BlockQ5_0* x, float* y, size_t n);
void dequantize_q5_1(const BlockQ5_1* x, float* y, size_t n);
void dequantize_q8_0(const BlockQ8_0* x, float* y, size_t n);
void dequantize_q8_1(const BlockQ8_1* x, float* y, size_t n);
void dequantize_q8_k(const BlockQ8_K* x, float* y, size_t n);
void dequantize_q2_k(const BlockQ2_K* x, float* y, size_t n);
void dequantize_q3_k(const BlockQ3_K* x, float* y, size_t n);
void dequantize_q4_k(const BlockQ4_K* x, float* y, size_t n);
void dequantize_q5_k(const BlockQ5_K* x, float* y, size_t n);
void dequantize_q6_k(const BlockQ6_K* x, float* y, size_t n);

// Q4_K / Q5_K pack eight 6-bit scales and eight 6-bit mins into 12 bytes: sub-blocks
// 0..3 use the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 keep
// their low 4 bits in bytes 8..11 (scale low nibble, min high nibble) and their top 2
// bits in the spare top bits of bytes 0..3 (scales) and 4..7 (mins).
inline void unpack_scale_min_k4(size_t j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace ragd::kernels::detail
