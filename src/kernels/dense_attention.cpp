#include "kernels/dense_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"

namespace ragd::kernels {

namespace detail {
// dense_attention_avx2.cpp: head_dim % 8 == 0, head_dim <= 64.
void dense_attention_head_avx2(const float* q, const float* k, const float* v, size_t stride, size_t n,
                               size_t head_dim, float scale, float* out, std::vector<float>& scratch);
}  // namespace detail

void dense_attention_head(const float* q, const float* k, const float* v, size_t stride, size_t n,
                          size_t head_dim, float scale, float* out, std::vector<float>& scratch) {
  if (n == 0) return;
  if (active_isa() >= Isa::Avx2 && head_dim % 8 == 0 && head_dim <= 64) {
    return detail::dense_attention_head_avx2(q, k, v, stride, n, head_dim, scale, out, scratch);
  }
  dense_attention_head_reference(q, k, v, stride, n, head_dim, scale, out);
}

void dense_attention_head_reference(const float* q, const float* k, const float* v, size_t stride,
                                    size_t n, size_t head_dim, float scale, float* out) {
  std::vector<double> p(n), o(head_dim);
  for (size_t i = 0; i < n; ++i) {
    double max = -INFINITY;
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t d = 0; d < head_dim; ++d) s += double(q[i * stride + d]) * k[j * stride + d];
      p[j] = s * scale;
      max = std::max(max, p[j]);
    }
    double sum = 0;
    for (size_t j = 0; j < n; ++j) sum += p[j] = std::exp(p[j] - max);
    std::fill(o.begin(), o.end(), 0.0);
    for (size_t j = 0; j < n; ++j) {
      for (size_t d = 0; d < head_dim; ++d) o[d] += p[j] * v[j * stride + d];
    }
    for (size_t d = 0; d < head_dim; ++d) out[i * stride + d] = static_cast<float>(o[d] / sum);
  }
}

}  // namespace ragd::kernels
