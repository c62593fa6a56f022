// Activation packing (internal, kernels/gemm.h): the SIMD quantizers must produce the
// same bytes as the scalar ones, and the packed formats must hold what gemm.h says.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/quants.h"

namespace ragd::kernels::detail {
namespace {

std::vector<float> random_rows(size_t n, size_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n * cols);
  for (auto& v : x) v = dist(rng);
  for (size_t i = 0; i < n; ++i) {
    x[i * cols + i % cols] = 40.0f;                            // an outlier per row
    if (cols >= 64) std::fill(&x[i * cols + 32], &x[i * cols + 64], 0.0f);  // a zero block
  }
  return x;
}

std::vector<uint8_t> pack(Isa isa, ActFormat fmt, AuxKind aux, const std::vector<float>& x, size_t cols,
                          size_t n) {
  const size_t unit = pack_unit_rows(fmt), units = (n + unit - 1) / unit;
  std::vector<uint8_t> out(units * packed_stride(fmt, cols), 0xAB);
  pack_units(isa, fmt, aux, x.data(), cols, n, 0, units, out.data());
  return out;
}

TEST(ActPack, SimdMatchesScalarBytes) {
  if (best_isa() < Isa::Avx512) GTEST_SKIP() << "no AVX-512";
  for (ActFormat fmt : {ActFormat::Q8x32, ActFormat::Q8x32R16, ActFormat::Q8K, ActFormat::Q8KP16, ActFormat::F32P16}) {
    for (AuxKind aux : {AuxKind::Corr8, AuxKind::Corr8Nib, AuxKind::Corr16, AuxKind::Corr128,
                        AuxKind::MinSum}) {
      const size_t cols = fmt == ActFormat::Q8K || fmt == ActFormat::Q8KP16 ? 512 : 96, n = 19;
      const auto x = random_rows(n, cols, 5);
      EXPECT_EQ(pack(Isa::Scalar, fmt, aux, x, cols, n), pack(Isa::Avx512, fmt, aux, x, cols, n))
          << static_cast<int>(fmt) << " aux " << static_cast<int>(aux);
    }
  }
}

// The AVX2 panel quantizer (rows written straight into their panel slots) against the
// scalar path, for every aux kind, partial last panels, zero blocks and large values.
TEST(ActPack, Avx2PanelsMatchScalarBytes) {
  if (best_isa() < Isa::Avx2) GTEST_SKIP() << "no AVX2";
  for (AuxKind aux : {AuxKind::None, AuxKind::Corr8, AuxKind::Corr8Nib, AuxKind::Corr16,
                      AuxKind::Corr128, AuxKind::MinSum}) {
    for (size_t n : {1u, 5u, 16u, 19u, 33u}) {
      const size_t cols = 160;
      auto x = random_rows(n, cols, static_cast<uint32_t>(n));
      for (size_t k = 0; k < cols; ++k) x[k] *= 1e4f;  // row 0: large values
      EXPECT_EQ(pack(Isa::Scalar, ActFormat::Q8x32R16, aux, x, cols, n),
                pack(Isa::Avx2, ActFormat::Q8x32R16, aux, x, cols, n))
          << "aux " << static_cast<int>(aux) << " n " << n;
    }
  }
}

TEST(ActPack, Q8x32RowLayout) {
  const size_t cols = 64;
  auto x = random_rows(1, cols, 9);
  const auto p = pack(Isa::Scalar, ActFormat::Q8x32, AuxKind::Corr8Nib, x, cols, 1);
  const int8_t* qs = q8x32_qs(p.data());
  const float* dl = q8x32_dl(p.data(), cols);
  const auto* aux = static_cast<const int32_t*>(q8x32_aux(p.data(), cols));
  const float* d = q8x32_d(p.data(), cols);
  const float* ds = q8x32_ds(p.data(), cols);
  for (size_t b = 0; b < 2; ++b) {
    float amax = 0;
    int sum = 0;
    for (size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
    EXPECT_FLOAT_EQ(d[b], amax / 127);
    for (size_t j = 0; j < 32; ++j) {
      EXPECT_NEAR(qs[32 * b + j] * d[b], x[32 * b + j], d[b] / 2 + 1e-6);
      sum += qs[32 * b + j];
    }
    for (size_t g = 0; g < 8; ++g) {
      EXPECT_EQ(dl[8 * b + g], d[b]);
      const int s4 = qs[32 * b + 4 * g] + qs[32 * b + 4 * g + 1] + qs[32 * b + 4 * g + 2] + qs[32 * b + 4 * g + 3];
      EXPECT_EQ(aux[8 * b + g], (g < 4 ? -8 : -128) * s4);
    }
    EXPECT_EQ(ds[2 * b], d[b]);
    EXPECT_FLOAT_EQ(ds[2 * b + 1], d[b] * sum);
  }
}

// Q8x32R16: each row's blocks as in its own Q8x32 row, d, and aux (MinSum: d * sum(q);
// Corr(c): -c * sum(q)); rows past n all zero.
TEST(ActPack, RowsPanelLayoutAndPadding) {
  const size_t cols = 64, n = 5;
  const auto x = random_rows(n, cols, 11);
  for (AuxKind aux : {AuxKind::MinSum, AuxKind::Corr8, AuxKind::Corr128}) {
    const auto panel = pack(Isa::Scalar, ActFormat::Q8x32R16, aux, x, cols, n);
    for (size_t t = 0; t < n; ++t) {
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      const auto row = pack(Isa::Scalar, ActFormat::Q8x32, AuxKind::None, xt, cols, 1);
      for (size_t b = 0; b < 2; ++b) {
        const uint8_t* blk = panel.data() + b * kPanelBlockBytes;
        const int8_t* want = q8x32_qs(row.data()) + 32 * b;
        EXPECT_EQ(std::memcmp(blk + 32 * t, want, 32), 0) << "row " << t << " block " << b;
        int sum = 0;
        for (size_t e = 0; e < 32; ++e) sum += want[e];
        float d;
        std::memcpy(&d, blk + 512 + 4 * t, 4);
        EXPECT_EQ(d, q8x32_d(row.data(), cols)[b]);
        if (aux == AuxKind::MinSum) {
          float s;
          std::memcpy(&s, blk + 576 + 4 * t, 4);
          EXPECT_EQ(s, d * static_cast<float>(sum));
        } else {
          int32_t corr;
          std::memcpy(&corr, blk + 576 + 4 * t, 4);
          EXPECT_EQ(corr, (aux == AuxKind::Corr8 ? -8 : -128) * sum);
        }
      }
    }
    for (size_t b = 0; b < 2; ++b) {
      const uint8_t* blk = panel.data() + b * kPanelBlockBytes;
      for (size_t t = n; t < kPanelRows; ++t) {
        for (size_t e = 0; e < 32; ++e) EXPECT_EQ(blk[32 * t + e], 0);
        for (size_t k = 0; k < 4; ++k) {
          EXPECT_EQ(blk[512 + 4 * t + k], 0);
          EXPECT_EQ(blk[576 + 4 * t + k], 0);
        }
      }
    }
  }
}

}  // namespace
}  // namespace ragd::kernels::detail
