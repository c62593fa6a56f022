// AVX-512 versions of the activation quantizers in act_pack.cpp. They produce the same
// bytes as the scalar code (same float operations, round-to-nearest-even conversions),
// which tests/kernels checks, so kernels never see a difference.
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"
#include "kernels/transpose_avx512.h"

namespace ragd::kernels::detail {
namespace {

inline __m512 abs_ps(__m512 v) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff))); }

// Per-lane factor c of the Corr aux kinds (lanes 4..7 of a block are x16 for Corr8Nib).
inline __m256i corr_lanes(AuxKind aux) {
  switch (aux) {
    case AuxKind::Corr8: return _mm256_set1_epi32(-8);
    case AuxKind::Corr8Nib: return _mm256_setr_epi32(-8, -8, -8, -8, -128, -128, -128, -128);
    case AuxKind::Corr16: return _mm256_set1_epi32(-16);
    case AuxKind::Corr128: return _mm256_set1_epi32(-128);
    default: return _mm256_setzero_si256();
  }
}

}  // namespace

void pack_q8x32_avx512(AuxKind aux, const float* x, size_t cols, uint8_t* dst) {
  auto* qs = reinterpret_cast<int8_t*>(dst);
  auto* dl = reinterpret_cast<float*>(dst + cols);
  uint8_t* aux_bytes = dst + 2 * cols;
  auto* dc = reinterpret_cast<float*>(dst + 3 * cols);
  float* ds = dc + cols / 32;
  const __m256i corr = corr_lanes(aux);
  const __m256i ones = _mm256_set1_epi8(1);
  for (size_t b = 0; b < cols / 32; ++b) {
    const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(abs_ps(x0), abs_ps(x1)));
    const float d = amax / 127.0f;
    const float id = amax > 0 ? 127.0f / amax : 0.0f;
    const __m512 vid = _mm512_set1_ps(id);
    const __m128i q0 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)));
    const __m128i q1 = _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(x1, vid)));
    const __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), q);
    const __m256i sum4 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ones, q);
    _mm256_storeu_ps(dl + 8 * b, _mm256_set1_ps(d));
    __m256i lanes;
    if (aux == AuxKind::MinSum) {
      lanes = _mm256_castps_si256(_mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sum4)));
    } else {
      lanes = _mm256_mullo_epi32(sum4, corr);
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(aux_bytes + 32 * b), lanes);
    // Block sum: the 8 lane sums added in int32 (exact).
    const __m128i s = _mm_add_epi32(_mm256_castsi256_si128(sum4), _mm256_extracti128_si256(sum4, 1));
    const __m128i s2 = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    const int32_t sum = _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1)));
    dc[b] = d;
    ds[2 * b] = d;
    ds[2 * b + 1] = d * static_cast<float>(sum);
  }
}

// GGML's Q8_K: per 256, scale by -127 / (the element of largest magnitude, signed). Ties
// in magnitude between a positive and a negative element flip every sign of q and d
// together, so the values (d * q) are the same whichever is picked; the scalar code
// takes the first, and so does this (lowest index among equal magnitudes).
void quantize_q8_k_avx512(const float* x, BlockQ8_K* y, size_t cols) {
  for (size_t b = 0; b < cols / QK_K; ++b, x += QK_K) {
    __m512 vmax = _mm512_setzero_ps();
    for (size_t j = 0; j < QK_K; j += 16) vmax = _mm512_max_ps(vmax, abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = _mm512_reduce_max_ps(vmax);
    if (amax == 0.0f) {
      std::memset(&y[b], 0, sizeof(BlockQ8_K));
      continue;
    }
    float max = 0;
    for (size_t j = 0; j < QK_K; j += 16) {
      const __mmask16 hit = _mm512_cmpeq_ps_mask(abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax));
      if (hit) {
        max = x[j + static_cast<size_t>(__builtin_ctz(hit))];
        break;
      }
    }
    const float iscale = -127.0f / max;
    const __m512 vis = _mm512_set1_ps(iscale);
    for (size_t j = 0; j < QK_K; j += 16) {
      const __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vis, _mm512_loadu_ps(x + j))),
                                         _mm512_set1_epi32(127));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[b].qs + j), _mm512_cvtsepi32_epi8(q));
      y[b].bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    y[b].d = 1.0f / iscale;
  }
}

// Each 32-column step converts the 16 rows to bf16 pairs (one zmm of 16 pair-words per row)
// and transposes them so that one zmm holds a pair of all 16 rows.
void pack_bf16_panel_avx512(const float* x, size_t cols, size_t n_rows, uint8_t* dst) {
  for (size_t c = 0; c < cols; c += 32) {
    __m512i r[16];
    for (size_t t = 0; t < 16; ++t) {
      if (t < n_rows) {
        const float* xt = x + t * cols + c;
        r[t] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(xt + 16), _mm512_loadu_ps(xt));
      } else {
        r[t] = _mm512_setzero_si512();
      }
    }
    transpose16x16_epi32(r);
    for (size_t j = 0; j < 16; ++j) _mm512_storeu_si512(dst + (c / 2 + j) * 64, r[j]);
  }
}

}  // namespace ragd::kernels::detail
