// The SIMD-dispatched vector ops (dot_f32, axpy, swiglu) against plain loops, for the
// lengths attention and the FFN use and awkward ones (tails of every size).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/vector_ops.h"

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

// Within a few ulp of the scalar loop over the whole range a gate takes, including values
// whose exp over- or underflows (silu -> 0 or the gate itself) and every tail length.
TEST(VectorOps, SwigluMatchesTheScalarLoop) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f);
  std::normal_distribution<float> typical(0.0f, 3.0f);
  for (size_t n : {1u, 7u, 15u, 16u, 17u, 33u, 1536u, 1541u}) {
    std::vector<float> gate(n), up(n);
    for (size_t i = 0; i < n; ++i) {
      gate[i] = i % 3 == 0 ? wide(rng) : typical(rng);
      up[i] = typical(rng);
    }
    gate[0] = -std::numeric_limits<float>::max();
    if (n > 1) gate[1] = 1e30f;
    if (n > 2) gate[2] = -89.0f;
    std::vector<float> want = gate, got = gate;
    swiglu_reference(want.data(), up.data(), n);
    swiglu(got.data(), up.data(), n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << n << " " << i << " gate " << gate[i];
      EXPECT_NEAR(got[i], want[i], 1e-6f * std::fabs(want[i]) + 1e-30f) << n << " " << i << " gate " << gate[i];
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
