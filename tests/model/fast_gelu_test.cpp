// model::gelu_erf (vectorisable erf GELU) against the libm erf form in double.
#include "model/fast_gelu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace ragd::model {
namespace {

TEST(FastGelu, MatchesErfFormWithinFloatPrecision) {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);  // [-20, 20]
  for (float v : {1e-30f, -1e-30f, 0.0f, -0.0f, 1e30f, -1e30f, 88.0f, -88.0f}) x.push_back(v);
  std::vector<float> y = x;
  gelu_erf(y.data(), y.size());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double v = x[i];
    const double want = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    const double err = std::abs(y[i] - want);
    worst = std::max(worst, err / (1e-7 + std::abs(v)));
    ASSERT_LE(err, 2.5e-7 * std::abs(v) + 1e-7) << "x = " << v << " got " << y[i] << " want " << want;
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
}

}  // namespace
}  // namespace ragd::model
