// AVX-512 VNNI kernels for batches (several decode streams stepped together, prompt
// chunks; for Q8_0 single rows too) with weights in 32-element blocks (Q4_0 Q4_1 Q5_0
// Q5_1 Q8_0), against Q8x32R16 activation panels (see gemm.h). Which batch sizes take
// them is decided in gemm_avx512.cpp.
//
// Weights in lanes: int32 lane r of a vector is weight row r of a 16-row group. Each
// group is first unpacked, for all its blocks, into a weight panel (layout below); then
// every activation row of the batch streams past that panel. Per block and activation
// row, 8 vpdpbusd -- the panel's unsigned weight bytes times 4 signed activation bytes
// broadcast from memory ({1to16}) -- give the block's integer dot for all 16 weight rows
// at once, and cvt + mul + FMA apply d_w * d_a (one more FMA adds m_w * d_a * sum(a) for
// the types with a min): ~12 vector ops per 512 multiply-adds, bound by that op count.
// The unpack (a 16x16 dword transpose, nibble split and gathered scales per block) is
// paid once per weight row and shared by the whole batch. With activation rows in the
// lanes instead, every weight row would be unpacked once per 16 activation rows, which
// at decode batches of 8-32 rows costs about as much as the dot products.
//
// Weight panel, per block b of 32 columns (kWBlockBytes = 640 bytes):
//   uint8 q[8][16][4]  q[g][r] = elements 4g..4g+3 of row r's block as unsigned levels:
//                      the nibble (Q4), nibble + 16 * fifth bit (Q5), or q + 128 (Q8_0)
//   float d[16]        row r's block scale
//   float m[16]        row r's block min (Q4_1 Q5_1; unused by the offset types)
// The offset types' unsigned levels are their values plus c (8, 16 or 128): the dot
// accumulator starts at the activation panel's aux, Corr(c) = -c * sum(a), which takes
// c * sum(a) back out in int32 (exact).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"
#include "kernels/vnni_bcast_avx512.h"

