// AVX-512 VNNI batched kernels (prefill, many decode streams) for weights in 32-element
// blocks (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0) against Q8x32P16 activation panels (see gemm.h).
//
// Outer-product form: int32 lane t is activation row t of a 16-row panel. A weight row is
// first unpacked once into a small buffer of *signed* bytes (its values with the offset
// applied: q - 8 for Q4_0, ...), its float d and m per block, and per block
// corr = -128 * sum(w). For each block, 8 vpdpbusd -- activations (stored q + 128, the
// unsigned operand) times 4 weight bytes broadcast straight from memory ({1to16}, no
// separate broadcast op) -- start from corr and accumulate the block for 16 rows in
// int32 (corr cancels the +128); one cvt + one FMA then apply d_w * d_a[t]. ~11 vector
// ops per 512 multiply-adds per weight row, against ~4 per 64 in the row-tiled kernel,
// so prefill is bound by vpdpbusd throughput. R weight rows share every activation load.
#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {
namespace {

inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// acc += dot4(a (unsigned), {4 signed bytes at p} broadcast to all lanes). GCC does not
// fold _mm512_set1_epi32(load) into vpdpbusd's embedded-broadcast operand, and a
// separate vpbroadcastd per vpdpbusd costs ~25% here, so the instruction is spelled out.
inline __m512i dpbusd_bcast(__m512i acc, __m512i a, const void* p) {
#if defined(__GNUC__)
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(a), "m"(*static_cast<const uint32_t*>(p)));
  return acc;
#else
  return _mm512_dpbusd_epi32(acc, a, _mm512_set1_epi32(static_cast<int>(load_u32(p))));
#endif
}

// Weight block -> 32 signed bytes in element order, with the type's offset applied.
inline __m256i nibbles_signed(const uint8_t* qs, int8_t offset) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i y = _mm256_inserti128_si256(_mm256_castsi128_si256(x), _mm_srli_epi16(x, 4), 1);
  return _mm256_sub_epi8(_mm256_and_si256(y, _mm256_set1_epi8(0x0F)), _mm256_set1_epi8(offset));
}

// Adds 16 to each element whose fifth bit is set (bit j of the block's 32-bit qh).
inline __m256i fifth_bits(__m256i q, const uint8_t* qh) {
  return _mm256_mask_add_epi8(q, _cvtu32_mask32(load_u32(qh)), q, _mm256_set1_epi8(16));
}

struct PQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kMin = false;
  static __m256i unpack(const Block& b, float* d, float*) {
    *d = _cvtsh_ss(b.d);
    return nibbles_signed(b.qs, 8);
  }
};
struct PQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true;
  static __m256i unpack(const Block& b, float* d, float* m) {
    *d = _cvtsh_ss(b.d);
    *m = _cvtsh_ss(b.m);
    return nibbles_signed(b.qs, 0);
  }
};
struct PQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kMin = false;
  static __m256i unpack(const Block& b, float* d, float*) {
    *d = _cvtsh_ss(b.d);
    return _mm256_sub_epi8(fifth_bits(nibbles_signed(b.qs, 0), b.qh), _mm256_set1_epi8(16));
  }
};
struct PQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true;
  static __m256i unpack(const Block& b, float* d, float* m) {
    *d = _cvtsh_ss(b.d);
    *m = _cvtsh_ss(b.m);
    return fifth_bits(nibbles_signed(b.qs, 0), b.qh);
  }
};
struct PQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  static __m256i unpack(const Block& b, float* d, float*) {
    *d = _cvtsh_ss(b.d);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
  }
};

// Unpacked weight rows of one R-row group.
struct WeightBuf {
  std::vector<int8_t> w;
  std::vector<float> d, m;
  std::vector<int32_t> corr;  // -128 * sum of the block's weights
  void resize(size_t rows, size_t cols) {
    w.resize(rows * cols);
    d.resize(rows * cols / 32);
    m.resize(rows * cols / 32);
    corr.resize(rows * cols / 32);
  }
};

template <typename W>
void unpack_rows(const GemmArgs& g, size_t r, size_t rows, WeightBuf& buf) {
  const size_t nb = g.cols / 32;
  for (size_t k = 0; k < rows; ++k) {
    const auto* blocks = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
    for (size_t b = 0; b < nb; ++b) {
      const size_t j = k * nb + b;
      const __m256i w = W::unpack(blocks[b], &buf.d[j], &buf.m[j]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(&buf.w[k * g.cols + 32 * b]), w);
      // sum(w) via vpdpbusd with unsigned ones, then across the 8 lanes.
      const __m256i s8 = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), w);
      const __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
      const __m128i s2 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
      buf.corr[j] = -128 * _mm_cvtsi128_si32(_mm_add_epi32(s2, _mm_shuffle_epi32(s2, 0xB1)));
    }
  }
}

