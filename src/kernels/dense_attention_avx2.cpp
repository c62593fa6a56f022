// AVX2 dense (encoder) attention of one head: see dense_attention.h.
//
// Layout of `scratch`: the keys transposed, kt[d * m + j] = k_j[d] for j < n and 0 for the
// padding up to m = n rounded up to 8; then kQueries rows of m scores.
//
// Scores: a tile is kQueries queries x 3 vectors of 8 keys, 12 accumulators; per head
// dimension d three key vectors are loaded and each query's q[d] is broadcast. Values:
// out_i = sum_j p_ij v_j with v_j's head_dim columns in DV vectors, for two queries at a
// time (2 x DV accumulators, DV <= 4) or one (DV up to 8): 16 ymm registers in all.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "kernels/vector_ops.h"

namespace ragd::kernels::detail {
namespace {

constexpr size_t kQueries = 4;

// scores[r * m + j] = scale * q_r . k_j for the R queries at q (rows `stride` apart) and
// keys [j0, j0 + 8 * V).
template <size_t R, size_t V>
inline void score_tile(const float* q, size_t stride, const float* kt, size_t m, size_t dim, size_t j0,
                       __m256 scale, float* scores) {
  __m256 acc[R][V];
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 3
    for (size_t c = 0; c < V; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  for (size_t d = 0; d < dim; ++d) {
    __m256 key[V];
#pragma GCC unroll 3
    for (size_t c = 0; c < V; ++c) key[c] = _mm256_loadu_ps(kt + d * m + j0 + 8 * c);
#pragma GCC unroll 4
    for (size_t r = 0; r < R; ++r) {
      const __m256 qd = _mm256_broadcast_ss(q + r * stride + d);
#pragma GCC unroll 3
      for (size_t c = 0; c < V; ++c) acc[r][c] = _mm256_fmadd_ps(qd, key[c], acc[r][c]);
    }
  }
#pragma GCC unroll 4
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 3
    for (size_t c = 0; c < V; ++c) _mm256_storeu_ps(scores + r * m + j0 + 8 * c, _mm256_mul_ps(acc[r][c], scale));
  }
}

template <size_t R>
void score_rows(const float* q, size_t stride, const float* kt, size_t m, size_t dim, float scale, float* scores) {
  const __m256 s = _mm256_set1_ps(scale);
  size_t j0 = 0;
  for (; j0 + 24 <= m; j0 += 24) score_tile<R, 3>(q, stride, kt, m, dim, j0, s, scores);
  for (; j0 < m; j0 += 8) score_tile<R, 1>(q, stride, kt, m, dim, j0, s, scores);
}

// out rows r < R (stride apart) = sum_{j < n} p[r * m + j] * v_j.
template <size_t R, size_t DV>
void weighted_values(const float* p, size_t m, const float* v, size_t stride, size_t n, float* out) {
  __m256 acc[R][DV];
#pragma GCC unroll 2
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (size_t c = 0; c < DV; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  for (size_t j = 0; j < n; ++j) {
    const float* vj = v + j * stride;
#pragma GCC unroll 2
    for (size_t r = 0; r < R; ++r) {
      const __m256 w = _mm256_broadcast_ss(p + r * m + j);
#pragma GCC unroll 8
      for (size_t c = 0; c < DV; ++c) acc[r][c] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vj + 8 * c), acc[r][c]);
    }
  }
#pragma GCC unroll 2
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (size_t c = 0; c < DV; ++c) _mm256_storeu_ps(out + r * stride + 8 * c, acc[r][c]);
  }
}

template <size_t DV>
void values_for_rows(const float* p, size_t m, size_t rows, const float* v, size_t stride, size_t n, float* out) {
  constexpr size_t kPair = DV <= 4 ? 2 : 1;
  size_t r = 0;
  for (; r + kPair <= rows; r += kPair) weighted_values<kPair, DV>(p + r * m, m, v, stride, n, out + r * stride);
  for (; r < rows; ++r) weighted_values<1, DV>(p + r * m, m, v, stride, n, out + r * stride);
}

using ValuesFn = void (*)(const float*, size_t, size_t, const float*, size_t, size_t, float*);
constexpr ValuesFn kValues[8] = {values_for_rows<1>, values_for_rows<2>, values_for_rows<3>, values_for_rows<4>,
                                 values_for_rows<5>, values_for_rows<6>, values_for_rows<7>, values_for_rows<8>};

}  // namespace

void dense_attention_head_avx2(const float* q, const float* k, const float* v, size_t stride, size_t n,
                               size_t head_dim, float scale, float* out, std::vector<float>& scratch) {
  const size_t m = (n + 7) / 8 * 8;
  scratch.resize(head_dim * m + kQueries * m);
  float* kt = scratch.data();
  float* scores = kt + head_dim * m;
  for (size_t d = 0; d < head_dim; ++d) {
    float* row = kt + d * m;
    for (size_t j = 0; j < n; ++j) row[j] = k[j * stride + d];
    std::fill(row + n, row + m, 0.0f);
  }
  const ValuesFn values = kValues[head_dim / 8 - 1];
  for (size_t i0 = 0; i0 < n; i0 += kQueries) {
    const size_t rows = std::min(kQueries, n - i0);
    const float* qi = q + i0 * stride;
    switch (rows) {
      case 4: score_rows<4>(qi, stride, kt, m, head_dim, scale, scores); break;
      case 3: score_rows<3>(qi, stride, kt, m, head_dim, scale, scores); break;
      case 2: score_rows<2>(qi, stride, kt, m, head_dim, scale, scores); break;
      default: score_rows<1>(qi, stride, kt, m, head_dim, scale, scores); break;
    }
    // The padding keys' scores are left out: softmax and the sum run over the first n.
    for (size_t r = 0; r < rows; ++r) softmax(scores + r * m, n);
    values(scores, m, rows, v, stride, n, out + i0 * stride);
  }
}

}  // namespace ragd::kernels::detail
