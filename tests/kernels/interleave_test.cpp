// The Interleaved16 weight layout: copying into it loses nothing (every row reads back
// byte for byte), and matmul over interleaved weights agrees with the reference on every
// ISA (AVX2 and AVX-512 read the layout directly, Q4_K's with the AVX2 kernel; the scalar
// path falls back to dequantized rows) and, where both run the same batched kernel, equals
// matmul over the row-major original.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/interleave.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "isa_testing.h"
#include "random_matmul.h"
#include "util/error.h"

namespace ragd::kernels {
namespace {

using matmul_testing::check_against_reference;
using matmul_testing::random_weights;

// The types whose layout keeps GGUF's 32-element blocks, and all with a layout.
constexpr TensorType kBlockTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                      TensorType::Q5_1, TensorType::Q8_0};
constexpr TensorType kTypes[] = {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                                 TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K};

bool is_kquant(TensorType type) { return type == TensorType::Q4_K; }

TEST(Interleave, EveryRowReadsBackUnchanged) {
  std::mt19937 rng(1);
  ThreadPool pool(2);
  for (TensorType type : kTypes) {
    const size_t rows = 48, cols = is_kquant(type) ? 768 : 96, rb = row_bytes(type, cols);
    const auto data = random_weights(type, rows, cols, rng);
    const WeightView w{type, data.data(), rows, cols};
    const InterleavedWeight iw(w, pool);
    ASSERT_EQ(iw.bytes(), data.size());
    EXPECT_EQ(iw.view().layout, WeightLayout::Interleaved16);
    std::vector<uint8_t> row(rb);
    std::vector<float> want(cols), got(cols);
    for (size_t r = 0; r < rows; ++r) {
      deinterleave_row(type, static_cast<const uint8_t*>(iw.view().data), cols, r, row.data());
      ASSERT_TRUE(std::equal(row.begin(), row.end(), data.begin() + r * rb))
          << type_name(type) << " row " << r;
      get_row(w, r, want.data());
      get_row(iw.view(), r, got.data());
      ASSERT_EQ(got, want) << type_name(type) << " row " << r;
    }
  }
}

TEST(Interleave, LayoutPutsRowsInDwordLanes) {
  // Q4_1, one group of 16 rows, one block: row r's qs bytes are 16r..16r+15, d = r, m = -r.
  std::vector<BlockQ4_1> blocks(16);
  for (size_t r = 0; r < 16; ++r) {
    blocks[r].d = fp32_to_fp16(static_cast<float>(r));
    blocks[r].m = fp32_to_fp16(-static_cast<float>(r));
    for (size_t k = 0; k < 16; ++k) blocks[r].qs[k] = static_cast<uint8_t>(16 * r + k);
  }
  std::vector<uint8_t> out(sizeof(BlockQ4_1) * 16);
  interleave_groups(TensorType::Q4_1, reinterpret_cast<const uint8_t*>(blocks.data()), 32, 0, 1,
                    out.data());
  for (size_t j = 0; j < 4; ++j) {
    for (size_t r = 0; r < 16; ++r) {
      for (size_t k = 0; k < 4; ++k) {
        ASSERT_EQ(out[64 * j + 4 * r + k], 16 * r + 4 * j + k) << j << " " << r << " " << k;
      }
    }
  }
  for (size_t r = 0; r < 16; ++r) {
    fp16_t d, m;
    std::memcpy(&d, &out[256 + 2 * r], 2);
    std::memcpy(&m, &out[288 + 2 * r], 2);
    EXPECT_EQ(fp16_to_fp32(d), static_cast<float>(r));
    EXPECT_EQ(fp16_to_fp32(m), -static_cast<float>(r));
  }
}

TEST(Interleave, Q4KScalesSitWhereTheLayoutSays) {
  // One group of 16 rows, one super-block: row r's sub-block s has scale (8r + s) % 64 and
  // min 63 - (8r + s) % 64 (every 6-bit value, both top bits exercised); d = r, dmin = -r.
  std::vector<BlockQ4_K> blocks(16);
  for (size_t r = 0; r < 16; ++r) {
    uint8_t sc[8], m[8];
    for (size_t s = 0; s < 8; ++s) {
      sc[s] = static_cast<uint8_t>((8 * r + s) % 64);
      m[s] = static_cast<uint8_t>(63 - sc[s]);
    }
    for (size_t j = 0; j < 4; ++j) {  // GGML's packing
      blocks[r].scales[j] = static_cast<uint8_t>(sc[j] | (sc[j + 4] >> 4) << 6);
      blocks[r].scales[j + 4] = static_cast<uint8_t>(m[j] | (m[j + 4] >> 4) << 6);
      blocks[r].scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | (m[j + 4] & 15) << 4);
    }
    blocks[r].d = fp32_to_fp16(static_cast<float>(r));
    blocks[r].dmin = fp32_to_fp16(-static_cast<float>(r));
    for (size_t k = 0; k < QK_K / 2; ++k) blocks[r].qs[k] = static_cast<uint8_t>(r + 16 * k);
  }
  std::vector<uint8_t> out(sizeof(BlockQ4_K) * 16);
  interleave_groups(TensorType::Q4_K, reinterpret_cast<const uint8_t*>(blocks.data()), QK_K, 0, 1,
                    out.data());
  for (size_t r = 0; r < 16; ++r) {
    for (size_t j = 0; j < 32; ++j) {
      for (size_t k = 0; k < 4; ++k) ASSERT_EQ(out[64 * j + 4 * r + k], blocks[r].qs[4 * j + k]);
    }
    const uint8_t* half = out.data() + kK4ScalesOffset + kK4HalfScaleBytes * (r / 8);
    for (size_t s = 0; s < 8; ++s) {
      const size_t i = 16 * ((r % 8) / 4) + 4 * (s % 4) + r % 4, v = s / 4;
      const int sc = ((half[i] >> (4 * v)) & 15) | ((half[64 + i] >> (2 * v)) & 3) << 4;
      const int m = ((half[32 + i] >> (4 * v)) & 15) | ((half[64 + i] >> (4 + 2 * v)) & 3) << 4;
      EXPECT_EQ(sc, static_cast<int>((8 * r + s) % 64)) << r << " " << s;
      EXPECT_EQ(m, 63 - sc) << r << " " << s;
    }
    fp16_t d, dmin;
    std::memcpy(&d, &out[kK4DOffset + 2 * r], 2);
    std::memcpy(&dmin, &out[kK4DminOffset + 2 * r], 2);
    EXPECT_EQ(fp16_to_fp32(d), static_cast<float>(r));
    EXPECT_EQ(fp16_to_fp32(dmin), -static_cast<float>(r));
  }
}