// R weight rows x one panel: out[k][t] = dot(weight row k, activation row t).
template <typename W, int R>
void panel_micro(const WeightBuf& buf, size_t cols, const uint8_t* panel, float (*out)[16]) {
  const size_t nb = cols / 32;
  __m512 accf[R];
  for (int k = 0; k < R; ++k) accf[k] = _mm512_setzero_ps();
  for (size_t b = 0; b < nb; ++b) {
    const uint8_t* blk = panel + b * kPanelBlockBytes;
    __m512i acc[R];
    for (int k = 0; k < R; ++k) acc[k] = _mm512_set1_epi32(buf.corr[k * nb + b]);
    for (int grp = 0; grp < 8; ++grp) {
      const __m512i a = _mm512_loadu_si512(blk + 64 * grp);
      for (int k = 0; k < R; ++k) {
        acc[k] = dpbusd_bcast(acc[k], a, &buf.w[k * cols + 32 * b + 4 * grp]);
      }
    }
    const __m512 da = _mm512_loadu_ps(blk + 512);
    for (int k = 0; k < R; ++k) {
      const __m512 scale = _mm512_mul_ps(_mm512_set1_ps(buf.d[k * nb + b]), da);
      accf[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[k]), scale, accf[k]);
    }
    if constexpr (W::kMin) {
      const __m512 s = _mm512_loadu_ps(blk + 576);
      for (int k = 0; k < R; ++k) accf[k] = _mm512_fmadd_ps(_mm512_set1_ps(buf.m[k * nb + b]), s, accf[k]);
    }
  }
  for (int k = 0; k < R; ++k) _mm512_storeu_ps(out[k], accf[k]);
}

template <typename W, int R>
void panel_rows(const GemmArgs& g, const WeightBuf& buf, size_t r, size_t p0, size_t p1, size_t n) {
  float out[R][16];
  for (size_t p = p0; p < p1; ++p) {
    panel_micro<W, R>(buf, g.cols, g.a + p * g.a_stride, out);
    const size_t rows = std::min(kPanelRows, n - p * kPanelRows);
    for (size_t t = 0; t < rows; ++t) {
      float* y = g.y + (p * kPanelRows + t) * g.ldy + r;
      for (int k = 0; k < R; ++k) y[k] = out[k][t];
    }
  }
}

// Panels are visited in blocks of ~512 KB so a block stays in L2 (1 MB on the target)
// while every weight row group of the task streams past it; each weight row is unpacked
// once per block, so bigger blocks amortise the unpack better.
template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  constexpr int R = 4;  // 4, 6 and 8 measured the same; 4 keeps register pressure low
  constexpr size_t kActBudget = 512 << 10;
  const size_t kPanelBlock = std::max<size_t>(1, kActBudget / g.a_stride);
  thread_local WeightBuf buf;
  buf.resize(R, g.cols);
  const size_t p_begin = i0 / kPanelRows, p_end = (i1 + kPanelRows - 1) / kPanelRows;
  for (size_t pb = p_begin; pb < p_end; pb += kPanelBlock) {
    const size_t pe = std::min(p_end, pb + kPanelBlock);
    size_t r = r0;
    for (; r + R <= r1; r += R) {
      unpack_rows<W>(g, r, R, buf);
      panel_rows<W, R>(g, buf, r, pb, pe, i1);
    }
    for (; r < r1; ++r) {
      unpack_rows<W>(g, r, 1, buf);
      panel_rows<W, 1>(g, buf, r, pb, pe, i1);
    }
  }
}

}  // namespace

GemmKernel avx512_q8x32_panel_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<PQ4_0>, ActFormat::Q8x32P16, AuxKind::None};
    case TensorType::Q4_1: return {gemm<PQ4_1>, ActFormat::Q8x32P16, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<PQ5_0>, ActFormat::Q8x32P16, AuxKind::None};
    case TensorType::Q5_1: return {gemm<PQ5_1>, ActFormat::Q8x32P16, AuxKind::MinSum};
    case TensorType::Q8_0: return {gemm<PQ8_0>, ActFormat::Q8x32P16, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
