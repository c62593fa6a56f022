// AVX-512 kernel table. The kernels live in *_avx512.cpp files compiled with AVX-512
// flags; this file only routes a weight type to them.
#include "kernels/gemm.h"

namespace ragd::kernels::detail {

GemmKernel avx512_q8x32_kernel(TensorType type);
GemmKernel avx512_float_kernel(TensorType type);
GemmKernel avx512_kquant_kernel(TensorType type);
GemmKernel avx512_q8x32_wpanel_kernel(TensorType type);
GemmKernel avx512_float_panel_kernel(TensorType type);
GemmKernel avx512_kquant_panel_kernel(TensorType type);

namespace {

// Batches of at least this many rows use the weight-panel kernel, smaller ones the row
// kernel (decode, 4-row tiles). Measured on the target with 1536 x 576 weights streamed
// from DRAM as in a model (one thread, us per matmul, panels vs tiles): at n = 2 Q4_0
// 45 vs 56, Q4_1 47 vs 50, Q8_0 75 vs 109, but Q5_0 80 vs 60 and Q5_1 83 vs 63, whose
// fifth bits make the panel unpack dearer; at n = 4 Q5_0 91 vs 86, Q5_1 96 vs 118, and
// from n = 5 the panels win for every type (n = 8: 1.5-2.5x). Q8_0 takes the panels even
// for one row: bench_matmul smollm2_135m decode (576-column matrices), one thread, 13.6
// -> 10.3 ms per token for a Q8_0 model and 6.8 -> 6.0 ms for Q4_1 (its Q8_0 output
// matrix); with 2048 columns the two are within 5%.
size_t wpanel_min_rows(TensorType type) {
  switch (type) {
    case TensorType::Q8_0: return 1;
    case TensorType::Q5_0: case TensorType::Q5_1: return 4;
    default: return 2;
  }
}

// Batches of at least this many rows use the float and k-quant panel kernels (below it,
// most of a 16-row panel would be padding).
constexpr size_t kPanelMinRows = 12;

}  // namespace

GemmKernel avx512_kernel(TensorType type, size_t n) {
  if (n >= wpanel_min_rows(type)) {
    if (auto k = avx512_q8x32_wpanel_kernel(type); k.fn) return k;
  }
  if (n >= kPanelMinRows) {
    if (auto k = avx512_float_panel_kernel(type); k.fn) return k;
    if (auto k = avx512_kquant_panel_kernel(type); k.fn) return k;
  }
  if (auto k = avx512_q8x32_kernel(type); k.fn) return k;
  if (auto k = avx512_float_kernel(type); k.fn) return k;
  if (auto k = avx512_kquant_kernel(type); k.fn) return k;
  return {};
}

}  // namespace ragd::kernels::detail
