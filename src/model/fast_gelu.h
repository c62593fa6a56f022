// GELU with the exact (erf) form BERT checkpoints are trained with,
//   gelu(x) = 0.5 x (1 + erf(x / sqrt(2))),
// computed with branch-free float arithmetic the compiler vectorises. libm's erff is a
// scalar call of several ns, a sixth of a MiniLM forward pass; this is a few times faster.
// erf uses Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7) with exp(-z^2) from a degree-6
// polynomial after range reduction to 2^k * e^r, |r| <= ln2/2 (relative error ~1e-7), so
// gelu_erf differs from the libm form by less than 2e-7 * |x| + 1e-7.
#pragma once

#include <cstddef>

namespace ragd::model {

// In place: x[i] = gelu(x[i]) for i < n.
void gelu_erf(float* x, size_t n);

}  // namespace ragd::model
