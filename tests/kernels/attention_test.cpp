// attend_kv_head (every ISA path this CPU has) against the double-precision reference, over
// head dims with and without a partial last vector, GQA group sizes, and contexts that
// end inside, at and past block boundaries of a paged cache whose blocks are scattered.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"

namespace ragd::kernels {
namespace {

// A paged K/V store like KvCache's: blocks of block_rows rows of row_stride floats, this KV
// head's columns at head_offset. Everything the kernel must not read (other heads' columns,
// the row padding, rows at or past n_ctx, unused blocks) is NaN, so reading it shows up.
struct PagedFixture {
  size_t dim, n_ctx, block_rows, row_stride, head_offset;
  std::vector<float> key_pool, value_pool;
  std::vector<const float*> key_blocks, value_blocks;

  PagedFixture(size_t dim_, size_t n_ctx_, size_t block_rows_, std::mt19937& rng)
      : dim(dim_), n_ctx(n_ctx_), block_rows(block_rows_), row_stride(3 * dim_ + 5),
        head_offset(dim_ + 1) {
    const size_t n_blocks = (n_ctx + block_rows - 1) / block_rows;
    const size_t pool_blocks = n_blocks + 3;
    const size_t block_floats = block_rows * row_stride;
    key_pool.assign(pool_blocks * block_floats, std::numeric_limits<float>::quiet_NaN());
    value_pool = key_pool;
    // Block i of the sequence lives in a shuffled pool slot, as after cache churn.
    std::vector<size_t> slot(pool_blocks);
    std::iota(slot.begin(), slot.end(), 0);
    std::shuffle(slot.begin(), slot.end(), rng);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (size_t b = 0; b < n_blocks; ++b) {
      key_blocks.push_back(&key_pool[slot[b] * block_floats + head_offset]);
      value_blocks.push_back(&value_pool[slot[b] * block_floats + head_offset]);
      for (size_t r = 0; r < block_rows && b * block_rows + r < n_ctx; ++r) {
        float* k = &key_pool[slot[b] * block_floats + r * row_stride + head_offset];
        float* v = &value_pool[slot[b] * block_floats + r * row_stride + head_offset];
        for (size_t d = 0; d < dim; ++d) {
          k[d] = normal(rng);
          v[d] = normal(rng);
        }
      }
    }
  }

  PagedKv view() const { return {key_blocks, value_blocks, block_rows, row_stride}; }
};

std::vector<Isa> isas_of_this_cpu() {
  std::vector<Isa> isas{Isa::Scalar};
  if (best_isa() >= Isa::Avx2) isas.push_back(Isa::Avx2);
  if (best_isa() >= Isa::Avx512) isas.push_back(Isa::Avx512);
  return isas;
}

// Restores the process-wide ISA when a test forced another.
struct IsaGuard {
  Isa saved = active_isa();
  ~IsaGuard() { force_isa(saved); }
};

// Largest |fast - reference| over the group's outputs, for one configuration.
double max_error(Isa isa, size_t dim, size_t group, size_t n_ctx, size_t block_rows,
                 float q_scale, std::mt19937& rng) {
  PagedFixture kv(dim, n_ctx, block_rows, rng);
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
  // the AVX-512 kernel's registers (portable path on every ISA).
  for (Isa isa : isas_of_this_cpu()) {
    for (size_t dim : {8u, 40u, 64u, 80u, 128u, 200u}) {
      for (size_t group : {1u, 3u, 4u, 7u}) {
        for (size_t block_rows : {16u, 5u, 32u}) {
          for (size_t n_ctx : {1u, 4u, 15u, 16u, 17u, 33u, 75u, 130u}) {
            // Values are N(0,1) and outputs convex combinations of them; float rounding
            // of the scores and sums measures below 1e-6 absolute on every path.
            EXPECT_LT(max_error(isa, dim, group, n_ctx, block_rows, 1.0f, rng), 5e-6)
                << isa_name(isa) << " dim " << dim << " group " << group << " block_rows "
                << block_rows << " n_ctx " << n_ctx;
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
    for (size_t dim : {40u, 64u, 128u}) {
      EXPECT_LT(max_error(isa, dim, 3, 75, 16, 30.0f, rng), 1e-4)
          << isa_name(isa) << " dim " << dim;
    }
  }
}

}  // namespace
}  // namespace ragd::kernels
