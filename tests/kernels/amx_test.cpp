// The AMX path's pieces (kernels/gemm.h BF16P16 packing, dequant_bf16.h) against their
// scalar references, and the int8 tile kernels against the VNNI ones bit for bit; the AMX
// matmuls themselves are covered with every other ISA by matmul_test.cpp. Skipped on CPUs
// (or kernels) without AMX.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/dequant_bf16.h"
#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/quants.h"
#include "isa_testing.h"
#include "random_matmul.h"

namespace ragd::kernels::detail {
namespace {

float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(Bf16, RoundsToNearestEvenFlushesDenormalsKeepsNaN) {
  EXPECT_EQ(bf16_from_float(1.0f), 0x3F80);
  EXPECT_EQ(bf16_from_float(-2.0f), 0xC000);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to the even one (1.0).
  EXPECT_EQ(bf16_from_float(1.0f + 1.0f / 256), 0x3F80);
  EXPECT_EQ(bf16_from_float(1.0f + 3.0f / 256), 0x3F82);
  EXPECT_EQ(bf16_from_float(from_bits(0x00000001u)), 0x0000);   // denormal -> +0
  EXPECT_EQ(bf16_from_float(from_bits(0x807FFFFFu)), 0x8000);   // denormal -> -0
  EXPECT_EQ(bf16_from_float(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(bf16_from_float(from_bits(0x7F7FFFFFu)), 0x7F80);   // FLT_MAX rounds up to inf
  EXPECT_TRUE(std::isnan(bf16_to_float(bf16_from_float(from_bits(0x7F800001u)))));
}

std::vector<uint8_t> pack(Isa isa, const std::vector<float>& x, size_t cols, size_t n) {
  const size_t units = (n + kPanelRows - 1) / kPanelRows;
  std::vector<uint8_t> out(units * packed_stride(ActFormat::BF16P16, cols), 0xAB);
  pack_units(isa, ActFormat::BF16P16, AuxKind::None, x.data(), cols, n, 0, units, out.data());
  return out;
}

TEST(Bf16Panel, LayoutIsPairInterleavedRows) {
  const size_t cols = 64, n = 3;
  std::vector<float> x(n * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const auto p = pack(Isa::Scalar, x, cols, n);
  auto word = [&](size_t pair, size_t row) {
    uint16_t h[2];
    std::memcpy(h, p.data() + pair * 64 + row * 4, 4);
    return std::pair{bf16_to_float(h[0]), bf16_to_float(h[1])};
  };
  EXPECT_EQ(word(0, 0), (std::pair{0.0f, 1.0f}));
  EXPECT_EQ(word(5, 2), (std::pair{x[2 * cols + 10], x[2 * cols + 11]}));
  EXPECT_EQ(word(31, 1), (std::pair{x[cols + 62], x[cols + 63]}));
  EXPECT_EQ(word(7, 3), (std::pair{0.0f, 0.0f}));  // rows past n are zero
}

TEST(Bf16Panel, AvxMatchesScalarBytes) {
  if (best_isa() < Isa::Amx) GTEST_SKIP() << "no AMX";
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  for (size_t cols : {32u, 96u, 896u}) {
    for (size_t n : {1u, 15u, 16u, 17u, 40u}) {
      std::vector<float> x(n * cols);
      for (auto& v : x) v = dist(rng);
      // Values that exercise rounding and the special cases.
      x[0] = from_bits(0x00000003u);
      x[n * cols - 1] = from_bits(0x7FC00001u);
      if (x.size() > 3) x[3] = 1.0f + 1.0f / 256;
      if (x.size() > 4) x[4] = -std::numeric_limits<float>::infinity();
      EXPECT_EQ(pack(Isa::Scalar, x, cols, n), pack(Isa::Amx, x, cols, n)) << cols << " x " << n;
    }
  }
}

// Every quantized type the AMX kernel takes: its bf16 rows equal dequantize_row rounded
// to bf16, exactly except for Q4_K's fused d * q - min (one bf16 step at most).
TEST(DequantBf16, MatchesDequantizeRow) {
  if (best_isa() < Isa::Amx) GTEST_SKIP() << "no AMX";
  std::mt19937 rng(11);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                          TensorType::Q8_0, TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K,
                          TensorType::Q5_K, TensorType::Q6_K}) {
    const size_t cols = 2 * 256, rows = 9;
    const auto w = matmul_testing::random_weights(type, rows, cols, rng);
    const size_t rb = row_bytes(type, cols);
    std::vector<float> ref(cols), tmp(cols);
    std::vector<uint16_t> got(cols);
    for (size_t r = 0; r < rows; ++r) {
      dequantize_row(type, w.data() + r * rb, ref.data(), cols);
      dequantize_row_bf16_avx512(type, w.data() + r * rb, cols, got.data(), tmp.data());
      for (size_t k = 0; k < cols; ++k) {
        const uint16_t want = bf16_from_float(ref[k]);
        if (type == TensorType::Q4_K) {
          ASSERT_LE(std::abs(static_cast<int>(got[k]) - static_cast<int>(want)), 1)
              << type_name(type) << " row " << r << " col " << k;
        } else {
          ASSERT_EQ(got[k], want) << type_name(type) << " row " << r << " col " << k;
        }
      }
    }
  }
}

// Row groups of interleaved matrices: the same bf16 values as the row-major rows they
// came from (one bf16 step for the _1 types' fused q * d + m).
TEST(DequantBf16, InterleavedGroupsMatchRows) {
  if (best_isa() < Isa::Amx) GTEST_SKIP() << "no AMX";
  std::mt19937 rng(12);
  ThreadPool pool(2);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                          TensorType::Q8_0}) {
    const size_t rows = 32, cols = 96;
    const auto w = matmul_testing::random_weights(type, rows, cols, rng);
    const WeightView row_major{type, w.data(), rows, cols};
    const InterleavedWeight iw(row_major, pool);
    const auto* data = static_cast<const uint8_t*>(iw.view().data);
    const size_t rb = row_bytes(type, cols);
    const bool fused = type == TensorType::Q4_1 || type == TensorType::Q5_1;
    std::vector<float> ref(cols);
    std::vector<uint16_t> got(16 * cols);
    for (size_t g = 0; g < rows / 16; ++g) {
      dequantize_group_bf16_avx512(type, data + 16 * g * rb, cols, got.data(), cols);
      for (size_t r = 0; r < 16; ++r) {
        dequantize_row(type, w.data() + (16 * g + r) * rb, ref.data(), cols);
        for (size_t k = 0; k < cols; ++k) {
          const int diff = std::abs(static_cast<int>(got[r * cols + k]) -
                                    static_cast<int>(bf16_from_float(ref[k])));
          ASSERT_LE(diff, fused ? 1 : 0) << type_name(type) << " row " << 16 * g + r << " col " << k;
        }
      }
    }
  }
}

// Weights of every bit pattern (every level, sub-block scale and min, Q6_K's negative
// scales included) with sane super-block scales.
template <typename Block>
std::vector<uint8_t> random_k_blocks(size_t rows, size_t cols, std::mt19937& rng) {
  const size_t count = rows * cols / QK_K;
  std::vector<uint8_t> w(count * sizeof(Block));
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> scale(0.001f, 0.05f);
  auto* blocks = reinterpret_cast<Block*>(w.data());
  for (size_t i = 0; i < count; ++i) {
    blocks[i].d = fp32_to_fp16(scale(rng));
    if constexpr (requires { blocks[i].dmin; }) blocks[i].dmin = fp32_to_fp16(scale(rng));
  }
  return w;
}

// The int8 tiles compute the VNNI kernels' integers and then apply the same float
// operations in the same order, so every output has the same bits: batched products on
// AmxInt8 equal those on Avx512 exactly, and so do greedy answers whatever the batching.
// Shapes: partial 16-row groups and panels, several column blocks (1024 columns each),
// several row tasks, one activation panel pair short of the second panel.
TEST(Int8Tiles, BitIdenticalToVnniKernels) {
  if (best_isa() < Isa::AmxInt8) GTEST_SKIP() << "no AMX-INT8";
  isa_testing::IsaGuard guard;
  std::mt19937 rng(21);
  ThreadPool pool(2);
  struct Shape { size_t rows, cols, n; };
  for (TensorType type : {TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K}) {
    for (Shape s : {Shape{37, 256, 64}, Shape{64, 1280, 65}, Shape{100, 2560, 70},
                    Shape{16, 512, 512}, Shape{200, 768, 96}}) {
      std::vector<uint8_t> w;
      if (type == TensorType::Q4_K) w = random_k_blocks<BlockQ4_K>(s.rows, s.cols, rng);
      if (type == TensorType::Q5_K) w = random_k_blocks<BlockQ5_K>(s.rows, s.cols, rng);
      if (type == TensorType::Q6_K) w = random_k_blocks<BlockQ6_K>(s.rows, s.cols, rng);
      const WeightView view{type, w.data(), s.rows, s.cols};
      std::normal_distribution<float> dist(0.0f, 1.0f);
      std::vector<float> x(s.n * s.cols);
      for (auto& v : x) v = dist(rng);
      x[5] = 40.0f;  // an outlier: one row's quantization scale far from the others'
      std::vector<float> vnni(s.n * s.rows), tiles(s.n * s.rows, std::nanf(""));
      force_isa(Isa::Avx512);
      matmul(view, x.data(), s.n, vnni.data(), pool);
      force_isa(Isa::AmxInt8);
      ASSERT_EQ(kernel_isa(type, s.n), Isa::AmxInt8) << type_name(type);
      matmul(view, x.data(), s.n, tiles.data(), pool);
      for (size_t i = 0; i < vnni.size(); ++i) {
        ASSERT_EQ(std::memcmp(&vnni[i], &tiles[i], sizeof(float)), 0)
            << type_name(type) << " " << s.rows << "x" << s.cols << " n=" << s.n << ": row " << i / s.rows
            << " col " << i % s.rows << ": " << tiles[i] << " vs " << vnni[i];
      }
    }
  }
}

}  // namespace
}  // namespace ragd::kernels::detail