namespace ragd::kernels::detail {
namespace {

constexpr size_t kGroupRows = 16;  // weight rows per panel: the int32 lanes of a zmm
constexpr size_t kWBlockBytes = 640;
constexpr size_t kWScaleOffset = 512, kWMinOffset = 576;
// In a Q8x32R16 block, aux[16] follows d[16].
constexpr size_t kActAuxFromScale = kPanelAuxOffset - kPanelScaleOffset;

inline __m128i load128(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}
template <typename T>
inline T load_scalar(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// The 16 weight rows of a group: row r of the group at base + offset[r] (bytes). Rows
// past the task's range repeat its last row, so every load stays inside the matrix;
// their lanes are computed and never stored.
struct GroupRows {
  const uint8_t* base;
  alignas(64) int32_t offset[kGroupRows];
  __m512i offsets() const { return _mm512_load_si512(offset); }
  const uint8_t* row(size_t r, size_t byte) const { return base + offset[r] + byte; }
};

// out[j] lane r = dword j of the 16 bytes at row r's `byte`. Each input vector holds four
// rows r, r+4, r+8, r+12 (one per 128-bit lane); the 4x4 dword transposes within each
// 128-bit lane then leave lane L of out[j] with rows 4L..4L+3, i.e. dword r = row r.
inline void transpose_16x16(const GroupRows& g, size_t byte, __m512i (&out)[4]) {
  __m512i v[4];
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm512_castsi128_si512(load128(g.row(k, byte)));
    v[k] = _mm512_inserti32x4(v[k], load128(g.row(k + 4, byte)), 1);
    v[k] = _mm512_inserti32x4(v[k], load128(g.row(k + 8, byte)), 2);
    v[k] = _mm512_inserti32x4(v[k], load128(g.row(k + 12, byte)), 3);
  }
  const __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
  const __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
  out[0] = _mm512_unpacklo_epi64(t0, t2);
  out[1] = _mm512_unpackhi_epi64(t0, t2);
  out[2] = _mm512_unpacklo_epi64(t1, t3);
  out[3] = _mm512_unpackhi_epi64(t1, t3);
}

// Lane r = the 4 bytes at row r's `byte` (block heads: fp16 d, then fp16 m or qh).
inline __m512i gather_dword(const GroupRows& g, size_t byte) {
  return _mm512_i32gather_epi32(g.offsets(), g.base + byte, 1);
}

inline __m512 fp16_low(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
inline __m512 fp16_high(__m512i v) { return fp16_low(_mm512_srli_epi32(v, 16)); }

// Transposed qs dwords -> q[g] for g = 0..7: low nibbles are elements 4g..4g+3 of the
// block and high nibbles elements 16 + 4g.., i.e. group g + 4.
inline void split_nibbles(const __m512i (&t)[4], __m512i (&q)[8]) {
  const __m512i low = _mm512_set1_epi8(0x0F);
  for (int g = 0; g < 4; ++g) {
    q[g] = _mm512_and_si512(t[g], low);
    q[g + 4] = _mm512_and_si512(_mm512_srli_epi16(t[g], 4), low);
  }
}

// q[g] |= 16 * fifth bit, element e using bit e of the row's qh (lane r = row r's qh).
// (qh >> 4g) & 0xF holds bits b0..b3 for bytes 0..3; the multiply moves bit k to bit
// 8k + 4 (partial products never overlap: k + 4 + 7j is distinct for k, j < 4).
inline void add_fifth_bits(__m512i qh, __m512i (&q)[8]) {
  const __m512i spread = _mm512_set1_epi32(0x02040810), keep = _mm512_set1_epi32(0x10101010);
  for (int g = 0; g < 8; ++g) {
    const __m512i bits = _mm512_and_si512(_mm512_srli_epi32(qh, 4 * g), _mm512_set1_epi32(0xF));
    q[g] = _mm512_or_si512(q[g], _mm512_and_si512(_mm512_mullo_epi32(bits, spread), keep));
  }
}

// Per weight type (L: weights in lanes): block layout and the unpack of one block of a
// 16-row group.
template <typename B, bool Min>
struct NibbleType {
  using Block = B;
  static constexpr bool kMin = Min;
  static constexpr bool kInterleaved = false;
  static void unpack(const GroupRows& g, size_t byte, __m512i (&q)[8], __m512* d, __m512* m) {
    __m512i t[4];
    transpose_16x16(g, byte + offsetof(B, qs), t);
    split_nibbles(t, q);
    if constexpr (requires(B b) { b.qh; }) {
      add_fifth_bits(gather_dword(g, byte + offsetof(B, qh)), q);
    }
    const __m512i head = gather_dword(g, byte);
    *d = fp16_low(head);
    if constexpr (Min) *m = fp16_high(head);
  }
};
using LQ4_0 = NibbleType<BlockQ4_0, false>;
using LQ4_1 = NibbleType<BlockQ4_1, true>;
using LQ5_0 = NibbleType<BlockQ5_0, false>;
using LQ5_1 = NibbleType<BlockQ5_1, true>;

struct LQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  static constexpr bool kInterleaved = false;
  static void unpack(const GroupRows& g, size_t byte, __m512i (&q)[8], __m512* d, __m512*) {
    __m512i lo[4], hi[4];
    transpose_16x16(g, byte + offsetof(Block, qs), lo);
    transpose_16x16(g, byte + offsetof(Block, qs) + 16, hi);
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));  // q + 128
    for (int k = 0; k < 4; ++k) {
      q[k] = _mm512_xor_si512(lo[k], sign);
      q[k + 4] = _mm512_xor_si512(hi[k], sign);
    }
    *d = fp16_low(gather_dword(g, byte));
  }
};

// The same types with weights already in the Interleaved16 layout (interleave.h): block b
// of a 16-row group is 16 * sizeof(Block) bytes at `src`, its qs dwords already
// transposed, so unpacking is loads, the nibble split and the fp16 scale conversion.
inline __m512 fp16x16(const uint8_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

template <typename B, bool Min>
struct INibbleType {
  using Block = B;
  static constexpr bool kMin = Min;
  static constexpr bool kInterleaved = true;
  static void unpack(const uint8_t* src, __m512i (&q)[8], __m512* d, __m512* m) {
    __m512i t[4];
    for (int j = 0; j < 4; ++j) t[j] = _mm512_loadu_si512(src + 64 * j);
    split_nibbles(t, q);
    size_t scales = 256;
    if constexpr (requires(B b) { b.qh; }) {
      add_fifth_bits(_mm512_loadu_si512(src + 256), q);
      scales += 64;
    }
    *d = fp16x16(src + scales);
    if constexpr (Min) *m = fp16x16(src + scales + 32);
  }
};
using IQ4_0 = INibbleType<BlockQ4_0, false>;
using IQ4_1 = INibbleType<BlockQ4_1, true>;
using IQ5_0 = INibbleType<BlockQ5_0, false>;
using IQ5_1 = INibbleType<BlockQ5_1, true>;

struct IQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  static constexpr bool kInterleaved = true;
  static void unpack(const uint8_t* src, __m512i (&q)[8], __m512* d, __m512*) {
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));  // q + 128
    for (int j = 0; j < 8; ++j) q[j] = _mm512_xor_si512(_mm512_loadu_si512(src + 64 * j), sign);
    *d = fp16x16(src + 512);
  }
};

