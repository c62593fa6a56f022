#include "model/gelu_tanh.h"

#include <cmath>

namespace ragd::model {

float gelu_tanh(float x) {
  constexpr float kSqrt2OverPi = 0.79788456080286535588f;
  constexpr float kCubic = 0.044715f;
  const float u = kSqrt2OverPi * x * (1.0f + kCubic * x * x);
  return x / (1.0f + std::exp(-2.0f * u));
}

void geglu_tanh(float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; ++i) gate[i] = gelu_tanh(gate[i]) * up[i];
}

}  // namespace ragd::model
