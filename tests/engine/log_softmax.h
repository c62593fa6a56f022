// Log-probabilities from logits in double, for the tests that compare ragd's next-token
// distributions with llama.cpp's goldens.
#pragma once

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

namespace ragd::engine::golden {

inline std::vector<double> log_softmax(std::span<const float> logits) {
  const double max = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (float l : logits) sum += std::exp(l - max);
  const double log_z = max + std::log(sum);
  std::vector<double> out(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_z;
  return out;
}

}  // namespace ragd::engine::golden
