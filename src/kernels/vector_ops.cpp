#include "kernels/vector_ops.h"

#include "kernels/matmul.h"

#include <algorithm>
#include <cmath>

namespace ragd::kernels {

namespace detail {
void swiglu_avx512(float* gate, const float* up, size_t n);  // vector_ops_avx512.cpp
void swiglu_avx2(float* gate, const float* up, size_t n);    // vector_ops_avx2.cpp
void softmax_avx2(float* x, size_t n);                       // vector_ops_avx2.cpp
}  // namespace detail

void rms_norm(const float* x, const float* weight, float* out, size_t n, float eps) {
  // The dispatched dot: a plain float sum is one serial add chain the compiler may not
  // reorder (~2300 cycles for 576 values, 2.5% of a 32-stream step).
  const float sum = dot_f32(x, x, n);
  const float inv = 1.0f / std::sqrt(sum / static_cast<float>(n) + eps);
  if (weight) {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
  } else {
    for (size_t i = 0; i < n; ++i) out[i] = x[i] * inv;
  }
}

void layer_norm(const float* x, const float* weight, const float* bias, float* out, size_t n,
                float eps) {
  float mean = 0.0f;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= static_cast<float>(n);
  float var = 0.0f;
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  var /= static_cast<float>(n);
  const float inv = 1.0f / std::sqrt(var + eps);
  for (size_t i = 0; i < n; ++i) {
    float v = (x[i] - mean) * inv;
    if (weight) v *= weight[i];
    if (bias) v += bias[i];
    out[i] = v;
  }
}

void softmax(float* x, size_t n) {
  if (n == 0) return;
  // active_isa(), checked per call (one relaxed load): tests force each ISA in turn.
  if (active_isa() >= Isa::Avx2) return detail::softmax_avx2(x, n);
  const float max = *std::max_element(x, x + n);
  float sum = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (size_t i = 0; i < n; ++i) x[i] *= inv;
}

void swiglu_reference(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void swiglu(float* gate, const float* up, size_t n) {
  // active_isa(), checked per call (one relaxed load per token range): tests force each
  // ISA in turn.
  const Isa isa = active_isa();
  if (isa >= Isa::Avx512) return detail::swiglu_avx512(gate, up, n);
  if (isa >= Isa::Avx2) return detail::swiglu_avx2(gate, up, n);
  swiglu_reference(gate, up, n);
}

void gelu(float* x, size_t n) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * kInvSqrt2));
}

void add(float* dst, const float* src, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] += src[i];
}

namespace detail {
float dot_f32_avx512(const float* a, const float* b, size_t n);
float dot_f32_avx2(const float* a, const float* b, size_t n);
void axpy_avx512(float* y, float a, const float* x, size_t n);
void axpy_avx2(float* y, float a, const float* x, size_t n);
}  // namespace detail

namespace {

float dot_f32_scalar(const float* a, const float* b, size_t n) {
  // Eight partial sums let the compiler keep independent FMA chains in flight.
  float acc[8] = {};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (float v : acc) sum += v;
  return sum;
}

void axpy_scalar(float* y, float a, const float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

// dot_f32 and axpy are attention's inner loops (once per query x key): this file is built
// without SIMD flags, so they dispatch once to the best ISA's version.
float dot_f32(const float* a, const float* b, size_t n) {
  static const auto fn = best_isa() >= Isa::Avx512 ? detail::dot_f32_avx512
                         : best_isa() >= Isa::Avx2 ? detail::dot_f32_avx2
                                                   : dot_f32_scalar;
  return fn(a, b, n);
}

void axpy(float* y, float a, const float* x, size_t n) {
  static const auto fn = best_isa() >= Isa::Avx512 ? detail::axpy_avx512
                         : best_isa() >= Isa::Avx2 ? detail::axpy_avx2
                                                   : axpy_scalar;
  fn(y, a, x, n);
}

void scale(float* x, float a, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] *= a;
}

void rope_angles(size_t pos, size_t rope_dim, float base, float* cos_out, float* sin_out) {
  const size_t half = rope_dim / 2;
  for (size_t i = 0; i < half; ++i) {
    // theta_i = pos * base^(-2i / rope_dim), in double: positions reach 10^5 and a float
    // phase error would grow with them.
    const double theta =
        static_cast<double>(pos) * std::pow(static_cast<double>(base), -2.0 * i / rope_dim);
    cos_out[i] = static_cast<float>(std::cos(theta));
    sin_out[i] = static_cast<float>(std::sin(theta));
  }
}

void rope_apply(float* head, size_t rope_dim, const float* cos, const float* sin,
                bool interleaved) {
  const size_t half = rope_dim / 2;
  for (size_t i = 0; i < half; ++i) {
    const size_t a = interleaved ? 2 * i : i;
    const size_t b = interleaved ? 2 * i + 1 : i + half;
    const float x0 = head[a], x1 = head[b];
    head[a] = x0 * cos[i] - x1 * sin[i];
    head[b] = x0 * sin[i] + x1 * cos[i];
  }
}

}  // namespace ragd::kernels
