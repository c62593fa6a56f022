// quantize_row / dequantize_row: validation and dispatch to the per-type reference code.
#include <cstring>

#include "kernels/quants_internal.h"
#include "util/error.h"

namespace ragd::kernels {
namespace {

void check_row(TensorType type, size_t n) {
  const size_t bs = traits(type).block_size;
  if (n % bs != 0) {
    fail("row of {} elements is not a multiple of the {} block size {}", n, type_name(type), bs);
  }
}

}  // namespace

bool can_quantize(TensorType type) {
  switch (type) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16:
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0:
    case TensorType::Q5_1: case TensorType::Q8_0: case TensorType::Q8_1:
    case TensorType::Q8_K: case TensorType::Q4_K: case TensorType::Q5_K:
    case TensorType::Q6_K:
      return true;
    default:
      return false;
  }
}

bool can_dequantize(TensorType type) {
  return can_quantize(type) || type == TensorType::Q2_K || type == TensorType::Q3_K;
}

void quantize_row(TensorType type, const float* src, void* dst, size_t n) {
  using namespace detail;
  check_row(type, n);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case TensorType::F16: {
      auto* d = static_cast<fp16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
      return;
    }
    case TensorType::BF16: {
      auto* d = static_cast<bf16_t*>(dst);
      for (size_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
      return;
    }
    case TensorType::Q4_0: return quantize_q4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case TensorType::Q4_1: return quantize_q4_1(src, static_cast<BlockQ4_1*>(dst), n);
    case TensorType::Q5_0: return quantize_q5_0(src, static_cast<BlockQ5_0*>(dst), n);
    case TensorType::Q5_1: return quantize_q5_1(src, static_cast<BlockQ5_1*>(dst), n);
    case TensorType::Q8_0: return quantize_q8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case TensorType::Q8_1: return quantize_q8_1(src, static_cast<BlockQ8_1*>(dst), n);
    case TensorType::Q8_K: return quantize_q8_k(src, static_cast<BlockQ8_K*>(dst), n);
    case TensorType::Q4_K: return quantize_q4_k(src, static_cast<BlockQ4_K*>(dst), n);
    case TensorType::Q5_K: return quantize_q5_k(src, static_cast<BlockQ5_K*>(dst), n);
    case TensorType::Q6_K: return quantize_q6_k(src, static_cast<BlockQ6_K*>(dst), n);
    default:
      fail("quantizing to {} is not supported", type_name(type));
  }
}

void dequantize_row(TensorType type, const void* src, float* dst, size_t n) {
  using namespace detail;
  check_row(type, n);
  switch (type) {
    case TensorType::F32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case TensorType::F16: {
      const auto* s = static_cast<const fp16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* s = static_cast<const bf16_t*>(src);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
      return;
    }
    case TensorType::Q4_0: return dequantize_q4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case TensorType::Q4_1: return dequantize_q4_1(static_cast<const BlockQ4_1*>(src), dst, n);
    case TensorType::Q5_0: return dequantize_q5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case TensorType::Q5_1: return dequantize_q5_1(static_cast<const BlockQ5_1*>(src), dst, n);
    case TensorType::Q8_0: return dequantize_q8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case TensorType::Q8_1: return dequantize_q8_1(static_cast<const BlockQ8_1*>(src), dst, n);
    case TensorType::Q8_K: return dequantize_q8_k(static_cast<const BlockQ8_K*>(src), dst, n);
    case TensorType::Q2_K: return dequantize_q2_k(static_cast<const BlockQ2_K*>(src), dst, n);
    case TensorType::Q3_K: return dequantize_q3_k(static_cast<const BlockQ3_K*>(src), dst, n);
    case TensorType::Q4_K: return dequantize_q4_k(static_cast<const BlockQ4_K*>(src), dst, n);
    case TensorType::Q5_K: return dequantize_q5_k(static_cast<const BlockQ5_K*>(src), dst, n);
    case TensorType::Q6_K: return dequantize_q6_k(static_cast<const BlockQ6_K*>(src), dst, n);
    default:
      fail("dequantizing {} is not supported", type_name(type));
  }
}

}  // namespace ragd::kernels
