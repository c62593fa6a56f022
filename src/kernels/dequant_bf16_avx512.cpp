// AVX-512 dequantization of weight rows to bf16 (see dequant_bf16.h). The AMX kernel calls
// this once per weight row and matmul, so it must cost a small fraction of the row's tile
// products: a few vector operations per 16 weights.
#include "kernels/dequant_bf16.h"

#include <cstring>

#include "kernels/quants.h"
#include "kernels/quants_internal.h"
#include "kernels/simd_avx512.h"
#include "util/error.h"

namespace ragd::kernels::detail {
namespace {

inline void store_bf16x32(uint16_t* out, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(out, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

inline __m512 u8x16_to_ps(__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(v)); }

void q4_k_row(const BlockQ4_K* x, size_t nb, uint16_t* out) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  for (size_t b = 0; b < nb; ++b) {
    const float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
    for (size_t j = 0; j < 8; j += 2, out += 64) {
      uint8_t sc0, m0, sc1, m1;
      unpack_scale_min_k4(j, x[b].scales, &sc0, &m0);
      unpack_scale_min_k4(j + 1, x[b].scales, &sc1, &m1);
      const __m512 d0 = _mm512_set1_ps(d * sc0), min0 = _mm512_set1_ps(dmin * m0);
      const __m512 d1 = _mm512_set1_ps(d * sc1), min1 = _mm512_set1_ps(dmin * m1);
      const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[b].qs + 16 * j));
      const __m256i lo = _mm256_and_si256(q, low4);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
      store_bf16x32(out, _mm512_fmsub_ps(d0, u8x16_to_ps(_mm256_castsi256_si128(lo)), min0),
                    _mm512_fmsub_ps(d0, u8x16_to_ps(_mm256_extracti128_si256(lo, 1)), min0));
      store_bf16x32(out + 32,
                    _mm512_fmsub_ps(d1, u8x16_to_ps(_mm256_castsi256_si128(hi)), min1),
                    _mm512_fmsub_ps(d1, u8x16_to_ps(_mm256_extracti128_si256(hi, 1)), min1));
    }
  }
}

// Q6_K: 16 lanes of one 16-element sub-block share a scale, so each vector takes one.
void q6_k_row(const BlockQ6_K* x, size_t nb, uint16_t* out) {
  const __m512i low4 = _mm512_set1_epi32(0x0F), two = _mm512_set1_epi32(3);
  const __m512i off = _mm512_set1_epi32(32);
  for (size_t b = 0; b < nb; ++b) {
    const float d = h2f(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (size_t j = 0; j < QK_K; j += 128, ql += 64, qh += 32, sc += 8, out += 128) {
      __m512 f[4][2];
      for (size_t half = 0; half < 2; ++half) {
        const size_t l = 16 * half;
        auto load16 = [](const uint8_t* p) {
          return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        };
        const __m512i a = load16(ql + l), c = load16(ql + 32 + l), h = load16(qh + l);
        const __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(a, low4),
                            _mm512_slli_epi32(_mm512_and_si512(h, two), 4)),
            _mm512_or_si512(_mm512_and_si512(c, low4),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), two), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a, 4),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), two), 4)),
            _mm512_or_si512(_mm512_srli_epi32(c, 4), _mm512_slli_epi32(_mm512_srli_epi32(h, 6), 4)),
        };
        for (size_t t = 0; t < 4; ++t) {
          // (d * sc) * q, in that order, as dequantize_q6_k rounds.
          const __m512 scale = _mm512_set1_ps(d * static_cast<float>(sc[half + 2 * t]));
          f[t][half] = _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(q[t], off)));
        }
      }
      for (size_t t = 0; t < 4; ++t) store_bf16x32(out + 32 * t, f[t][0], f[t][1]);
    }
  }
}

