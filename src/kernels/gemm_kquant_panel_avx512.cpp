// AVX-512 VNNI batched kernels for the k-quants (Q4_K Q5_K Q6_K) against Q8KP16
// activation panels (see gemm.h). Outer-product scheme with activations in lanes: int32
// lane t is activation row t; weights are unpacked once per row into signed bytes and
// broadcast 4 at a time from memory by vpdpbusd itself; activations are stored q + 128,
// which each sub-block's accumulator cancels by starting at -128 * sum(weights).
// Per sub-block the int32 sum is multiplied by the integer sub-block scale (vpmulld) and
// added to the super-block sum; one cvt + FMA per super-block applies d_w * d_a[t]. The
// Q4_K/Q5_K mins use the panel's per-sub-block activation sums with vpdpwssd (two
// sub-blocks per instruction).
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/kquant_scales.h"
#include "kernels/simd_avx512.h"
#include "kernels/vnni_bcast_avx512.h"

namespace ragd::kernels::detail {
namespace {

inline int32_t sum_bytes_u8(const uint8_t* p, size_t n) {
  int32_t s = 0;
  for (size_t i = 0; i < n; ++i) s += p[i];
  return s;
}

// One weight row, unpacked: signed levels and per-sub-block integer constants.
struct KRow {
  std::vector<int8_t> w;        // cols
  std::vector<int32_t> sc;      // per sub-block
  std::vector<int32_t> corr;    // per sub-block: -128 * sum(w)
  std::vector<int32_t> mpair;   // per super-block x 4: m[2p] | m[2p+1] << 16 (Q4_K/Q5_K)
  std::vector<float> d, dmin;   // per super-block
};

struct KQ4 {
  static constexpr bool kMin = true;
  static constexpr size_t kSub = 32;  // elements per sub-block
  // levels: 0..15 (+16 with Q5_K's fifth bit)
  template <typename Block>
  static void unpack(const Block& b, size_t sb, KRow& row, const uint8_t* qh) {
    uint8_t sc[8], m[8];
    unpack_k4_scales(b.scales, sc, m);
    int8_t* w = &row.w[sb * QK_K];
    for (size_t c = 0; c < 4; ++c) {
      for (size_t l = 0; l < 32; ++l) {
        int lo = b.qs[32 * c + l] & 0xF, hi = b.qs[32 * c + l] >> 4;
        if (qh) {
          lo |= ((qh[l] >> (2 * c)) & 1) << 4;
          hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
        }
        w[64 * c + l] = static_cast<int8_t>(lo);
        w[64 * c + 32 + l] = static_cast<int8_t>(hi);
      }
    }
    for (size_t j = 0; j < 8; ++j) {
      row.sc[sb * 8 + j] = sc[j];
      row.corr[sb * 8 + j] = -128 * sum_bytes_u8(reinterpret_cast<const uint8_t*>(w + 32 * j), 32);
    }
    for (size_t p = 0; p < 4; ++p) row.mpair[sb * 4 + p] = m[2 * p] | (m[2 * p + 1] << 16);
    row.d[sb] = _cvtsh_ss(b.d);
    row.dmin[sb] = _cvtsh_ss(b.dmin);
  }
};

struct PQ4_K : KQ4 {
  using Block = BlockQ4_K;
  static void unpack(const Block& b, size_t sb, KRow& row) { KQ4::unpack(b, sb, row, nullptr); }
};
struct PQ5_K : KQ4 {
  using Block = BlockQ5_K;
  static void unpack(const Block& b, size_t sb, KRow& row) { KQ4::unpack(b, sb, row, b.qh); }
};
struct PQ6_K {
  using Block = BlockQ6_K;
  static constexpr bool kMin = false;
  static constexpr size_t kSub = 16;
  static void unpack(const Block& b, size_t sb, KRow& row) {
    int8_t* w = &row.w[sb * QK_K];
    for (size_t h = 0; h < 2; ++h) {
      const uint8_t* ql = b.ql + 64 * h;
      const uint8_t* qh = b.qh + 32 * h;
      int8_t* q = w + 128 * h;
      for (size_t l = 0; l < 32; ++l) {
        q[l] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
        q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
        q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
        q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
      }
    }
    for (size_t j = 0; j < 16; ++j) {
      row.sc[sb * 16 + j] = b.scales[j];
      int32_t s = 0;
      for (size_t l = 0; l < 16; ++l) s += w[16 * j + l];
      row.corr[sb * 16 + j] = -128 * s;
    }
    row.d[sb] = _cvtsh_ss(b.d);
  }
};

template <typename W>
void unpack_row(const GemmArgs& g, size_t r, KRow& row) {
  const size_t nb = g.cols / QK_K, nsub = QK_K / W::kSub;
  row.w.resize(g.cols);
  row.sc.resize(nb * nsub);
  row.corr.resize(nb * nsub);
  row.mpair.resize(nb * 4);
  row.d.resize(nb);
  row.dmin.resize(nb);
  const auto* blocks = reinterpret_cast<const typename W::Block*>(g.w + r * g.w_stride);
  for (size_t b = 0; b < nb; ++b) W::unpack(blocks[b], b, row);
}

// R weight rows x one panel: out[k][t].
template <typename W, int R>
void panel_micro(const KRow* rows, size_t cols, const uint8_t* panel, float (*out)[16]) {
  constexpr size_t nsub = QK_K / W::kSub, groups = W::kSub / 4;
  const size_t nb = cols / QK_K;
  __m512 accf[R];
  for (int k = 0; k < R; ++k) accf[k] = _mm512_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* sbp = panel + b * kPanelSuperBytes;
    __m512i sumi[R];
    for (int k = 0; k < R; ++k) sumi[k] = _mm512_setzero_si512();
    for (size_t j = 0; j < nsub; ++j) {
      __m512i acc[R];
      for (int k = 0; k < R; ++k) acc[k] = _mm512_set1_epi32(rows[k].corr[b * nsub + j]);
      for (size_t grp = 0; grp < groups; ++grp) {
        const size_t col = W::kSub * j + 4 * grp;
        const __m512i a = _mm512_loadu_si512(sbp + 64 * (col / 4));
        for (int k = 0; k < R; ++k) acc[k] = dpbusd_bcast(acc[k], a, &rows[k].w[b * QK_K + col]);
      }
      for (int k = 0; k < R; ++k) {
        sumi[k] = _mm512_add_epi32(sumi[k], _mm512_mullo_epi32(acc[k], _mm512_set1_epi32(rows[k].sc[b * nsub + j])));
      }
    }
    const __m512 da = _mm512_loadu_ps(sbp + 4096);
    for (int k = 0; k < R; ++k) {
      accf[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[k]), _mm512_mul_ps(_mm512_set1_ps(rows[k].d[b]), da), accf[k]);
    }
    if constexpr (W::kMin) {
      for (int k = 0; k < R; ++k) {
        __m512i summ = _mm512_setzero_si512();
        for (size_t p = 0; p < 4; ++p) {
          summ = _mm512_dpwssd_epi32(summ, _mm512_loadu_si512(sbp + 4160 + 64 * p),
                                     _mm512_set1_epi32(rows[k].mpair[b * 4 + p]));
        }
        accf[k] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(_mm512_set1_ps(rows[k].dmin[b]), da),
                                   accf[k]);
      }
    }
  }
  for (int k = 0; k < R; ++k) _mm512_storeu_ps(out[k], accf[k]);
}