TEST(Interleave, OnlyWholeGroupsOfSupportedTypes) {
  EXPECT_TRUE(can_interleave(TensorType::Q4_1, 32, 64));
  EXPECT_FALSE(can_interleave(TensorType::Q4_1, 40, 64));  // partial group
  EXPECT_FALSE(can_interleave(TensorType::Q4_1, 0, 64));
  EXPECT_TRUE(can_interleave(TensorType::Q5_1, 16, 32));
  EXPECT_TRUE(can_interleave(TensorType::Q4_K, 32, 256));
  EXPECT_FALSE(can_interleave(TensorType::Q4_K, 32, 128));  // a partial super-block
  EXPECT_FALSE(can_interleave(TensorType::Q6_K, 32, 256));
  EXPECT_FALSE(can_interleave(TensorType::Q8_1, 32, 64));
  EXPECT_FALSE(can_interleave(TensorType::F32, 32, 64));
  std::vector<uint8_t> data(row_bytes(TensorType::Q6_K, 256) * 32);
  ThreadPool pool(1);
  EXPECT_THROW(InterleavedWeight({TensorType::Q6_K, data.data(), 32, 256}, pool), Error);
  // A view that claims the layout with a shape that cannot have it is refused by matmul.
  const WeightView bad{TensorType::Q4_0, data.data(), 8, 64, WeightLayout::Interleaved16};
  std::vector<float> x(64), y(8);
  EXPECT_THROW(matmul(bad, x.data(), 1, y.data(), pool), Error);
}

class InterleavedMatmul : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (GetParam() > best_isa()) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
    saved_ = active_isa();
    force_isa(GetParam());
  }
  void TearDown() override {
    if (GetParam() <= best_isa()) force_isa(saved_);
  }
  Isa saved_ = Isa::Scalar;
};

// Batches of 1..40 rows on 1-3 threads (tasks start at multiples of 16 weight rows), a
// decode-sized matrix and a batch spanning several activation blocks. Outputs start as
// NaN, so a skipped element fails.
TEST_P(InterleavedMatmul, AgreesWithReference) {
  ThreadPool pool1(1), pool2(2), pool3(3);
  uint32_t seed = 1;
  for (TensorType type : kTypes) {
    const size_t cols = is_kquant(type) ? 512 : 96;
    for (size_t n = 1; n <= 40; ++n) {
      for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
        check_against_reference(type, {48, cols, n}, *pool, seed++, true);
        if (HasFatalFailure()) return;
      }
    }
    check_against_reference(type, {1104, is_kquant(type) ? 768u : 576u, 1}, pool2, seed++, true);
    check_against_reference(type, {64, 2048, 300}, pool2, seed++, true);
    check_against_reference(type, {64, 2560, 40}, pool2, seed++, true);
    if (HasFatalFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(AllIsas, InterleavedMatmul,
                         ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::AmxInt8, Isa::Amx),
                         [](const auto& info) { return isa_testing::isa_test_name(info.param); });

// On AVX-512, batches that already took the batched kernel on row-major weights (n >= 2
// for Q4_x, n >= 4 for Q5_x, every n for Q8_0) compute the same sums in the same order:
// equal results.
TEST(Interleave, SameResultsAsRowMajorBatchedKernel) {
  if (best_isa() < Isa::Avx512) GTEST_SKIP() << "CPU lacks avx512";
  const Isa saved = active_isa();
  force_isa(Isa::Avx512);
  std::mt19937 rng(5);
  ThreadPool pool(2);
  for (TensorType type : kBlockTypes) {
    const size_t rows = 96, cols = 192;
    const auto data = random_weights(type, rows, cols, rng);
    const WeightView w{type, data.data(), rows, cols};
    const InterleavedWeight iw(w, pool);
    for (size_t n : {1u, 2u, 5u, 16u, 33u}) {
      const bool q5 = type == TensorType::Q5_0 || type == TensorType::Q5_1;
      if ((n == 1 && type != TensorType::Q8_0) || (q5 && n < 4)) continue;  // row kernels
      std::normal_distribution<float> dist(0.0f, 1.0f);
      std::vector<float> x(n * cols), a(n * rows), b(n * rows, NAN);
      for (auto& v : x) v = dist(rng);
      matmul(w, x.data(), n, a.data(), pool);
      matmul(iw.view(), x.data(), n, b.data(), pool);
      EXPECT_EQ(a, b) << type_name(type) << " n=" << n;
    }
  }
  force_isa(saved);
}

}  // namespace
}  // namespace ragd::kernels
