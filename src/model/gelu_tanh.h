// GELU with the tanh approximation, the activation of Gemma's gated FFN (HF's
// "gelu_pytorch_tanh", ggml's GELU):
//   gelu_tanh(x) = 0.5 x (1 + tanh(u)),  u = sqrt(2/pi) (x + 0.044715 x^3)
// computed as x / (1 + exp(-2u)), the same function (0.5 (1 + tanh u) is the logistic
// sigmoid of 2u) with one exp instead of a tanh; the quotient is exact in the limits
// (x -> -inf gives -0, x -> +inf gives x) where the tanh form needs no special case either.
//
// llama.cpp's CPU backend instead looks the value up in a table indexed by x rounded to
// fp16 (|x| < 10); the two differ by up to ~1e-3 relative, one of the rounding differences
// tests/engine/gemma3_golden_test.cpp's tolerance covers.
#pragma once

#include <cstddef>

namespace ragd::model {

float gelu_tanh(float x);

// In place: gate[i] = gelu_tanh(gate[i]) * up[i] for i < n.
void geglu_tanh(float* gate, const float* up, size_t n);

}  // namespace ragd::model
