// Matrix products of a weight matrix (any supported TensorType, as stored in GGUF) with a
// batch of float activations. This is where nearly all inference time goes.
//
//   y[i * w.rows + r] = sum_k w[r][k] * x[i * w.cols + k]     for i < n, r < w.rows
//
// Quantized weights are multiplied against activations quantized on the fly to 8-bit
// (Q8_0 or Q8_K, as the weight type needs) with integer dot products; float weights use
// float FMAs. The implementation is chosen at run time from the CPU's features
// (AVX-512 VNNI, AVX2, scalar), and can be forced for testing.
#pragma once

#include <cstddef>
#include <string_view>

#include "kernels/tensor_type.h"
#include "kernels/thread_pool.h"

namespace ragd::kernels {

struct WeightView {
  TensorType type;
  const void* data;  // rows * row_bytes(type, cols) bytes, row-major
  size_t rows;
  size_t cols;
};

enum class Isa { Scalar, Avx2, Avx512 };
Isa best_isa();                 // what this CPU supports
Isa active_isa();               // what matmul uses now
void force_isa(Isa isa);        // testing: must be <= best_isa()
std::string_view isa_name(Isa isa);

// Fast path (run-time dispatch, threaded over `pool`).
void matmul(const WeightView& w, const float* x, size_t n, float* y, ThreadPool& pool);

// Scalar reference: dequantizes each weight row to float and accumulates in double.
// Slow; used by tests and by `--reference` runs to check the fast path.
void matmul_reference(const WeightView& w, const float* x, size_t n, float* y);

// Dequantizes row `r` of w into out[0..cols).
void get_row(const WeightView& w, size_t r, float* out);

}  // namespace ragd::kernels
