// matmul (every ISA this CPU has, forced in turn) against matmul_reference, for every
// weight type, on random data with awkward shapes.
//
// Tolerance. The reference multiplies the exact dequantized weights by the exact float
// activations in double. The fast path rounds each activation to 8 bits within its block
// (32 elements for Q8x32, 256 for Q8_K): the error per element is at most half a step,
// amax_block / 254, so |fast - ref| <= sum_k |w_k| * amax_block(k) / 254 (plus float
// rounding, 1e-5 * sum |w||x|). We assert exactly that bound (with 2% slack), which is
// tighter than a loose fraction of sum |w||x| and still never flaky. Float weight types
// (F32/F16/BF16) use float activations: only the float rounding term applies.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <initializer_list>
#include <random>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "isa_testing.h"
#include "random_matmul.h"
#include "util/error.h"

namespace ragd::kernels {
namespace {

using matmul_testing::check_against_reference;
using matmul_testing::random_weights;
using matmul_testing::Shape;

struct IsaType {
  Isa isa;
  TensorType type;
};

class MatmulVsReference : public ::testing::TestWithParam<IsaType> {
 protected:
  void SetUp() override {
    if (GetParam().isa > best_isa()) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam().isa);
    saved_ = active_isa();
    force_isa(GetParam().isa);
  }
  void TearDown() override {
    if (GetParam().isa <= best_isa()) force_isa(saved_);
  }
  Isa saved_ = Isa::Scalar;
};

TEST_P(MatmulVsReference, RandomShapes) {
  const TensorType type = GetParam().type;
  // Every type except the dequantizing fallback ones has a kernel for every ISA: make
  // sure the forced ISA's kernel is the one under test, not a silent fallback.
  if (type != TensorType::Q2_K && type != TensorType::Q3_K && type != TensorType::Q8_1 &&
      type != TensorType::Q8_K) {
    // AMX takes batches only: single rows stay on the AVX-512 kernels.
    ASSERT_EQ(kernel_isa(type), std::min(GetParam().isa, Isa::Avx512)) << type_name(type);
  }
  const bool tiles = traits(type).block_size >= 32 && type != TensorType::Q8_1 && type != TensorType::Q8_K;
  const bool int8_tiles = type == TensorType::Q4_K || type == TensorType::Q5_K || type == TensorType::Q6_K;
  if (GetParam().isa == Isa::Amx && tiles) {
    ASSERT_EQ(kernel_isa(type, 64), Isa::Amx) << type_name(type);
  } else if (GetParam().isa == Isa::AmxInt8 && int8_tiles) {
    ASSERT_EQ(kernel_isa(type, 64), Isa::AmxInt8) << type_name(type);
  }
  const size_t bs = traits(type).block_size == 1 ? 32 : traits(type).block_size;
  // Rows not divisible by tile or thread counts; n covering the decode (1) and tiled
  // (3, 7, 17, 64) paths; columns of 1..several blocks.
  std::vector<Shape> shapes = {
      {1, bs, 1},      {5, bs, 3},       {67, 2 * bs, 1},  {67, 3 * bs, 7},
      {130, 4 * bs, 17}, {33, 2 * bs, 64}, {300, 6 * bs, 1}, {19, bs * 5, 5},
  };
  if (traits(type).block_size == 1) {
    // Float types take any column count: exercise the partial-vector tails too.
    for (size_t cols : {1u, 7u, 17u, 100u}) shapes.push_back({9, cols, 5});
    shapes.push_back({13, 37, 1});
  }
  ThreadPool pool1(1), pool2(2), pool3(3);
  uint32_t seed = 1;
  for (const auto& s : shapes) {
    for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
      check_against_reference(type, s, *pool, seed++);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(MatmulVsReference, LargeDecodeShape) {
  // A realistic decode matmul (many rows, several chunks per thread).
  const TensorType type = GetParam().type;
  ThreadPool pool(2);
  check_against_reference(type, {1100, 512, 1}, pool, 99);
  check_against_reference(type, {200, 768, 12}, pool, 100);
  // Decode row chunks on more threads than the usual two, with row counts that are not
  // a multiple of the chunk alignment and narrow rows (many chunks): every row is
  // computed exactly once (outputs start as NaN).
  const size_t bs = traits(type).block_size == 1 ? 32 : traits(type).block_size;
  ThreadPool pool3(3), pool8(8);
  uint32_t seed = 101;
  for (ThreadPool* p : {&pool, &pool3, &pool8}) {
    check_against_reference(type, {4099, bs, 1}, *p, seed++);
    check_against_reference(type, {777, 4 * bs, 1}, *p, seed++);
    if (HasFatalFailure()) return;
  }
}

TEST_P(MatmulVsReference, SmallBatches) {
  // Batches of 1..40 rows (several decode streams), which on AVX-512 take the weight
  // panels (16 weight rows per group, activation rows in chunks of 8/4/2/1 within 16-row
  // panels): weight rows that leave a partial last group (37 = 2 x 16 + 5, and 16 + 1
  // for a single-row tail), batch sizes that are not multiples of 16, and 1-3 threads
  // (tasks start at multiples of 16 rows). Outputs start as NaN, so a skipped element fails.
  const TensorType type = GetParam().type;
  const size_t bs = traits(type).block_size == 1 ? 32 : traits(type).block_size;
  ThreadPool pool1(1), pool2(2), pool3(3);
  uint32_t seed = 200;
  for (size_t n = 1; n <= 40; ++n) {
    for (ThreadPool* pool : {&pool1, &pool2, &pool3}) {
      check_against_reference(type, {37, 3 * bs, n}, *pool, seed++);
      if (HasFatalFailure()) return;
    }
  }
  for (size_t n : {8u, 16u, 32u, 33u}) {
    check_against_reference(type, {17, 2 * bs, n}, pool2, seed++);
    check_against_reference(type, {161, 5 * bs, n}, pool3, seed++);
    if (HasFatalFailure()) return;
  }
}

TEST_P(MatmulVsReference, LargeBatchInSeveralActivationBlocks) {
  // Enough wide activation rows that a kernel blocking them for L2 (the weight panels
  // take ~512 KB of packed rows at a time) needs several blocks, plus a partial panel.
  const TensorType type = GetParam().type;
  ThreadPool pool(2);
  check_against_reference(type, {40, 2048, 300}, pool, 300);
  // Wider than one column block of the AMX kernel (2048): partial sums carried across
  // blocks, the last block partial.
  check_against_reference(type, {48, 2560, 70}, pool, 301);
}

std::vector<IsaType> all_cases() {
  std::vector<IsaType> cases;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::AmxInt8, Isa::Amx}) {
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q4_0,
                         TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0,
                         TensorType::Q2_K, TensorType::Q3_K, TensorType::Q4_K, TensorType::Q5_K,
                         TensorType::Q6_K, TensorType::Q8_1, TensorType::Q8_K}) {
      cases.push_back({isa, t});
    }
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllIsasAllTypes, MatmulVsReference, ::testing::ValuesIn(all_cases()),
                         [](const auto& info) {
                           return isa_testing::isa_test_name(info.param.isa) + "_" +
                                  std::string(type_name(info.param.type));
                         });

