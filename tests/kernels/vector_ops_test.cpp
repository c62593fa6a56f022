// The SIMD-dispatched vector ops (dot_f32, axpy, swiglu, softmax) against plain loops, for the
// lengths attention and the FFN use and awkward ones (tails of every size).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/vector_ops.h"
#include "isa_testing.h"

namespace ragd::kernels {
namespace {

TEST(VectorOps, DotAndAxpyMatchPlainLoops) {
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (size_t n : {0u, 1u, 5u, 8u, 15u, 16u, 17u, 31u, 33u, 64u, 100u, 128u, 257u}) {
    std::vector<float> a(n), b(n), y(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = dist(rng);
      b[i] = dist(rng);
      y[i] = dist(rng);
    }
    double ref = 0, mag = 0;
    for (size_t i = 0; i < n; ++i) {
      ref += static_cast<double>(a[i]) * b[i];
      mag += std::fabs(a[i] * b[i]);
    }
    EXPECT_NEAR(dot_f32(a.data(), b.data(), n), ref, 1e-5 * mag + 1e-6) << n;
    std::vector<float> want = y;
    for (size_t i = 0; i < n; ++i) want[i] += 0.75f * a[i];
    axpy(y.data(), 0.75f, a.data(), n);
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], want[i], 1e-6f * (1 + std::fabs(want[i]))) << n;
  }
}

using isa_testing::IsaGuard;
using isa_testing::isas_of_this_cpu;

// Within a few ulp of the scalar loop over the whole range a gate takes, including values
// whose exp over- or underflows (silu -> 0 or the gate itself; gates below -88, where the
// SIMD exp clamps, must still give ~0), on every ISA and every tail length. Elements past
// n are NaN and must come back untouched.
TEST(VectorOps, SwigluMatchesTheScalarLoop) {
  IsaGuard guard;
  for (Isa isa : isas_of_this_cpu()) {
    force_isa(isa);
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> wide(-120.0f, 120.0f);
    std::normal_distribution<float> typical(0.0f, 3.0f);
    for (size_t n : {1u, 2u, 3u, 7u, 8u, 9u, 15u, 16u, 17u, 33u, 1536u, 1541u}) {
      std::vector<float> gate(n + 1, std::numeric_limits<float>::quiet_NaN()), up(n + 1, 1.0f);
      for (size_t i = 0; i < n; ++i) {
        gate[i] = i % 3 == 0 ? wide(rng) : typical(rng);
        up[i] = typical(rng);
      }
      gate[0] = -std::numeric_limits<float>::max();
      if (n > 1) gate[1] = 1e30f;
      if (n > 2) gate[2] = -89.0f;
      if (n > 7) gate[7] = -88.5f;
      std::vector<float> want = gate, got = gate;
      swiglu_reference(want.data(), up.data(), n);
      swiglu(got.data(), up.data(), n);
      for (size_t i = 0; i < n; ++i) {
        ASSERT_TRUE(std::isfinite(got[i]))
            << isa_name(isa) << " " << n << " " << i << " gate " << gate[i];
        EXPECT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f)
            << isa_name(isa) << " " << n << " " << i << " gate " << gate[i];
      }
      EXPECT_TRUE(std::isnan(got[n])) << isa_name(isa) << " wrote past " << n;
    }
  }
}

// softmax against a double-precision softmax on every ISA: typical attention scores,
// widely spread ones (most weights underflow to ~0) and a constant row, every tail length.
// Elements past n are NaN and must neither be read into the result nor written.
TEST(VectorOps, SoftmaxMatchesDoublePrecision) {
  IsaGuard guard;
  for (Isa isa : isas_of_this_cpu()) {
    force_isa(isa);
    std::mt19937 rng(7);
    for (float spread : {0.0f, 1.0f, 30.0f}) {
      std::normal_distribution<float> score(5.0f, spread > 0 ? spread : 1.0f);
      for (size_t n : {1u, 2u, 7u, 8u, 9u, 16u, 23u, 75u, 150u, 512u}) {
        std::vector<float> x(n + 1, std::numeric_limits<float>::quiet_NaN());
        for (size_t i = 0; i < n; ++i) x[i] = spread > 0 ? score(rng) : -2.0f;
        const double max = *std::max_element(x.begin(), x.end() - 1);
        std::vector<double> want(n);
        double sum = 0;
        for (size_t i = 0; i < n; ++i) sum += want[i] = std::exp(static_cast<double>(x[i]) - max);
        const std::vector<float> in = x;
        softmax(x.data(), n);
        for (size_t i = 0; i < n; ++i) {
          // Relative 3e-6: exp to a few ulp, the sum's rounding over n terms; plus the float
          // rounding of x - max (half an ulp of it, 6e-8 relative), which exp turns into
          // that much relative error. Absolute 2e-38: the SIMD exp gives exp(-87) ~ 1.6e-38
          // for anything smaller.
          const double rel = 3e-6 + 6e-8 * std::fabs(in[i] - max);
          EXPECT_NEAR(x[i], want[i] / sum, rel * want[i] / sum + 2e-38)
              << isa_name(isa) << " spread " << spread << " n " << n << " i " << i;
        }
        EXPECT_TRUE(std::isnan(x[n])) << isa_name(isa) << " wrote past " << n;
      }
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
