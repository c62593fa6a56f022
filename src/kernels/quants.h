// Reference (scalar) conversion between float and every supported tensor type.
// These are the ground truth the fast kernels are tested against, and what
// `ragd quantize` uses to write files. Rows are contiguous; n must be a multiple of the
// type's block size (kernels::traits(type).block_size).
#pragma once

#include <cstddef>

#include "kernels/tensor_type.h"

namespace ragd::kernels {

float fp16_to_fp32(fp16_t h);
fp16_t fp32_to_fp16(float f);  // round to nearest even
float bf16_to_fp32(bf16_t h);
bf16_t fp32_to_bf16(float f);  // round to nearest even

// True for types quantize_row can produce (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1
// Q8_K Q4_K Q5_K Q6_K).
bool can_quantize(TensorType type);
// True for types dequantize_row can read (the above plus anything else implemented).
bool can_dequantize(TensorType type);

void quantize_row(TensorType type, const float* src, void* dst, size_t n);
void dequantize_row(TensorType type, const void* src, float* dst, size_t n);

}  // namespace ragd::kernels
