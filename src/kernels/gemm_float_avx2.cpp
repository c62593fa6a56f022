// AVX2 kernels for float weights (F32, F16, BF16) against float activations: weights
// widened to fp32 (vcvtph2ps / 16-bit shift) and fp32 FMAs; an R x C tile reuses each
// widened vector for C activation rows. The last cols % 8 columns are done in scalar.
#include "kernels/gemm.h"
#include "kernels/quants.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

struct WF32 {
  using T = float;
  static __m256 load(const T* p) { return _mm256_loadu_ps(p); }
  static float one(T v) { return v; }
};
struct WF16 {
  using T = fp16_t;
  static __m256 load(const T* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static float one(T v) { return half_to_float(v); }
};
struct WBF16 {
  using T = bf16_t;
  static __m256 load(const T* p) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  }
  static float one(T v) { return bf16_to_fp32(v); }
};

template <typename W, int R, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const typename W::T* wr[R];
  for (int k = 0; k < R; ++k) wr[k] = reinterpret_cast<const typename W::T*>(g.w + (r + k) * g.w_stride);
  const float* xr[C];
  for (int c = 0; c < C; ++c) xr[c] = reinterpret_cast<const float*>(g.a + (i + c) * g.a_stride);
  __m256 acc[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) acc[k][c] = _mm256_setzero_ps();
  }
  size_t col = 0;
  for (; col + 8 <= g.cols; col += 8) {
    __m256 w[R];
    for (int k = 0; k < R; ++k) w[k] = W::load(wr[k] + col);
    for (int c = 0; c < C; ++c) {
      const __m256 x = _mm256_loadu_ps(xr[c] + col);
      for (int k = 0; k < R; ++k) acc[k][c] = _mm256_fmadd_ps(w[k], x, acc[k][c]);
    }
  }
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) {
      float v = hsum(acc[k][c]);
      for (size_t t = col; t < g.cols; ++t) v += W::one(wr[k][t]) * xr[c][t];
      g.y[(i + c) * g.ldy + r + k] = v;
    }
  }
}

template <typename W, int R, int C>
void rows(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  size_t r = r0;
  for (; r + R <= r1; r += R) micro<W, R, C>(g, r, i);
  for (; r < r1; ++r) micro<W, 1, C>(g, r, i);
}

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  size_t i = i0;
  for (; i + 3 <= i1; i += 3) rows<W, 3, 3>(g, r0, r1, i);
  switch (i1 - i) {
    case 2: rows<W, 3, 2>(g, r0, r1, i); break;
    case 1: rows<W, 4, 1>(g, r0, r1, i); break;
    default: break;
  }
}

}  // namespace

GemmKernel avx2_float_kernel(TensorType type) {
  switch (type) {
    case TensorType::F32: return {gemm<WF32>, ActFormat::F32, AuxKind::None};
    case TensorType::F16: return {gemm<WF16>, ActFormat::F32, AuxKind::None};
    case TensorType::BF16: return {gemm<WBF16>, ActFormat::F32, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
