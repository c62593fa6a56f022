// attend_kv_head (every ISA path this CPU has) against the double-precision reference, over
// head dims with and without a partial last vector, GQA group sizes, and contexts that
// end inside, at and past block boundaries of a paged cache whose blocks are scattered.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/quants.h"
#include "isa_testing.h"

namespace ragd::kernels {
namespace {

// A paged K/V store like KvCache's: blocks of block_rows rows of row_stride elements, this
// KV head's columns at head_offset. Everything the kernel must not read (other heads'
// columns, the row padding, rows at or past n_ctx, unused blocks) is NaN, so reading it
// shows up. An f16 store holds the same N(0,1) draws rounded to f16 (NaN stays NaN); the
// reference reads the same rounded values, so both types meet the same bound.
struct PagedFixture {
  KvType type;
  size_t dim, n_ctx, block_rows, row_stride, head_offset;
  std::vector<float> key_pool, value_pool;
  std::vector<fp16_t> key_pool16, value_pool16;
  std::vector<const void*> key_blocks, value_blocks;

  PagedFixture(KvType type_, size_t dim_, size_t n_ctx_, size_t block_rows_, std::mt19937& rng)
      : type(type_), dim(dim_), n_ctx(n_ctx_), block_rows(block_rows_), row_stride(3 * dim_ + 5),
        head_offset(dim_ + 1) {
    const size_t n_blocks = (n_ctx + block_rows - 1) / block_rows;
    const size_t pool_blocks = n_blocks + 3;
    const size_t block_elements = block_rows * row_stride;
    key_pool.assign(pool_blocks * block_elements, std::numeric_limits<float>::quiet_NaN());
    value_pool = key_pool;
    // Block i of the sequence lives in a shuffled pool slot, as after cache churn.
    std::vector<size_t> slot(pool_blocks);
    std::iota(slot.begin(), slot.end(), 0);
    std::shuffle(slot.begin(), slot.end(), rng);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t b = 0; b < n_blocks; ++b) {
      for (size_t r = 0; r < block_rows && b * block_rows + r < n_ctx; ++r) {
        float* k = &key_pool[slot[b] * block_elements + r * row_stride + head_offset];
        float* v = &value_pool[slot[b] * block_elements + r * row_stride + head_offset];
        for (size_t d = 0; d < dim; ++d) {
          k[d] = normal(rng);
          v[d] = normal(rng);
        }
      }
    }
    if (type == KvType::F16) {
      for (float x : key_pool) key_pool16.push_back(fp32_to_fp16(x));
      for (float x : value_pool) value_pool16.push_back(fp32_to_fp16(x));
    }
    for (size_t b = 0; b < n_blocks; ++b) {
      const size_t at = slot[b] * block_elements + head_offset;
      key_blocks.push_back(type == KvType::F16 ? static_cast<const void*>(&key_pool16[at]) : &key_pool[at]);
      value_blocks.push_back(type == KvType::F16 ? static_cast<const void*>(&value_pool16[at])
                                                 : &value_pool[at]);
    }
  }

  PagedKv view() const { return {key_blocks, value_blocks, block_rows, row_stride, type}; }
};

using isa_testing::IsaGuard;
using isa_testing::isas_of_this_cpu;

// Largest |fast - reference| over the group's outputs, for one configuration.
double max_error(Isa isa, KvType type, size_t dim, size_t group, size_t n_ctx,
                 size_t block_rows, float q_scale, std::mt19937& rng) {
  PagedFixture kv(type, dim, n_ctx, block_rows, rng);
  std::normal_distribution<float> normal(0.0f, q_scale);
  std::vector<float> q(group * dim);
  for (auto& x : q) x = normal(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dim));
  std::vector<float> want(group * dim), got(group * dim, std::numeric_limits<float>::quiet_NaN());
  std::vector<float> scores(group * n_ctx);
  attend_kv_head_reference(q.data(), group, dim, kv.view(), n_ctx, scale, want.data());
  force_isa(isa);
  attend_kv_head(q.data(), group, dim, kv.view(), n_ctx, scale, scores.data(), got.data());
  double err = 0.0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    err = std::max(err, std::fabs(static_cast<double>(got[i]) - want[i]));
  }
  return err;
}

TEST(Attention, MatchesReferenceOnEveryPath) {
  IsaGuard guard;
  std::mt19937 rng(11);
  // 8: stories260K; 40, 80: partial last vector; 64, 128: the specialised dims; 200: beyond
  // the AVX-512 kernel's registers (portable path on every ISA). AVX2 takes multiples of 8
  // up to 128 (16 .. 120: every value-sweep chunking) and leaves 36 to the portable path.
  // Groups 1 .. 7 cover every number of heads per value sweep and the split 7 = 4 + 3.
  for (Isa isa : isas_of_this_cpu()) {
    for (KvType type : {KvType::F32, KvType::F16}) {
      for (size_t dim : {8u, 16u, 24u, 36u, 40u, 64u, 80u, 96u, 120u, 128u, 200u}) {
        for (size_t group : {1u, 2u, 3u, 4u, 5u, 6u, 7u}) {
          for (size_t block_rows : {16u, 5u, 32u}) {
            for (size_t n_ctx : {1u, 4u, 15u, 16u, 17u, 33u, 75u, 130u}) {
              // Values are N(0,1) and outputs convex combinations of them; float rounding
              // of the scores and sums measures below 1e-6 absolute on every path.
              EXPECT_LT(max_error(isa, type, dim, group, n_ctx, block_rows, 1.0f, rng), 5e-6)
                  << isa_name(isa) << (type == KvType::F16 ? " f16" : " f32") << " dim " << dim
                  << " group " << group << " block_rows " << block_rows << " n_ctx " << n_ctx;
            }
          }
        }
      }
    }
  }
}

