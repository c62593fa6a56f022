#include "model/fast_gelu.h"

#include <cstdint>

// Without this GCC keeps the clamp + conversion below scalar (it must not reorder an
// operation that could raise a floating-point exception); ragd never reads FP exception
// flags, so the loop may be vectorised. (Builtins instead of <cmath>/<bit> functions: a
// function compiled with other optimisation flags is not inlined into these.)
#pragma GCC optimize("no-trapping-math")

namespace ragd::model {
namespace {

// e^y for y in [-17, 0]: y = k ln2 + r with integer k and |r| <= ln2/2, e^r by its Taylor
// polynomial to degree 6 (truncation error < 1.3e-7 relative), 2^k from the exponent bits.
// k = trunc(y log2(e) - 0.5) rounds without a floor call, which keeps the loop vectorisable.
inline float exp_neg(float y) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2 = 0.693147180559945309f;
  const int32_t k = static_cast<int32_t>(y * kLog2e - 0.5f);
  const float r = y - static_cast<float>(k) * kLn2;
  float p = 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (k + 127) << 23;  // k >= -25 here, so the exponent stays normal
  return p * __builtin_bit_cast(float, bits);
}

}  // namespace

void gelu_erf(float* x, size_t n) {
  // Abramowitz & Stegun 7.1.26: erf(z) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) e^{-z^2},
  // t = 1 / (1 + p z), for z >= 0; erf is odd. |z| is clamped at 4 (erf(4) = 1 - 1.5e-8).
  constexpr float p = 0.3275911f;
  constexpr float a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f,
                  a4 = -1.453152027f, a5 = 1.061405429f;
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  for (size_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float z = v * kInvSqrt2;
    const float az = __builtin_fabsf(z);
    const float c = az < 4.0f ? az : 4.0f;
    const float t = 1.0f / (1.0f + p * c);
    const float poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))));
    const float e = 1.0f - poly * exp_neg(-c * c);
    const float erf = __builtin_copysignf(e, z);
    x[i] = 0.5f * v * (1.0f + erf);
  }
}

}  // namespace ragd::model