// Prefetches a byte range into L2 in `steps` equal slices, one per call of step(i). The
// unpack reads 16 weight rows at once, block by block, which the hardware prefetchers do
// not run ahead of, and the weights of a batched step come from DRAM (a model's matrices
// together exceed L3). Prefetching the next group while this one is unpacked hides that,
// but only spread out: the same prefetches issued as one burst of 100-250 lines were
// worth nothing (1536 x 576 Q4_1, n = 32, one thread, weights not cached: 290 us per
// matmul unprefetched or burst, 230 us spread, 210 us with the weights in L2);
// presumably the burst overflows the miss queues and the excess is dropped. Into L2, one
// group ahead, is the best measured (bench_matmul smollm2_135m/q4_1/decode_batch32, 2
// threads: 20.2 ms; 2 groups ahead 20.6, T0 22.0, NTA 22.3, the current group 24).
class SpreadPrefetch {
 public:
  SpreadPrefetch(const uint8_t* begin, const uint8_t* end, size_t steps)
      : begin_(reinterpret_cast<uintptr_t>(begin) & ~uintptr_t{63}),
        end_(reinterpret_cast<uintptr_t>(end)) {
    const size_t lines = end_ > begin_ ? (end_ - begin_ + 63) / 64 : 0;
    steps = std::max<size_t>(steps, 1);
    step_bytes_ = (lines + steps - 1) / steps * 64;
  }
  void step(size_t i) const {
    const uintptr_t p0 = begin_ + i * step_bytes_;
    const uintptr_t stop = std::min(end_, p0 + step_bytes_);
    for (uintptr_t p = p0; p < stop; p += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T2);
    }
  }

 private:
  uintptr_t begin_, end_;
  size_t step_bytes_;
};

// Weight rows [r, r + rows) -> weight panel (nb blocks of kWBlockBytes) at dst, while
// prefetching `next` (the next group's rows).
template <typename W>
void unpack_group(const GemmArgs& a, size_t r, size_t rows, uint8_t* dst,
                  const SpreadPrefetch& next) {
  const size_t nb = a.cols / 32;
  auto store = [&](size_t b, const __m512i (&q)[8], __m512 d, __m512 m) {
    uint8_t* blk = dst + b * kWBlockBytes;
    for (int k = 0; k < 8; ++k) _mm512_store_si512(blk + 64 * k, q[k]);
    _mm512_store_ps(blk + kWScaleOffset, d);
    if constexpr (W::kMin) _mm512_store_ps(blk + kWMinOffset, m);
  };
  if constexpr (W::kInterleaved) {  // rows == 16: interleaved matrices have whole groups
    const uint8_t* src = a.w + r * a.w_stride;
    for (size_t b = 0; b < nb; ++b, src += kGroupRows * sizeof(typename W::Block)) {
      next.step(b);
      __m512i q[8];
      __m512 d, m = _mm512_setzero_ps();
      W::unpack(src, q, &d, &m);
      store(b, q, d, m);
    }
  } else {
    GroupRows g;
    g.base = a.w + r * a.w_stride;
    for (size_t k = 0; k < kGroupRows; ++k) {
      g.offset[k] = static_cast<int32_t>(std::min(k, rows - 1) * a.w_stride);
    }
    for (size_t b = 0; b < nb; ++b) {
      next.step(b);
      __m512i q[8];
      __m512 d, m = _mm512_setzero_ps();
      W::unpack(g, b * sizeof(typename W::Block), q, &d, &m);
      store(b, q, d, m);
    }
  }
}

