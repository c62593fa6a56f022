// Matrix products of a weight matrix (any supported TensorType, as stored in GGUF) with a
// batch of float activations. This is where nearly all inference time goes.
//
//   y[i * w.rows + r] = sum_k w[r][k] * x[i * w.cols + k]     for i < n, r < w.rows
//
// Quantized weights are multiplied against activations quantized on the fly to 8-bit
// (once per call: per 32 columns with a float scale for Q4_x/Q5_x/Q8_0 weights, per 256
// as Q8_K for the k-quants) with integer dot products; float weights use float FMAs. The
// implementation is chosen at run time from the CPU's features (AMX-INT8, AVX-512 VNNI,
// AVX2, scalar), and can be forced for testing (or with RAGD_ISA=scalar|avx2|avx512|
// amx-int8|amx in the environment). One activation row (decode) streams the weights once, bound by memory
// bandwidth; batches of >= 12 rows (prefill, many streams) use 16-row panel kernels that
// reuse every weight for all rows and are bound by integer/FMA throughput.
//
// Accuracy: the 8-bit activation rounding costs at most half a step per element, i.e.
// |matmul - matmul_reference| <= sum_k |w_k| * absmax(x's block of k) / 254 (+ float
// rounding); see tests/kernels/matmul_test.cpp.
//
// Threading: matmul may be called from any thread (calls sharing a pool are serialised
// by it); y must not overlap x or the weights. Weights of types without an integer kernel
// (Q2_K, Q3_K, Q8_1, Q8_K) are dequantized row by row and use float dots.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "kernels/tensor_type.h"
#include "kernels/thread_pool.h"

namespace ragd::kernels {

// RowMajor: GGUF's layout, row r at data + r * row_bytes(type, cols). Interleaved16: groups
// of 16 rows with their blocks transposed for the AVX-512 batched kernels (interleave.h);
// the same size.
enum class WeightLayout : uint8_t { RowMajor, Interleaved16 };

struct WeightView {
  TensorType type;
  const void* data;  // rows * row_bytes(type, cols) bytes, laid out as `layout` says
  size_t rows;
  size_t cols;
  WeightLayout layout = WeightLayout::RowMajor;
};

// AmxInt8: Avx512 plus AMX-TILE/AMX-INT8 tiles that the OS lets this process use; batched
// products (n >= 32: prefill, many streams) of the k-quants (Q4_K Q5_K Q6_K) run on int8
// tiles with results bit-identical to the Avx512 kernels', so batching changes nothing.
// The default where the CPU has it.
// Amx: AmxInt8 plus AVX512_BF16 and AMX-BF16: the other quantized types' batched products
// run on bf16 tiles too. Opt-in (RAGD_ISA=amx or force_isa): unlike the other kernels, the
// bf16 ones' results depend on the batch size (see matmul.cpp).
enum class Isa { Scalar, Avx2, Avx512, AmxInt8, Amx };
Isa best_isa();                 // what this CPU supports
Isa active_isa();               // what matmul uses now (at most AmxInt8 unless RAGD_ISA=amx)
void force_isa(Isa isa);        // testing: must be <= best_isa()
std::string_view isa_name(Isa isa);

// The ISA of the kernel matmul uses for `type` and a batch of n rows (row-major weights)
// right now: active_isa() when that ISA has a kernel for the type, else the best lower one
// that has; Scalar also covers the dequantize-then-dot fallback of types without integer
// kernels (Q2_K Q3_K Q8_1 Q8_K).
Isa kernel_isa(TensorType type, size_t n = 1);

// Fast path (run-time dispatch, threaded over `pool`).
void matmul(const WeightView& w, const float* x, size_t n, float* y, ThreadPool& pool);

// Several products of the same activations in one pool dispatch: y_j = W_j x for each
// target (at most 4; every W_j has x's columns). The activations are packed once per
// distinct kernel format and the row chunks of all targets share one task list, so the
// threads meet at one barrier instead of one per matrix and small matrices (k/v
// projections) balance against large ones. Results equal separate matmul() calls.
struct MatmulTarget {
  const WeightView* w;
  float* y;
};
void matmul_group(std::span<const MatmulTarget> targets, const float* x, size_t n,
                  ThreadPool& pool);

// Scalar reference: dequantizes each weight row to float and accumulates in double.
// Slow; used by tests and by `--reference` runs to check the fast path.
void matmul_reference(const WeightView& w, const float* x, size_t n, float* y);

// Dequantizes row `r` of w into out[0..cols).
void get_row(const WeightView& w, size_t r, float* out);

}  // namespace ragd::kernels
