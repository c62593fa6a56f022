// AVX-512 kernel table. The kernels live in *_avx512.cpp files compiled with AVX-512
// flags; this file only routes a weight type to them.
#include "kernels/gemm.h"

namespace ragd::kernels::detail {

GemmKernel avx512_q8x32_kernel(TensorType type);
GemmKernel avx512_float_kernel(TensorType type);
GemmKernel avx512_kquant_kernel(TensorType type);
GemmKernel avx512_q8x32_panel_kernel(TensorType type);
GemmKernel avx512_float_panel_kernel(TensorType type);
GemmKernel avx512_kquant_panel_kernel(TensorType type);

// Batches of at least this many rows use the panel kernels (below it, most of a 16-row
// panel would be padding).
constexpr size_t kPanelMinRows = 12;

GemmKernel avx512_kernel(TensorType type, size_t n) {
  if (n >= kPanelMinRows) {
    if (auto k = avx512_q8x32_panel_kernel(type); k.fn) return k;
    if (auto k = avx512_float_panel_kernel(type); k.fn) return k;
    if (auto k = avx512_kquant_panel_kernel(type); k.fn) return k;
  }
  if (auto k = avx512_q8x32_kernel(type); k.fn) return k;
  if (auto k = avx512_float_kernel(type); k.fn) return k;
  if (auto k = avx512_kquant_kernel(type); k.fn) return k;
  return {};
}

}  // namespace ragd::kernels::detail
