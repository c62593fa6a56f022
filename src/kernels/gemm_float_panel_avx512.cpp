// AVX-512 batched kernels for float weights (F32, F16, BF16) against F32P16 activation
// panels (column k of 16 activation rows in one zmm; see gemm.h).
//
// Outer product: for each column k, every weight w[r][k] (broadcast by the FMA's own
// memory operand) multiplies the panel vector of 16 rows. An 8-row x 2-panel tile does 16
// FMAs per 2 vector loads, so the loop is bound by FMA throughput, not by loads or cache
// bandwidth. F16/BF16 weight rows are widened to fp32 once per row group and panel block.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {
namespace {

struct PF32 {
  using T = float;
  static constexpr bool kDirect = true;  // rows used in place, no widening buffer
  static void widen(const T* src, float* dst, size_t n) { std::copy(src, src + n, dst); }
};
struct PF16 {
  using T = fp16_t;
  static constexpr bool kDirect = false;
  static void widen(const T* src, float* dst, size_t n) {
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
      _mm512_storeu_ps(dst + k, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k))));
    }
    for (; k < n; ++k) dst[k] = _cvtsh_ss(src[k]);
  }
};
struct PBF16 {
  using T = bf16_t;
  static constexpr bool kDirect = false;
  static void widen(const T* src, float* dst, size_t n) {
    size_t k = 0;
    for (; k + 16 <= n; k += 16) {
      const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + k)));
      _mm512_storeu_ps(dst + k, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
    }
    for (; k < n; ++k) {
      const uint32_t bits = static_cast<uint32_t>(src[k]) << 16;
      std::memcpy(&dst[k], &bits, 4);
    }
  }
};

// R weight rows x P panels over all columns: out[r][p][t].
template <int R, int P>
void micro(const float* const* w, const float* panel0, size_t panel_stride_floats, size_t cols,
           float (*out)[2][16]) {
  __m512 acc[R][P];
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
  }
  for (size_t k = 0; k < cols; ++k) {
    __m512 a[P];
    for (int p = 0; p < P; ++p) a[p] = _mm512_loadu_ps(panel0 + p * panel_stride_floats + 16 * k);
    for (int r = 0; r < R; ++r) {
      const __m512 wk = _mm512_set1_ps(w[r][k]);
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(a[p], wk, acc[r][p]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int p = 0; p < P; ++p) _mm512_storeu_ps(out[r][p], acc[r][p]);
  }
}

template <int R, int P>
void tile(const GemmArgs& g, const float* const* w, size_t r, size_t p, size_t n) {
  float out[R][2][16];
  micro<R, P>(w, reinterpret_cast<const float*>(g.a + p * g.a_stride), g.a_stride / sizeof(float),
              g.cols, out);
  for (int q = 0; q < P; ++q) {
    const size_t i0 = (p + q) * kPanelRows;
    const size_t rows = std::min(kPanelRows, n - i0);
    for (size_t t = 0; t < rows; ++t) {
      float* y = g.y + (i0 + t) * g.ldy + r;
      for (int k = 0; k < R; ++k) y[k] = out[k][q][t];
    }
  }
}

template <int R>
void panels(const GemmArgs& g, const float* const* w, size_t r, size_t p0, size_t p1, size_t n) {
  size_t p = p0;
  for (; p + 2 <= p1; p += 2) tile<R, 2>(g, w, r, p, n);
  if (p < p1) tile<R, 1>(g, w, r, p, n);
}

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  constexpr int R = 8;
  constexpr size_t kActBudget = 512 << 10;
  const size_t block = std::max<size_t>(2, kActBudget / g.a_stride);
  thread_local std::vector<float> buf;
  if (!W::kDirect) buf.resize(R * g.cols);
  const size_t p_begin = i0 / kPanelRows, p_end = (i1 + kPanelRows - 1) / kPanelRows;
  for (size_t pb = p_begin; pb < p_end; pb += block) {
    const size_t pe = std::min(p_end, pb + block);
    for (size_t r = r0; r < r1; r += R) {
      const size_t rows = std::min<size_t>(R, r1 - r);
      const float* w[R];
      for (size_t k = 0; k < rows; ++k) {
        const auto* src = reinterpret_cast<const typename W::T*>(g.w + (r + k) * g.w_stride);
        if constexpr (W::kDirect) {
          w[k] = reinterpret_cast<const float*>(src);
        } else {
          W::widen(src, &buf[k * g.cols], g.cols);
          w[k] = &buf[k * g.cols];
        }
      }
      if (rows == R) {
        panels<R>(g, w, r, pb, pe, i1);
      } else {
        for (size_t k = 0; k < rows; ++k) panels<1>(g, w + k, r + k, pb, pe, i1);
      }
    }
  }
}

}  // namespace

GemmKernel avx512_float_panel_kernel(TensorType type) {
  switch (type) {
    case TensorType::F32: return {gemm<PF32>, ActFormat::F32P16, AuxKind::None};
    case TensorType::F16: return {gemm<PF16>, ActFormat::F32P16, AuxKind::None};
    case TensorType::BF16: return {gemm<PBF16>, ActFormat::F32P16, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