template <typename W, int R>
void panel_rows(const GemmArgs& g, const KRow* rows, size_t r, size_t p0, size_t p1, size_t n) {
  float out[R][16];
  for (size_t p = p0; p < p1; ++p) {
    panel_micro<W, R>(rows, g.cols, g.a + p * g.a_stride, out);
    const size_t count = std::min(kPanelRows, n - p * kPanelRows);
    for (size_t t = 0; t < count; ++t) {
      float* y = g.y + (p * kPanelRows + t) * g.ldy + r;
      for (int k = 0; k < R; ++k) y[k] = out[k][t];
    }
  }
}

template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  constexpr int R = 4;
  constexpr size_t kActBudget = 512 << 10;
  const size_t block = std::max<size_t>(1, kActBudget / g.a_stride);
  thread_local KRow rows[R];
  const size_t p_begin = i0 / kPanelRows, p_end = (i1 + kPanelRows - 1) / kPanelRows;
  for (size_t pb = p_begin; pb < p_end; pb += block) {
    const size_t pe = std::min(p_end, pb + block);
    size_t r = r0;
    for (; r + R <= r1; r += R) {
      for (int k = 0; k < R; ++k) unpack_row<W>(g, r + k, rows[k]);
      panel_rows<W, R>(g, rows, r, pb, pe, i1);
    }
    for (; r < r1; ++r) {
      unpack_row<W>(g, r, rows[0]);
      panel_rows<W, 1>(g, rows, r, pb, pe, i1);
    }
  }
}

}  // namespace

GemmKernel avx512_kquant_panel_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_K: return {gemm<PQ4_K>, ActFormat::Q8KP16, AuxKind::None};
    case TensorType::Q5_K: return {gemm<PQ5_K>, ActFormat::Q8KP16, AuxKind::None};
    case TensorType::Q6_K: return {gemm<PQ6_K>, ActFormat::Q8KP16, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
