// Reference quantization of GGML's 256-element "k-quant" super-block types.
//
// Q4_K / Q5_K: 8 sub-blocks of 32, each value = d*sc_j*q - dmin*m_j with 6-bit sc_j, m_j
// and q in 0..15 (0..31 for Q5_K). Q6_K: 16 sub-blocks of 16, value = d*sc_j*(q - 32)
// with int8 sc_j and q in 0..63. Q8_K: the activation format for their dot products.
//
// The quantizers follow ggml's reference search (weighted least squares over a few
// candidate scales), so `ragd quantize` output matches llama-quantize in quality.
#include <algorithm>
#include <cmath>

#include "kernels/kquant_scales.h"
#include "kernels/quants_internal.h"

namespace ragd::kernels::detail {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Asymmetric quantization of x[0..n) to levels 0..nmax with weights w: finds scale and
// min (returned as scale, *neg_min = -min >= 0) minimizing sum w*(scale*L + min - x)^2,
// trying nstep+1 candidate scales around nmax/(max-min) and refining each by least
// squares. L receives the chosen levels; Laux is scratch of n bytes.
float make_qkx2_quants(int n, int nmax, const float* x, const float* w, uint8_t* L,
                       float* neg_min, uint8_t* Laux, float rmin, float rdelta, int nstep) {
  float mn = x[0], mx = x[0];
  float sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;  // the min term only ever subtracts
  if (mx == mn) {
    std::fill(L, L + n, 0);
    *neg_min = -mn;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (mx - mn);
  float scale = 1.0f / iscale;
  float best_err = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * (x[i] - mn)), 0, nmax);
    L[i] = static_cast<uint8_t>(l);
    const float diff = scale * static_cast<float>(l) + mn - x[i];
    best_err += w[i] * diff * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (mx - mn);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - mn)), 0, nmax);
      Laux[i] = static_cast<uint8_t>(l);
      const float fl = static_cast<float>(l);
      sum_l += w[i] * fl;
      sum_l2 += w[i] * fl * fl;
      sum_xl += w[i] * fl * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * static_cast<float>(Laux[i]) + this_min - x[i];
      err += w[i] * diff * diff;
    }
    if (err < best_err) {
      std::copy(Laux, Laux + n, L);
      best_err = err;
      scale = this_scale;
      mn = this_min;
    }
  }
  *neg_min = -mn;
  return scale;
}

// Symmetric quantization of x[0..n) to levels -nmax..nmax-1 (stored as l + nmax in L),
// weighting errors by x^2: tries 19 scales around -nmax/max and keeps the one with the
// best least-squares fit. Returns the scale (negative when the extreme value is positive,
// so that the extreme maps onto -nmax, the level with no positive counterpart).
float make_qx_quants(int n, int nmax, const float* x, int8_t* L) {
  float mx = 0, amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      mx = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(L, L + n, 0);
    return 0.0f;
  }
  auto fit = [&](float iscale, float* sumlx, float* suml2, bool store) {
    *sumlx = 0;
    *suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      if (store) L[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * static_cast<float>(l);
      *suml2 += w * static_cast<float>(l * l);
    }
  };
  float sumlx, suml2;
  fit(-static_cast<float>(nmax) / mx, &sumlx, &suml2, true);
  float scale = suml2 > 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / mx;
    fit(iscale, &sumlx, &suml2, false);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      fit(iscale, &sumlx, &suml2, true);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Shared by Q4_K and Q5_K: picks the 8 sub-block (scale, min) pairs, encodes them as
// 6-bit integers against the super-block d/dmin, then re-derives the levels L[0..256)
// against the *encoded* scales so that rounding of the scales is accounted for.
void quantize_k_scales(const float* x, int nmax, float rmin, int nstep, uint8_t* scales_out,
                       fp16_t* d_out, fp16_t* dmin_out, uint8_t* L) {
  float scales[8], mins[8], weights[32];
  uint8_t Laux[32];
  float max_scale = 0, max_min = 0;
  for (size_t j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (size_t l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (size_t l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  uint8_t ls[8], lm[8];
  for (size_t j = 0; j < 8; ++j) {
    ls[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[j])));
    lm[j] = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[j])));
  }
  pack_k4_scales(ls, lm, scales_out);
  *d_out = f2h(max_scale / 63.0f);
  *dmin_out = f2h(max_min / 63.0f);
  const float d = h2f(*d_out), dmin = h2f(*dmin_out);
  for (size_t j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales_out, &sc, &m);
    const float ds = d * sc;
    if (ds == 0.0f) continue;
    const float dm = dmin * m;
    for (size_t i = 0; i < 32; ++i) {
      L[32 * j + i] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + i] + dm) / ds), 0, nmax));
    }
  }
}

}  // namespace

void quantize_q8_k(const float* x, BlockQ8_K* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float amax = 0, max = 0;
    for (size_t j = 0; j < QK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      y[b] = BlockQ8_K{};
      continue;
    }
    // -127 (not -128) keeps every level symmetric, which the SIMD dot products rely on.
    const float iscale = -127.0f / max;
    for (size_t j = 0; j < QK_K; ++j) {
      y[b].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    }
    for (size_t g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (size_t l = 0; l < 16; ++l) sum += y[b].qs[16 * g + l];
      y[b].bsums[g] = static_cast<int16_t>(sum);
    }
    y[b].d = 1.0f / iscale;
  }
}