// Activation rows [i, i + C) (within one panel) x the 16 weight rows [r, r + 16) of a
// weight panel: y[(i + c) * ldy + r + lane] for the lanes in `keep`. The C int32 dot
// chains are independent, which hides vpdpbusd's latency; C = 8 keeps 8 dots + 8 sums +
// 3 weight vectors in registers.
template <typename W, int C>
void rows_chunk(const GemmArgs& a, const uint8_t* wpanel, size_t r, __mmask16 keep, size_t i,
                const SpreadPrefetch& next, size_t step0) {
  const uint8_t* act = a.a + (i / kPanelRows) * a.a_stride;
  const size_t t = i % kPanelRows;
  const uint8_t* aq = act + 32 * t;                   // row t's qs in block 0
  const uint8_t* ad = act + kPanelScaleOffset + 4 * t;  // row t's d in block 0
  // The loops over c are unrolled by pragma: otherwise GCC turns the first into a memset
  // and keeps acc in memory, mirroring every update of it to the stack.
  __m512 acc[C];
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  const size_t nb = a.cols / 32;
  for (size_t b = 0; b < nb; ++b, aq += kPanelBlockBytes, ad += kPanelBlockBytes) {
    next.step(step0 + b);
    const uint8_t* wb = wpanel + b * kWBlockBytes;
    __m512i dot[C];
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) {
      if constexpr (W::kMin) {
        dot[c] = _mm512_setzero_si512();
      } else {  // Corr aux: -offset * sum(a)
        dot[c] = _mm512_set1_epi32(load_scalar<int32_t>(ad + kActAuxFromScale + 4 * c));
      }
    }
    for (int g = 0; g < 8; ++g) {
      const __m512i wq = _mm512_load_si512(wb + 64 * g);
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) dot[c] = dpbusd_bcast(dot[c], wq, aq + 32 * c + 4 * g);
    }
    const __m512 wd = _mm512_load_ps(wb + kWScaleOffset);
#pragma GCC unroll 16
    for (int c = 0; c < C; ++c) {
      const float da = load_scalar<float>(ad + 4 * c);
      const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(dot[c]), _mm512_set1_ps(da));
      acc[c] = _mm512_fmadd_ps(x, wd, acc[c]);
    }
    if constexpr (W::kMin) {  // MinSum aux: d_a * sum(a)
      const __m512 wm = _mm512_load_ps(wb + kWMinOffset);
#pragma GCC unroll 16
      for (int c = 0; c < C; ++c) {
        const float sa = load_scalar<float>(ad + kActAuxFromScale + 4 * c);
        acc[c] = _mm512_fmadd_ps(wm, _mm512_set1_ps(sa), acc[c]);
      }
    }
  }
#pragma GCC unroll 16
  for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(a.y + (i + c) * a.ldy + r, keep, acc[c]);
}

// Activation rows [i0, i1) x one weight panel, in chunks of 8, 4, 2, 1 rows that never
// cross an activation panel boundary. `next` spreads its prefetches over the chunks'
// blocks, nb steps per chunk (panel_chunks() of them).
inline size_t panel_chunks(size_t i0, size_t i1) {
  size_t chunks = 0;
  for (size_t i = i0; i < i1; ++chunks) {
    const size_t left = std::min(i1, (i / kPanelRows + 1) * kPanelRows) - i;
    i += left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
  }
  return chunks;
}

template <typename W>
void panel_rows(const GemmArgs& a, const uint8_t* wpanel, size_t r, __mmask16 keep, size_t i0,
                size_t i1, const SpreadPrefetch& next) {
  const size_t nb = a.cols / 32;
  for (size_t i = i0, step = 0; i < i1; step += nb) {
    const size_t left = std::min(i1, (i / kPanelRows + 1) * kPanelRows) - i;
    if (left >= 8) {
      rows_chunk<W, 8>(a, wpanel, r, keep, i, next, step);
      i += 8;
    } else if (left >= 4) {
      rows_chunk<W, 4>(a, wpanel, r, keep, i, next, step);
      i += 4;
    } else if (left >= 2) {
      rows_chunk<W, 2>(a, wpanel, r, keep, i, next, step);
      i += 2;
    } else {
      rows_chunk<W, 1>(a, wpanel, r, keep, i, next, step);
      i += 1;
    }
  }
}

