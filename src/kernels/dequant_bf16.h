// Weight rows dequantized to bf16, the form the AMX kernel multiplies (gemm_amx.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/tensor_type.h"

namespace ragd::kernels::detail {

// Row `row` (GGUF's row-major blocks of `type`, cols a multiple of 32) as bf16: each value
// is dequantize_row's float rounded by bf16_from_float (Q4_K may differ by one bf16 step
// where its d * q - min is fused). Q4_K, Q6_K and Q8_0 have direct AVX-512 paths; other
// types go through dequantize_row into tmp (cols floats). Needs AVX512_BF16.
void dequantize_row_bf16_avx512(TensorType type, const uint8_t* row, size_t cols, uint16_t* out,
                                float* tmp);

// The 16 rows of one row group of a matrix in the Interleaved16 layout (interleave.h;
// Q4_0 Q4_1 Q5_0 Q5_1 Q8_0), group pointing at the first of its cols / 32 blocks to
// convert, as bf16 rows out + r * out_stride. Values as dequantize_row's rounded by bf16_from_float (Q4_1/Q5_1 may
// differ by one bf16 step where q * d + m is fused). Needs AVX512_BF16.
void dequantize_group_bf16_avx512(TensorType type, const uint8_t* group, size_t cols,
                                  uint16_t* out, size_t out_stride);

}  // namespace ragd::kernels::detail