void dequantize_q8_k(const BlockQ8_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b, y += QK_K) {
    for (size_t j = 0; j < QK_K; ++j) y[j] = x[b].d * static_cast<float>(x[b].qs[j]);
  }
}

void quantize_q4_k(const float* x, BlockQ4_K* y, size_t n) {
  uint8_t L[QK_K];
  for (size_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    quantize_k_scales(x, 15, -1.0f, 20, y[b].scales, &y[b].d, &y[b].dmin, L);
    // 64 elements per 32 bytes: sub-block 2k in low nibbles, 2k+1 in high nibbles.
    for (size_t j = 0; j < QK_K; j += 64) {
      for (size_t l = 0; l < 32; ++l) {
        y[b].qs[j / 2 + l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      }
    }
  }
}

void dequantize_q4_k(const BlockQ4_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b) {
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (size_t j = 0; j < 8; j += 2, q += 32) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(j, x[b].scales, &sc0, &m0);
      unpack_scale_min_k4(j + 1, x[b].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
      for (size_t l = 0; l < 32; ++l) *y++ = d0 * static_cast<float>(q[l] & 0xF) - min0;
      for (size_t l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] >> 4) - min1;
    }
  }
}

void quantize_q5_k(const float* x, BlockQ5_K* y, size_t n) {
  uint8_t L[QK_K];
  for (size_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    quantize_k_scales(x, 31, -0.5f, 15, y[b].scales, &y[b].d, &y[b].dmin, L);
    // Like Q4_K for the low 4 bits; the fifth bit of element (64k + l) goes to bit 2k of
    // qh[l] and that of element (64k + 32 + l) to bit 2k+1.
    std::fill(y[b].qh, y[b].qh + QK_K / 8, 0);
    for (size_t j = 0, k = 0; j < QK_K; j += 64, ++k) {
      for (size_t l = 0; l < 32; ++l) {
        const uint8_t lo = L[j + l], hi = L[j + l + 32];
        y[b].qs[j / 2 + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
        y[b].qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * k)) | ((hi >> 4) << (2 * k + 1)));
      }
    }
  }
}

void dequantize_q5_k(const BlockQ5_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b) {
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    const uint8_t* ql = x[b].qs;
    for (size_t j = 0, k = 0; j < 8; j += 2, ++k, ql += 32) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(j, x[b].scales, &sc0, &m0);
      unpack_scale_min_k4(j + 1, x[b].scales, &sc1, &m1);
      const float d0 = d * sc0, min0 = dmin * m0, d1 = d * sc1, min1 = dmin * m1;
      for (size_t l = 0; l < 32; ++l) {
        const int q = (ql[l] & 0xF) | (((x[b].qh[l] >> (2 * k)) & 1) << 4);
        *y++ = d0 * static_cast<float>(q) - min0;
      }
      for (size_t l = 0; l < 32; ++l) {
        const int q = (ql[l] >> 4) | (((x[b].qh[l] >> (2 * k + 1)) & 1) << 4);
        *y++ = d1 * static_cast<float>(q) - min1;
      }
    }
  }
}

void quantize_q6_k(const float* x, BlockQ6_K* y, size_t n) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (size_t b = 0; b < n / QK_K; ++b, x += QK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (size_t j = 0; j < QK_K / 16; ++j) {
      scales[j] = make_qx_quants(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      y[b] = BlockQ6_K{};
      continue;
    }
    const float iscale = -128.0f / max_scale;
    y[b].d = f2h(1.0f / iscale);
    for (size_t j = 0; j < QK_K / 16; ++j) {
      y[b].scales[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[j])));
    }
    const float d = h2f(y[b].d);
    for (size_t j = 0; j < QK_K / 16; ++j) {
      const float ds = d * static_cast<float>(y[b].scales[j]);
      if (ds == 0.0f) continue;
      for (size_t i = 0; i < 16; ++i) {
        const int l = std::clamp(nearest_int(x[16 * j + i] / ds), -32, 31);
        L[16 * j + i] = static_cast<int8_t>(l + 32);
      }
    }
    // Per 128 elements: ql[0..64) holds elements l (low nibble) and l+64 (high nibble),
    // for l < 64; qh[l] (l < 32) holds the top 2 bits of elements l, l+32, l+64, l+96.
    uint8_t* ql = y[b].ql;
    uint8_t* qh = y[b].qh;
    for (size_t j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
      for (size_t l = 0; l < 32; ++l) {
        const int q0 = L[j + l], q1 = L[j + l + 32], q2 = L[j + l + 64], q3 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q0 & 0xF) | ((q2 & 0xF) << 4));
        ql[l + 32] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
        qh[l] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) |
                                     ((q3 >> 4) << 6));
      }
    }
  }
}

void dequantize_q6_k(const BlockQ6_K* x, float* y, size_t n) {
  for (size_t b = 0; b < n / QK_K; ++b) {
    const float d = h2f(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (size_t j = 0; j < QK_K; j += 128, ql += 64, qh += 32, sc += 8, y += 128) {
      for (size_t l = 0; l < 32; ++l) {
        // (d * sc) * q, in that order, to round exactly as ggml does.
        const size_t is = l / 16;
        const int q0 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q0);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q1);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q2);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q3);
      }
    }
  }
}

}  // namespace ragd::kernels::detail
