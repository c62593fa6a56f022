// Random weight matrices and the matmul-vs-reference check with its error bound, shared
// by the matmul tests (see matmul_test.cpp for the tolerance's derivation).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"

namespace ragd::kernels::matmul_testing {

struct Shape {
  size_t rows, cols, n;
};

inline std::vector<uint8_t> random_weights(TensorType type, size_t rows, size_t cols, std::mt19937& rng) {
  const size_t rb = row_bytes(type, cols);
  std::vector<uint8_t> w(rows * rb);
  if (type == TensorType::Q2_K || type == TensorType::Q3_K) {
    // No quantizer for these: random bytes with sane super-block scales.
    for (auto& b : w) b = static_cast<uint8_t>(rng());
    const size_t bs = traits(type).type_size;
    for (size_t off = 0; off < w.size(); off += bs) {
      const fp16_t d = fp32_to_fp16(0.01f), dmin = fp32_to_fp16(0.005f);
      if (type == TensorType::Q2_K) {
        std::memcpy(&w[off + bs - 4], &d, 2);
        std::memcpy(&w[off + bs - 2], &dmin, 2);
      } else {
        std::memcpy(&w[off + bs - 2], &d, 2);
      }
    }
    return w;
  }
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> row(cols);
  for (size_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = dist(rng);
    row[r % cols] *= 6;  // outliers make the per-block scales differ
    quantize_row(type, row.data(), w.data() + r * rb, cols);
  }
  return w;
}

inline size_t act_block(TensorType type) {
  switch (type) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16: return 0;
    case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q8_1: case TensorType::Q8_K:
      return 0;  // dequantizing fallback: float activations
    case TensorType::Q4_K: case TensorType::Q5_K: case TensorType::Q6_K: return 256;
    default: return 32;
  }
}

// With `interleaved`, the weights are copied into the Interleaved16 layout first (shapes
// must allow it); the bound is the same.
inline void check_against_reference(TensorType type, const Shape& s, ThreadPool& pool,
                                    uint32_t seed, bool interleaved = false) {
  std::mt19937 rng(seed);
  const auto wdata = random_weights(type, s.rows, s.cols, rng);
  const WeightView w{type, wdata.data(), s.rows, s.cols};
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(s.n * s.cols);
  for (auto& v : x) v = dist(rng);
  for (size_t i = 0; i < s.n; ++i) x[i * s.cols + (i * 7) % s.cols] = 8.0f;  // outliers

  std::vector<float> ref(s.n * s.rows), out(s.n * s.rows, NAN);
  matmul_reference(w, x.data(), s.n, ref.data());
  if (interleaved) {
    const InterleavedWeight iw(w, pool);
    matmul(iw.view(), x.data(), s.n, out.data(), pool);
  } else {
    matmul(w, x.data(), s.n, out.data(), pool);
  }

  std::vector<float> wrow(s.cols);
  const size_t ab = act_block(type);
  const bool amx = kernel_isa(type, s.n) == Isa::Amx;
  for (size_t r = 0; r < s.rows; ++r) {
    get_row(w, r, wrow.data());
    for (size_t i = 0; i < s.n; ++i) {
      const float* xi = x.data() + i * s.cols;
      double abs_sum = 0, quant_bound = 0;
      for (size_t k = 0; k < s.cols; ++k) abs_sum += std::fabs(wrow[k] * xi[k]);
      if (ab) {
        for (size_t b = 0; b < s.cols; b += ab) {
          double amax = 0, wsum = 0;
          for (size_t k = b; k < b + ab; ++k) {
            amax = std::max(amax, static_cast<double>(std::fabs(xi[k])));
            wsum += std::fabs(wrow[k]);
          }
          quant_bound += amax / 254.0 * wsum;
        }
      }
      // The AMX kernel rounds weights and activations to bf16 instead (2^-9 relative
      // each, so at most 2^-8 * sum |w x|), whatever the weight type.
      if (amx) quant_bound = std::max(quant_bound, abs_sum / 256.0);
      const double tol = 1.02 * quant_bound + 1e-5 * abs_sum + 1e-30;
      const float got = out[i * s.rows + r], want = ref[i * s.rows + r];
      ASSERT_LE(std::fabs(got - want), tol)
          << type_name(type) << " isa=" << isa_name(active_isa()) << " rows=" << s.rows
          << " cols=" << s.cols << " n=" << s.n << " r=" << r << " i=" << i << " got=" << got
          << " want=" << want;
    }
  }
}

}  // namespace ragd::kernels::matmul_testing
