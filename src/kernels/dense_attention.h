// Bidirectional attention of one head over a whole sequence, the encoder's (BERT's) case:
//
//   for i < n:  out_i = sum_{j < n} softmax_j(scale * q_i . k_j) * v_j
//
// q, k, v and out are row-major with `stride` floats between rows (a head's head_dim
// columns of a [n x E] projection, read and written in place, no copies). out must not
// overlap q, k or v: rows of out are written while later queries still read theirs.
//
// The AVX2 kernel (head_dim a multiple of 8, at most 64) computes the scores of 4 queries
// at a time against the keys transposed once per call into scratch (keys in lanes), so
// every multiply-add is a full-width FMA with no horizontal sums; then softmax; then the
// weighted sum of value rows, value columns in lanes. Running the two products on the
// general float matmul (a dot product per (query, key) with head_dim = 32 terms, then a
// horizontal sum) spent more time in the sums than in the products. Other CPUs and head
// dims use the reference.
//
// Numerics: float accumulation in key order, max-subtracted softmax; agrees with the
// double-precision reference to float rounding (tests/kernels/dense_attention_test.cpp).
#pragma once

#include <cstddef>
#include <vector>

namespace ragd::kernels {

// `scratch` is resized as needed (about head_dim * n + 4 * n floats); one per thread.
void dense_attention_head(const float* q, const float* k, const float* v, size_t stride, size_t n,
                          size_t head_dim, float scale, float* out, std::vector<float>& scratch);

// The definition the fast path is tested against: plain loops in double precision.
void dense_attention_head_reference(const float* q, const float* k, const float* v, size_t stride,
                                    size_t n, size_t head_dim, float scale, float* out);

}  // namespace ragd::kernels