void q8_0_row(const BlockQ8_0* x, size_t nb, uint16_t* out) {
  for (size_t b = 0; b < nb; ++b, out += 32) {
    const __m512 d = _mm512_set1_ps(h2f(x[b].d));
    auto load16 = [](const int8_t* p) {
      return _mm512_cvtepi32_ps(
          _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    };
    store_bf16x32(out, _mm512_mul_ps(d, load16(x[b].qs)), _mm512_mul_ps(d, load16(x[b].qs + 16)));
  }
}

// Interleaved16 blocks (interleave.h): row r's dword j of qs at 64j + 4r, then the rows'
// fifth bits (uint32 each, Q5_x), fp16 d[16] and, for the _1 types, fp16 m[16].
template <TensorType Type>
void interleaved_group(const uint8_t* group, size_t cols, uint16_t* out, size_t out_stride) {
  constexpr bool kFifthBit = Type == TensorType::Q5_0 || Type == TensorType::Q5_1;
  constexpr bool kMin = Type == TensorType::Q4_1 || Type == TensorType::Q5_1;
  constexpr size_t kQsBytes = Type == TensorType::Q8_0 ? 32 : 16;
  constexpr size_t kBlockBytes = Type == TensorType::Q4_0   ? sizeof(BlockQ4_0)
                                 : Type == TensorType::Q4_1 ? sizeof(BlockQ4_1)
                                 : Type == TensorType::Q5_0 ? sizeof(BlockQ5_0)
                                 : Type == TensorType::Q5_1 ? sizeof(BlockQ5_1)
                                                            : sizeof(BlockQ8_0);
  constexpr size_t kQhAt = 16 * kQsBytes;
  constexpr size_t kDAt = 16 * (kQsBytes + (kFifthBit ? 4 : 0));
  constexpr size_t kMAt = kDAt + 32;
  // Signed offset of the levels: q - 8 (Q4_0), q - 16 (Q5_0); none for Q8_0 and the _1 types.
  const __m512i level_offset = _mm512_set1_epi32(Type == TensorType::Q4_0   ? 8
                                                 : Type == TensorType::Q5_0 ? 16
                                                                            : 0);
  const __m128i low4 = _mm_set1_epi8(0x0F);
  const __m512i fifth = _mm512_set1_epi32(16);
  const __m128i idx4 = _mm_setr_epi32(0, 16, 32, 48);
  const __m256i idx8 = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
  for (size_t b = 0; b < cols / 32; ++b) {
    const uint8_t* blk = group + b * 16 * kBlockBytes;
    for (size_t r = 0; r < 16; ++r) {
      uint16_t* o = out + r * out_stride + 32 * b;
      uint16_t dh;
      std::memcpy(&dh, blk + kDAt + 2 * r, 2);
      const __m512 d = _mm512_set1_ps(h2f(dh));
      const auto* base = reinterpret_cast<const int*>(blk + 4 * r);
      if constexpr (Type == TensorType::Q8_0) {
        const __m256i q = _mm256_i32gather_epi32(base, idx8, 4);
        auto half = [&](__m128i v) { return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(v)); };
        store_bf16x32(o, _mm512_mul_ps(half(_mm256_castsi256_si128(q)), d),
                      _mm512_mul_ps(half(_mm256_extracti128_si256(q, 1)), d));
      } else {
        const __m128i q = _mm_i32gather_epi32(base, idx4, 4);
        __m512i lo = _mm512_cvtepu8_epi32(_mm_and_si128(q, low4));
        __m512i hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low4));
        if constexpr (kFifthBit) {
          uint32_t qh;
          std::memcpy(&qh, blk + kQhAt + 4 * r, 4);
          lo = _mm512_mask_or_epi32(lo, static_cast<__mmask16>(qh & 0xFFFF), lo, fifth);
          hi = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, fifth);
        }
        __m512 flo = _mm512_cvtepi32_ps(_mm512_sub_epi32(lo, level_offset));
        __m512 fhi = _mm512_cvtepi32_ps(_mm512_sub_epi32(hi, level_offset));
        if constexpr (kMin) {
          uint16_t mh;
          std::memcpy(&mh, blk + kMAt + 2 * r, 2);
          const __m512 m = _mm512_set1_ps(h2f(mh));
          flo = _mm512_fmadd_ps(flo, d, m);
          fhi = _mm512_fmadd_ps(fhi, d, m);
        } else {
          flo = _mm512_mul_ps(flo, d);
          fhi = _mm512_mul_ps(fhi, d);
        }
        store_bf16x32(o, flo, fhi);
      }
    }
  }
}

}  // namespace

void dequantize_group_bf16_avx512(TensorType type, const uint8_t* group, size_t cols,
                                  uint16_t* out, size_t out_stride) {
  switch (type) {
    case TensorType::Q4_0: return interleaved_group<TensorType::Q4_0>(group, cols, out, out_stride);
    case TensorType::Q4_1: return interleaved_group<TensorType::Q4_1>(group, cols, out, out_stride);
    case TensorType::Q5_0: return interleaved_group<TensorType::Q5_0>(group, cols, out, out_stride);
    case TensorType::Q5_1: return interleaved_group<TensorType::Q5_1>(group, cols, out, out_stride);
    case TensorType::Q8_0: return interleaved_group<TensorType::Q8_0>(group, cols, out, out_stride);
    default: fail("no interleaved bf16 dequantization for {}", type_name(type));
  }
}

void dequantize_row_bf16_avx512(TensorType type, const uint8_t* row, size_t cols, uint16_t* out,
                                float* tmp) {
  switch (type) {
    case TensorType::Q4_K:
      return q4_k_row(reinterpret_cast<const BlockQ4_K*>(row), cols / QK_K, out);
    case TensorType::Q6_K:
      return q6_k_row(reinterpret_cast<const BlockQ6_K*>(row), cols / QK_K, out);
    case TensorType::Q8_0:
      return q8_0_row(reinterpret_cast<const BlockQ8_0*>(row), cols / QK8_0, out);
    default: break;
  }
  dequantize_row(type, row, tmp, cols);
  for (size_t k = 0; k < cols; k += 32) {
    store_bf16x32(out + k, _mm512_loadu_ps(tmp + k), _mm512_loadu_ps(tmp + k + 16));
  }
}

}  // namespace ragd::kernels::detail
