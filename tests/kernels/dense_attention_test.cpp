// dense_attention_head (every ISA path this CPU has) against the double-precision
// reference: head dims the AVX2 kernel takes (multiples of 8 up to 64: one to eight value
// vectors, one or two queries per value pass) and ones it leaves to the reference,
// sequence lengths that end inside and at a score tile and a query block, rows inside
// wider strided rows whose other columns must be neither read nor written.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "isa_testing.h"
#include "kernels/dense_attention.h"
#include "kernels/matmul.h"

namespace ragd::kernels {
namespace {

using isa_testing::IsaGuard;
using isa_testing::isas_of_this_cpu;

struct Fixture {
  size_t n, dim, stride, offset;
  std::vector<float> q, k, v, out;

  // Rows of `stride` floats with this head's `dim` columns at `offset`; every other column
  // of q, k and v is NaN, so reading one shows up in the output.
  Fixture(size_t n_, size_t dim_, float magnitude, std::mt19937& rng)
      : n(n_), dim(dim_), stride(3 * dim_ + 5), offset(dim_ + 1) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (auto* m : {&q, &k, &v}) {
      m->assign(n * stride, nan);
      for (size_t i = 0; i < n; ++i) {
        for (size_t d = 0; d < dim; ++d) (*m)[i * stride + offset + d] = normal(rng) * (m == &v ? 1.0f : magnitude);
      }
    }
    out.assign(n * stride, -7.0f);
  }
  const float* at(const std::vector<float>& m) const { return m.data() + offset; }
};

// Largest |fast - reference| over the head's outputs; -1 if a column outside the head
// was written.
double max_error(Isa isa, size_t n, size_t dim, float magnitude, std::mt19937& rng) {
  Fixture f(n, dim, magnitude, rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  std::vector<float> want(f.out);
  dense_attention_head_reference(f.at(f.q), f.at(f.k), f.at(f.v), f.stride, n, dim, scale, want.data() + f.offset);
  force_isa(isa);
  std::vector<float> scratch;
  dense_attention_head(f.at(f.q), f.at(f.k), f.at(f.v), f.stride, n, dim, scale, f.out.data() + f.offset, scratch);
  double err = 0;
  for (size_t i = 0; i < n * f.stride; ++i) {
    const size_t col = i % f.stride;
    if (col < f.offset || col >= f.offset + dim) {
      if (f.out[i] != -7.0f) return -1;
      continue;
    }
    if (!std::isfinite(f.out[i])) return INFINITY;
    err = std::max(err, std::abs(double(f.out[i]) - want[i]));
  }
  return err;
}

TEST(DenseAttention, MatchesReferenceOnEveryPath) {
  IsaGuard guard;
  std::mt19937 rng(5);
  for (Isa isa : isas_of_this_cpu()) {
    for (size_t dim : {8u, 16u, 24u, 32u, 40u, 48u, 56u, 64u, 12u, 72u}) {
      for (size_t n : {1u, 2u, 3u, 4u, 5u, 7u, 8u, 9u, 23u, 24u, 25u, 64u, 130u, 257u}) {
        // Values are N(0,1) and outputs convex combinations of them.
        const double err = max_error(isa, n, dim, 1.0f, rng);
        EXPECT_GE(err, 0) << isa_name(isa) << " dim " << dim << " n " << n << ": wrote outside the head";
        EXPECT_LT(err, 5e-6) << isa_name(isa) << " dim " << dim << " n " << n;
      }
    }
  }
}

// Scores in the thousands: the max-subtracted softmax keeps every output finite and still
// equal to the reference's (nearly one-hot) weighting.
TEST(DenseAttention, LargeScoresStayFinite) {
  IsaGuard guard;
  std::mt19937 rng(6);
  for (Isa isa : isas_of_this_cpu()) {
    for (size_t n : {9u, 100u}) {
      const double err = max_error(isa, n, 32, 40.0f, rng);
      EXPECT_GE(err, 0) << isa_name(isa);
      EXPECT_LT(err, 1e-4) << isa_name(isa) << " n " << n;
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
