#include "rag/vector_dot.h"

namespace ragd::rag {
namespace {

struct Choice {
  DotKernel fn;
  const char* name;
};

Choice choose() {
  // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
  if (__builtin_cpu_supports("avx512f")) return {dot_avx512, "avx512"};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {dot_avx2, "avx2"};
  return {dot_scalar, "scalar"};
}

const Choice& chosen() {
  static const Choice c = choose();
  return c;
}

}  // namespace

float dot_scalar(const float* a, const float* b, size_t n) {
  // Eight independent partial sums: without -ffast-math the compiler may not reorder one
  // running sum, but it can keep these eight in vector registers.
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (size_t j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

DotKernel dot_kernel() { return chosen().fn; }
const char* dot_kernel_name() { return chosen().name; }

}  // namespace ragd::rag