TEST(Matmul, OutputLayoutIsRowMajorPerActivation) {
  // y[i * rows + r]: one activation row's outputs are contiguous.
  const size_t rows = 3, cols = 32;
  std::vector<float> wf(rows * cols, 0.0f);
  for (size_t r = 0; r < rows; ++r) wf[r * cols + r] = static_cast<float>(r + 1);
  const WeightView w{TensorType::F32, wf.data(), rows, cols};
  std::vector<float> x(2 * cols, 0.0f);
  for (size_t k = 0; k < cols; ++k) {
    x[k] = 1.0f;
    x[cols + k] = 10.0f;
  }
  std::vector<float> y(2 * rows);
  ThreadPool pool(2);
  matmul(w, x.data(), 2, y.data(), pool);
  EXPECT_EQ(y, (std::vector<float>{1, 2, 3, 10, 20, 30}));
}

// matmul_group over three matrices must give exactly what separate matmul calls give, for
// every batch size in `batches`. Grouped outputs start as NaN, so a skipped element fails.
void expect_group_equals_separate(const TensorType (&types)[3], const size_t (&rows)[3], size_t cols,
                                  std::initializer_list<size_t> batches, std::mt19937& rng) {
  std::vector<std::vector<uint8_t>> data;
  std::vector<WeightView> views;
  for (int j = 0; j < 3; ++j) {
    data.push_back(random_weights(types[j], rows[j], cols, rng));
    views.push_back({types[j], data.back().data(), rows[j], cols});
  }
  ThreadPool pool(2);
  for (size_t n : batches) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n * cols);
    for (auto& v : x) v = dist(rng);
    std::vector<std::vector<float>> separate(3), grouped(3);
    std::vector<MatmulTarget> targets;
    for (int j = 0; j < 3; ++j) {
      separate[j].resize(n * rows[j]);
      grouped[j].assign(n * rows[j], NAN);
      matmul(views[j], x.data(), n, separate[j].data(), pool);
      targets.push_back({&views[j], grouped[j].data()});
    }
    matmul_group(targets, x.data(), n, pool);
    for (int j = 0; j < 3; ++j) EXPECT_EQ(grouped[j], separate[j]) << "n=" << n << " j=" << j;
  }
}