// One activation row (decode) against interleaved weights, without the panel: each block
// of 16 rows is unpacked into registers and used once, so storing it to a panel would
// only add traffic. Decode streams the weights from memory, prefetched into L2 as the
// row kernels do (gemm.h). Two dot chains per block halve the vpdpbusd latency chain.
template <typename W>
void decode_row(const GemmArgs& a, size_t r0, size_t r1, size_t i) {
  const uint8_t* act = a.a + (i / kPanelRows) * a.a_stride;
  const size_t t = i % kPanelRows;
  constexpr size_t kGroupBlock = kGroupRows * sizeof(typename W::Block);
  const size_t nb = a.cols / 32;
  for (size_t r = r0; r < r1; r += kGroupRows) {
    const uint8_t* src = a.w + r * a.w_stride;
    const uint8_t* aq = act + 32 * t;
    const uint8_t* ad = act + kPanelScaleOffset + 4 * t;
    __m512 acc = _mm512_setzero_ps();
    for (size_t b = 0; b < nb; ++b, src += kGroupBlock, aq += kPanelBlockBytes,
                ad += kPanelBlockBytes) {
      for (size_t o = 0; o < kGroupBlock; o += 64) prefetch_decode(src + kDecodePrefetchBytes + o);
      __m512i q[8];
      __m512 d, m = _mm512_setzero_ps();
      W::unpack(src, q, &d, &m);
      __m512i even = _mm512_setzero_si512(), odd = _mm512_setzero_si512();
      if constexpr (!W::kMin) {  // Corr aux: -offset * sum(a)
        even = _mm512_set1_epi32(load_scalar<int32_t>(ad + kActAuxFromScale));
      }
      for (int g = 0; g < 8; g += 2) {
        even = dpbusd_bcast(even, q[g], aq + 4 * g);
        odd = dpbusd_bcast(odd, q[g + 1], aq + 4 * g + 4);
      }
      const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(even, odd)),
                                     _mm512_set1_ps(load_scalar<float>(ad)));
      acc = _mm512_fmadd_ps(x, d, acc);
      if constexpr (W::kMin) {  // MinSum aux: d_a * sum(a)
        acc = _mm512_fmadd_ps(m, _mm512_set1_ps(load_scalar<float>(ad + kActAuxFromScale)), acc);
      }
    }
    _mm512_storeu_ps(a.y + i * a.ldy + r, acc);
  }
}

// Activation rows are taken in blocks of ~512 KB so that a block stays in L2 (1 MB on the
// target) while every weight group of the task streams past it; each group is unpacked
// once per block. Decode batches and 512-token prefills of SmolLM2's 576-column
// matrices are one block.
template <typename W>
void gemm(const GemmArgs& a, size_t r0, size_t r1, size_t i0, size_t i1) {
  if constexpr (W::kInterleaved) {
    if (i1 - i0 == 1) return decode_row<W>(a, r0, r1, i0);
  }
  struct alignas(64) Line {
    uint8_t bytes[64];
  };
  thread_local std::vector<Line> wpanel;  // over-aligned new: 64-byte aligned
  wpanel.resize(a.cols / 32 * kWBlockBytes / sizeof(Line));
  auto* wp = reinterpret_cast<uint8_t*>(wpanel.data());
  constexpr size_t kActBudget = 512 << 10;
  const size_t act_block = std::max<size_t>(1, kActBudget / a.a_stride) * kPanelRows;
  for (size_t ib = i0; ib < i1; ib += act_block) {
    const size_t ie = std::min(i1, ib + act_block);
    const size_t nb = a.cols / 32, dot_steps = nb * panel_chunks(ib, ie);
    for (size_t r = r0; r < r1; r += kGroupRows) {
      const size_t rows = std::min(kGroupRows, r1 - r);
      const size_t next_end = std::max(r + rows, std::min(r1, r + 2 * kGroupRows));
      const uint8_t* next0 = a.w + (r + rows) * a.w_stride;
      const uint8_t* next1 = a.w + next_end * a.w_stride;
      // Row-major groups prefetch the next group while unpacking this one (measured best
      // for them, see SpreadPrefetch). Unpacking interleaved weights is a few loads, so
      // that burst stalled on them (server profile, 32 streams); theirs is spread over
      // the longer dot-product phase instead.
      const SpreadPrefetch none(next0, next0, 1);
      const SpreadPrefetch next(next0, next1, W::kInterleaved ? dot_steps : nb);
      unpack_group<W>(a, r, rows, wp, W::kInterleaved ? none : next);
      panel_rows<W>(a, wp, r, static_cast<__mmask16>((1u << rows) - 1), ib, ie,
                    W::kInterleaved ? next : none);
    }
  }
}

}  // namespace

GemmKernel avx512_q8x32_wpanel_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<LQ4_0>, ActFormat::Q8x32R16, AuxKind::Corr8};
    case TensorType::Q4_1: return {gemm<LQ4_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<LQ5_0>, ActFormat::Q8x32R16, AuxKind::Corr16};
    case TensorType::Q5_1: return {gemm<LQ5_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q8_0: return {gemm<LQ8_0>, ActFormat::Q8x32R16, AuxKind::Corr128};
    default: return {};
  }
}

GemmKernel avx512_interleaved_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<IQ4_0>, ActFormat::Q8x32R16, AuxKind::Corr8};
    case TensorType::Q4_1: return {gemm<IQ4_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<IQ5_0>, ActFormat::Q8x32R16, AuxKind::Corr16};
    case TensorType::Q5_1: return {gemm<IQ5_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q8_0: return {gemm<IQ8_0>, ActFormat::Q8x32R16, AuxKind::Corr128};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
