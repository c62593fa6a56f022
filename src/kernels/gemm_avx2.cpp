// AVX2 kernel table (the kernels live in *_avx2.cpp files compiled with AVX2 flags).
#include "kernels/gemm.h"

namespace ragd::kernels::detail {

GemmKernel avx2_q8x32_kernel(TensorType type);
GemmKernel avx2_float_kernel(TensorType type);
GemmKernel avx2_kquant_kernel(TensorType type);

GemmKernel avx2_kernel(TensorType type) {
  if (auto k = avx2_q8x32_kernel(type); k.fn) return k;
  if (auto k = avx2_float_kernel(type); k.fn) return k;
  if (auto k = avx2_kquant_kernel(type); k.fn) return k;
  return {};
}

}  // namespace ragd::kernels::detail