// Mixed weight types (a Q4_K_M layer mixes Q4_K and Q6_K, so one group packs activations
// in two formats), for one activation row (decode) and for panel batches; a group whose
// matrices disagree on the input width is refused.
TEST(Matmul, GroupEqualsSeparateCalls) {
  std::mt19937 rng(7);
  const size_t cols = 512;
  expect_group_equals_separate({TensorType::Q4_K, TensorType::Q6_K, TensorType::Q8_0}, {96, 40, 200}, cols,
                               {1, 5, 17}, rng);
  std::vector<uint8_t> wide(cols * 4), odd(64);
  const WeightView matching{TensorType::F32, wide.data(), 1, cols};
  const WeightView narrow{TensorType::F32, odd.data(), 1, 16};
  std::vector<float> y(8);
  const MatmulTarget mismatched[] = {{&matching, y.data()}, {&narrow, y.data()}};
  ThreadPool pool(2);
  EXPECT_THROW(matmul_group(mismatched, std::vector<float>(cols).data(), 1, pool), Error);
}

// Targets of one type share one packed batch; a target of another type in the same
// group gets its own (Q4_0's aux differs from Q4_1's). Batch sizes cover the small-batch
// kernels (2, 8) and a partial second panel (33).
TEST(Matmul, GroupSharingPackedBatchEqualsSeparateCalls) {
  std::mt19937 rng(8);
  expect_group_equals_separate({TensorType::Q4_1, TensorType::Q4_1, TensorType::Q4_0}, {64, 37, 48}, 192,
                               {2, 8, 33}, rng);
}

TEST(Matmul, RejectsBadShapes) {
  std::vector<uint8_t> data(1024);
  const WeightView w{TensorType::Q4_0, data.data(), 2, 48};
  std::vector<float> x(48), y(2);
  ThreadPool pool(1);
  EXPECT_THROW(matmul(w, x.data(), 1, y.data(), pool), Error);
  EXPECT_THROW(matmul_reference(w, x.data(), 1, y.data()), Error);
  EXPECT_THROW(force_isa(static_cast<Isa>(static_cast<int>(best_isa()) + 1)), Error);
}

TEST(Matmul, IsaNames) {
  EXPECT_EQ(isa_name(Isa::Scalar), "scalar");
  EXPECT_EQ(isa_name(Isa::Avx2), "avx2");
  EXPECT_EQ(isa_name(Isa::Avx512), "avx512");
  EXPECT_EQ(isa_name(Isa::AmxInt8), "amx-int8");
  EXPECT_EQ(isa_name(Isa::Amx), "amx");
  EXPECT_LE(active_isa(), best_isa());
}

// The default kernels give a row the same result, up to float summation order, whether it
// is multiplied alone or in a batch: both quantize each activation row the same way. That
// keeps greedy answers independent of server load (a decode step batched with another
// prompt's prefill) and of how much of a prompt the prefix cache served. The int8 AMX
// kernels are exact (amx_test.cpp); the bf16 ones round batches to bf16 instead
// (differences ~2^-8 of sum |w x|, enough to flip near-tied tokens), so they are only on
// when asked for (RAGD_ISA=amx).
TEST(Matmul, DefaultKernelsAreBatchInvariant) {
  const char* env = std::getenv("RAGD_ISA");
  if (env && std::string(env) == "amx") GTEST_SKIP() << "RAGD_ISA=amx";
  EXPECT_LE(active_isa(), Isa::AmxInt8);
  ThreadPool pool(2);
  std::mt19937 rng(3);
  for (TensorType type : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q8_0,
                          TensorType::Q4_K, TensorType::Q6_K}) {
    const size_t rows = 64, cols = 512, n = 40;
    const auto w = matmul_testing::random_weights(type, rows, cols, rng);
    const WeightView view{type, w.data(), rows, cols};
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(n * cols), wrow(cols);
    for (auto& v : x) v = dist(rng);
    std::vector<float> batched(n * rows), single(rows);
    matmul(view, x.data(), n, batched.data(), pool);
    for (size_t i = 0; i < n; ++i) {
      matmul(view, x.data() + i * cols, 1, single.data(), pool);
      for (size_t r = 0; r < rows; ++r) {
        get_row(view, r, wrow.data());
        double abs_sum = 0;
        for (size_t k = 0; k < cols; ++k) abs_sum += std::fabs(wrow[k] * x[i * cols + k]);
        ASSERT_LE(std::fabs(batched[i * rows + r] - single[r]), 1e-5 * abs_sum)
            << type_name(type) << " row " << i << ", " << r;
      }
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