TEST(Attention, LargeScoresStayFinite) {
  // q ~ N(0, 30^2) gives scores of several hundred: exp overflows unless the max is
  // subtracted first. A score's rounding error grows with its size (relative ~1e-7), and
  // the softmax turns it into a relative error of the weights (measured below 1e-5).
  IsaGuard guard;
  std::mt19937 rng(12);
  for (Isa isa : isas_of_this_cpu()) {
    for (KvType type : {KvType::F32, KvType::F16}) {
      for (size_t dim : {40u, 64u, 128u}) {
        EXPECT_LT(max_error(isa, type, dim, 3, 75, 16, 30.0f, rng), 1e-4)
            << isa_name(isa) << " dim " << dim;
      }
    }
  }
}

// Storing a row as f16 gives the scalar reference's round-to-nearest-even bits on every
// ISA (AVX-512 converts 16 at a time, with a masked tail), including subnormal, overflowing
// and halfway values; as f32 it is a copy.
TEST(Attention, StoresKvRowsAsTheReferenceRounds) {
  IsaGuard guard;
  std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e6f, -1e6f,
                          6e-8f, 3e-5f, 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 0.1f, -0.3f};
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  while (x.size() < 37) x.push_back(normal(rng));  // two full vectors and a tail
  std::vector<fp16_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = fp32_to_fp16(x[i]);
  for (Isa isa : isas_of_this_cpu()) {
    force_isa(isa);
    std::vector<fp16_t> got(x.size() + 1, 0xABCD);
    store_kv_row(KvType::F16, x.data(), got.data(), x.size());
    EXPECT_EQ(got.back(), 0xABCD) << "wrote past the row";
    got.pop_back();
    EXPECT_EQ(got, want) << isa_name(isa);
    std::vector<float> copy(x.size());
    store_kv_row(KvType::F32, x.data(), copy.data(), x.size());
    EXPECT_EQ(copy, x);
  }
}

// The same over a sample of the whole float range (every 997th bit pattern, NaNs left
// out: their payloads may differ), every value halfway between two adjacent halves and the
// floats either side of it (subnormal halves included), rows of every length 1 .. 17 for
// the tails, and nothing written past a row.
TEST(Attention, StoresKvRowsBitExactOverTheFloatRange) {
  IsaGuard guard;
  std::vector<float> x;
  for (uint64_t u = 0; u <= 0xFFFFFFFFu; u += 997) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(u));
    if (!std::isnan(f)) x.push_back(f);
  }
  for (uint32_t h = 0; h < 0x7C00u; ++h) {  // halves 0 .. 65504 and the rounding to inf
    const float lo = fp16_to_fp32(static_cast<fp16_t>(h));
    const float mid = h == 0x7BFFu ? 65520.0f : (lo + fp16_to_fp32(static_cast<fp16_t>(h + 1))) / 2;
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, INFINITY)}) {
      x.push_back(f);
      x.push_back(-f);
    }
  }
  x.push_back(INFINITY);
  x.push_back(-INFINITY);
  x.push_back(std::numeric_limits<float>::denorm_min());
  std::vector<fp16_t> want(x.size());
  for (size_t i = 0; i < x.size(); ++i) want[i] = fp32_to_fp16(x[i]);
  for (Isa isa : isas_of_this_cpu()) {
    force_isa(isa);
    std::vector<fp16_t> got(x.size());
    store_kv_row(KvType::F16, x.data(), got.data(), x.size());
    size_t mismatches = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      if (got[i] != want[i] && ++mismatches <= 5) {
        ADD_FAILURE() << isa_name(isa) << " " << x[i] << " (bits " << std::hex
                      << std::bit_cast<uint32_t>(x[i]) << "): got " << got[i] << " want "
                      << want[i] << std::dec;
      }
    }
    EXPECT_EQ(mismatches, 0u) << isa_name(isa);
    for (size_t n = 1; n <= 17; ++n) {
      std::vector<fp16_t> row(n + 1, 0xABCD);
      store_kv_row(KvType::F16, x.data() + 1000 * n, row.data(), n);
      EXPECT_EQ(row.back(), 0xABCD) << isa_name(isa) << " wrote past a row of " << n;
      EXPECT_TRUE(std::equal(row.begin(), row.end() - 1, want.begin() + 1000 * n))
          << isa_name(isa) << " row of " << n;
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
