// AVX-512 kernels for float weights (F32, F16, BF16) against float activations.
//
// Weights are widened to fp32 in registers (F16 by vcvtph2ps, BF16 by a 16-bit shift)
// and multiplied with fp32 FMAs, so results differ from the reference only by summation
// order. An R x C tile reuses each widened weight vector for C activation rows.
// Columns need not be a multiple of 16: the last partial vector uses masked loads.
#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {
namespace {

struct WF32 {
  using T = float;
  static __m512 load(const T* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct WF16 {
  using T = fp16_t;
  static __m512 load(const T* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }
};
struct WBF16 {
  using T = bf16_t;
  static __m512 load(const T* p, __mmask16 m) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
  }
};

template <typename W, int R, int C>
[[gnu::always_inline]] inline void step(const typename W::T* const* wr, const float* const* xr, size_t k,
                                        __mmask16 m, __m512 (&acc)[R][C]) {
  __m512 w[R];
  for (int r = 0; r < R; ++r) w[r] = W::load(wr[r] + k, m);
  for (int c = 0; c < C; ++c) {
    const __m512 x = _mm512_maskz_loadu_ps(m, xr[c] + k);
    for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(w[r], x, acc[r][c]);
  }
}

template <typename W, int R, int C>
void micro(const GemmArgs& g, size_t r, size_t i) {
  const typename W::T* wr[R];
  for (int k = 0; k < R; ++k) wr[k] = reinterpret_cast<const typename W::T*>(g.w + (r + k) * g.w_stride);
  const float* xr[C];
  for (int c = 0; c < C; ++c) xr[c] = reinterpret_cast<const float*>(g.a + (i + c) * g.a_stride);
  __m512 acc[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) acc[k][c] = _mm512_setzero_ps();
  }
  size_t k = 0;
  for (; k + 16 <= g.cols; k += 16) {
    if constexpr (C == 1) {
      // Decode streams weights from memory: prefetch ahead (see kDecodePrefetchBytes).
      for (int q = 0; q < R; ++q) {
        prefetch_decode(reinterpret_cast<const char*>(wr[q] + k) + kDecodePrefetchBytes);
      }
    }
    step<W, R, C>(wr, xr, k, 0xFFFF, acc);
  }
  if (k < g.cols) step<W, R, C>(wr, xr, k, static_cast<__mmask16>((1u << (g.cols - k)) - 1), acc);
  for (int q = 0; q < R; ++q) {
    for (int c = 0; c < C; ++c) g.y[(i + c) * g.ldy + r + q] = _mm512_reduce_add_ps(acc[q][c]);
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
  for (; i + 4 <= i1; i += 4) rows<W, 4, 4>(g, r0, r1, i);
  switch (i1 - i) {
    case 3: rows<W, 4, 3>(g, r0, r1, i); break;
    case 2: rows<W, 4, 2>(g, r0, r1, i); break;
    case 1: rows<W, 4, 1>(g, r0, r1, i); break;
    default: break;
  }
}

}  // namespace

GemmKernel avx512_float_kernel(TensorType type) {
  switch (type) {
    case TensorType::F32: return {gemm<WF32>, ActFormat::F32, AuxKind::None};
    case TensorType::F16: return {gemm<WF16>, ActFormat::F32, AuxKind::None};
    case TensorType::BF16: return {gemm<WBF16>, ActFormat::F32, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
