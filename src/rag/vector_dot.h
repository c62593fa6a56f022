// Float32 dot product, the inner loop of vector search, with the widest SIMD the CPU
// offers chosen once at run time (AVX-512, AVX2+FMA, else a portable loop). Files
// vector_dot_avx2.cpp / vector_dot_avx512.cpp are compiled with those ISA flags and are
// entered only through dot_kernel() after the CPU has been checked.
#pragma once

#include <cstddef>

namespace ragd::rag {

using DotKernel = float (*)(const float* a, const float* b, size_t n);

// The best kernel for this CPU (resolved on first call, then cached).
DotKernel dot_kernel();
// Name of that kernel: "avx512", "avx2" or "scalar".
const char* dot_kernel_name();

float dot_scalar(const float* a, const float* b, size_t n);
float dot_avx2(const float* a, const float* b, size_t n);
float dot_avx512(const float* a, const float* b, size_t n);

}  // namespace ragd::rag
