// AVX-512 VNNI kernels for single activation rows and batches too small for the weight
// panels (gemm_avx512.cpp), with weights in 32-element blocks (Q4_0 Q4_1 Q5_0 Q5_1),
// against Q8x32 packed activations (see gemm.h). Q8_0 takes the weight panels at every
// batch size (gemm_q8x32_wpanel_avx512.cpp).
//
// One zmm holds a *pair* of blocks (64 elements in element order), so one vpdpbusd does
// 64 multiply-adds: weights as unsigned bytes, activations as signed bytes. Each int32
// lane belongs to exactly one block, so per-block scales are applied lane-wise (scale
// vectors [s0 x8, s1 x8]) and one horizontal sum per output is needed, at the end.
//   offset types (Q4_0 -8, Q5_0 -16): the lane accumulator starts at the
//     activation's aux lane, -c * sum(a in lane), which removes the offset for free.
//   min types (Q4_1, Q5_1): value = d*q + m; the m part needs d_a * sum(a) per block.
//   4-bit types keep each high nibble in place (byte & 0xF0 = 16 * q) instead of shifting
//     it down: that saves a shuffle-port op per pair (the port this code is bound by) and
//     makes lanes 4..7 of every block 16x too large, a per-lane constant that is divided
//     out of the scales (tiles) or of the accumulators at the end (decode).
// Two micro-kernels: decode (one activation row x 4 weight rows, memory-bound) and tiles
// (4 x 4, each weight pair unpacked once for 4 activation rows, compute-bound).
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/simd_avx512.h"

namespace ragd::kernels::detail {
namespace {

inline uint16_t load_u16(const void* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 1 for lanes holding low nibbles, 1/16 for lanes holding high nibbles (x16).
inline __m512 nibble_lane_factor() {
  const float h = 1.0f / 16;
  return _mm512_setr_ps(1, 1, 1, 1, h, h, h, h, 1, 1, 1, 1, h, h, h, h);
}

// Broadcasts 16 bytes of block 0 to 128-bit lanes 0,1 and of block 1 to lanes 2,3 with
// loads only (a masked broadcast merges; no shuffle-port op). Tail: lanes 2,3 zero.
template <bool Tail>
inline __m512i qs16_pair(const uint8_t* qs0, const uint8_t* qs1) {
  if constexpr (Tail) {
    return _mm512_maskz_broadcast_i32x4(0x00FF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0)));
  } else {
    const __m512i z = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs0)));
    return _mm512_mask_broadcast_i32x4(z, 0xFF00, _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs1)));
  }
}

// Nibbles in place: bytes [b0 & 0x0F, b0 & 0xF0, b1 & 0x0F, b1 & 0xF0] per 16-byte lane.
template <bool Tail>
inline __m512i nibbles_x16(const uint8_t* qs0, const uint8_t* qs1) {
  const __m512i mask = _mm512_set_epi64(
      static_cast<long long>(0xF0F0F0F0F0F0F0F0ull), static_cast<long long>(0xF0F0F0F0F0F0F0F0ull),
      0x0F0F0F0F0F0F0F0F, 0x0F0F0F0F0F0F0F0F,
      static_cast<long long>(0xF0F0F0F0F0F0F0F0ull), static_cast<long long>(0xF0F0F0F0F0F0F0F0ull),
      0x0F0F0F0F0F0F0F0F, 0x0F0F0F0F0F0F0F0F);
  return _mm512_and_si512(qs16_pair<Tail>(qs0, qs1), mask);
}

// Nibbles shifted down (element values 0..15), for the 5-bit types that add bit 4.
template <bool Tail>
inline __m512i nibbles(const uint8_t* qs0, const uint8_t* qs1) {
  const __m512i shifts = _mm512_set_epi64(0x0004000400040004, 0x0004000400040004, 0, 0,
                                          0x0004000400040004, 0x0004000400040004, 0, 0);
  return _mm512_and_si512(_mm512_srlv_epi16(qs16_pair<Tail>(qs0, qs1), shifts),
                          _mm512_set1_epi8(0x0F));
}

// Adds 16 to each byte whose fifth bit is set (bit j of each block's 32-bit qh).
template <bool Tail>
inline __m512i add_fifth_bits(__m512i q, const uint8_t* qh0, const uint8_t* qh1) {
  const uint64_t bits = load_u32(qh0) | (Tail ? 0 : static_cast<uint64_t>(load_u32(qh1)) << 32);
  return _mm512_mask_add_epi8(q, _cvtu64_mask64(bits), q, _mm512_set1_epi8(16));
}

struct WQ4_0 {
  using Block = BlockQ4_0;
  static constexpr bool kMin = false, kHiX16 = true;
  template <bool Tail>
  static __m512i unpack(const Block* b) { return nibbles_x16<Tail>(b[0].qs, Tail ? nullptr : b[1].qs); }
};

struct WQ4_1 {
  using Block = BlockQ4_1;
  static constexpr bool kMin = true, kHiX16 = true;
  template <bool Tail>
  static __m512i unpack(const Block* b) { return nibbles_x16<Tail>(b[0].qs, Tail ? nullptr : b[1].qs); }
};

struct WQ5_0 {
  using Block = BlockQ5_0;
  static constexpr bool kMin = false, kHiX16 = false;
  template <bool Tail>
  static __m512i unpack(const Block* b) {
    const __m512i q = nibbles<Tail>(b[0].qs, Tail ? nullptr : b[1].qs);
    return add_fifth_bits<Tail>(q, b[0].qh, Tail ? nullptr : b[1].qh);
  }
};

struct WQ5_1 {
  using Block = BlockQ5_1;
  static constexpr bool kMin = true, kHiX16 = false;
  template <bool Tail>
  static __m512i unpack(const Block* b) {
    const __m512i q = nibbles<Tail>(b[0].qs, Tail ? nullptr : b[1].qs);
    return add_fifth_bits<Tail>(q, b[0].qh, Tail ? nullptr : b[1].qh);
  }
};

// Per-lane scale vector [d0 x8, d1 x8] of a block pair (second absent: zero).
template <typename Block, bool Tail>
inline __m512 d_pair(const Block* b) {
  const uint32_t d1 = Tail ? 0 : load_u16(&b[1].d);
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u16(&b[0].d) | (d1 << 16))));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1),
                               _mm512_castps128_ps512(f));
}

// d and m vectors of a pair of blocks that start with fp16 d, fp16 m.
template <typename Block, bool Tail>
inline void dm_pair(const Block* b, __m512* d, __m512* m) {
  const uint64_t dm1 = Tail ? 0 : load_u32(&b[1].d);
  const __m512 f = _mm512_castps128_ps512(
      _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(load_u32(&b[0].d) | (dm1 << 32)))));
  *d = _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2), f);
  *m = _mm512_permutexvar_ps(_mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3), f);
}

struct ActRow {
  const int8_t* qs;
  const float* dl;
  const void* aux;
};

inline ActRow act_row(const GemmArgs& g, size_t i) {
  const uint8_t* row = g.a + i * g.a_stride;
  return {q8x32_qs(row), q8x32_dl(row, g.cols), q8x32_aux(row, g.cols)};
}

// ---- tiles: R weight rows x C activation rows ---------------------------------------

template <typename W, int R, int C, bool Tail>
[[gnu::always_inline]] inline void tile_step(const typename W::Block* const* wr, const ActRow* act,
                                             size_t p, __m512 (&acc)[R][C]) {
  constexpr __mmask16 kLanes = Tail ? 0x00FF : 0xFFFF;
  __m512i wq[R];
  __m512 wd[R], wm[R];
  for (int r = 0; r < R; ++r) {
    const typename W::Block* b = wr[r] + 2 * p;
    // Batches too small for the weight panels stream their weights from DRAM like
    // decode: 1.3-1.4x faster at n = 2 (Q4_1, Q5_0) with this prefetch.
    prefetch_decode(reinterpret_cast<const char*>(b) + kDecodePrefetchBytes);
    wq[r] = W::template unpack<Tail>(b);
    if constexpr (W::kMin) {
      dm_pair<typename W::Block, Tail>(b, &wd[r], &wm[r]);
    } else {
      wd[r] = d_pair<typename W::Block, Tail>(b);
    }
    if constexpr (W::kHiX16) wd[r] = _mm512_mul_ps(wd[r], nibble_lane_factor());
  }
  for (int c = 0; c < C; ++c) {
    // Full loads of qs are in bounds even for the tail (dl follows qs in the row); the
    // weights' zero upper half makes those bytes contribute nothing.
    const __m512i a = _mm512_loadu_si512(act[c].qs + 64 * p);
    const __m512 da = _mm512_maskz_loadu_ps(kLanes, act[c].dl + 16 * p);
    const void* aux = static_cast<const uint8_t*>(act[c].aux) + 64 * p;
    if constexpr (W::kMin) {
      const __m512 s = _mm512_maskz_loadu_ps(kLanes, aux);
      for (int r = 0; r < R; ++r) {
        const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[r], a);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd[r], da), acc[r][c]);
        acc[r][c] = _mm512_fmadd_ps(wm[r], s, acc[r][c]);
      }
    } else {
      const __m512i corr = _mm512_maskz_loadu_epi32(kLanes, aux);
      for (int r = 0; r < R; ++r) {
        const __m512i dot = _mm512_dpbusd_epi32(corr, wq[r], a);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(wd[r], da), acc[r][c]);
      }
    }
  }
}

template <typename W, int R, int C>
void micro_tile(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / 32;
  const typename W::Block* wr[R];
  for (int k = 0; k < R; ++k) {
    wr[k] = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
  }
  ActRow act[C];
  for (int c = 0; c < C; ++c) act[c] = act_row(g, i + c);
  __m512 acc[R][C];
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) acc[k][c] = _mm512_setzero_ps();
  }
  size_t p = 0;
  for (; 2 * p + 2 <= nb; ++p) tile_step<W, R, C, false>(wr, act, p, acc);
  if (nb & 1) tile_step<W, R, C, true>(wr, act, p, acc);
  for (int k = 0; k < R; ++k) {
    for (int c = 0; c < C; ++c) g.y[(i + c) * g.ldy + r + k] = _mm512_reduce_add_ps(acc[k][c]);
  }
}

template <typename W, int R, int C>
void rows_tile(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  size_t r = r0;
  for (; r + R <= r1; r += R) micro_tile<W, R, C>(g, r, i);
  for (; r < r1; ++r) micro_tile<W, 1, C>(g, r, i);
}

// ---- decode: one activation row, R <= 4 weight rows --------------------------------
//
// With one activation row nothing is reused across rows, so the per-pair scale work is
// what limits speed. The fp16 scales of all R rows' block pair are converted by one
// vcvtph2ps and multiplied by the activation scales in one vmulps; for min types that
// same product also carries m * (d_a * sum(a)) for every row, accumulated by one vaddps
// (those lanes are summed once at the end), so the min costs no per-row op.

template <typename W, int R, bool Tail>
[[gnu::always_inline]] inline void decode_step(const typename W::Block* const* wr,
                                               const ActRow& act, const float* d_or_ds,
                                               size_t p, size_t prefetch_bytes,
                                               __m512 (&acc)[R], __m512& accm) {
  // Decode streams the weights from memory once: prefetch each row's stream into L2
  // (see kDecodePrefetchBytes) so the memory loads overlap the arithmetic.
  for (int k = 0; k < R; ++k) {
    prefetch_decode(reinterpret_cast<const char*>(wr[k] + 2 * p) + prefetch_bytes);
  }
  __m512 scale[R];
  if constexpr (W::kMin) {
    // f = per row [d0, m0, d1, m1]; P = [d_a0, s_a0, d_a1, s_a1] in every 128-bit lane.
    long long v[4] = {0, 0, 0, 0};
    for (int k = 0; k < R; ++k) {
      const uint64_t hi = Tail ? 0 : load_u32(&wr[k][2 * p + 1].d);
      v[k] = static_cast<long long>(load_u32(&wr[k][2 * p].d) | (hi << 32));
    }
    const __m512 f = _mm512_cvtph_ps(_mm256_setr_epi64x(v[0], v[1], v[2], v[3]));
    const __m128 pa = Tail ? _mm_maskz_loadu_ps(0x3, d_or_ds + 4 * p) : _mm_loadu_ps(d_or_ds + 4 * p);
    const __m512 prod = _mm512_mul_ps(f, _mm512_broadcast_f32x4(pa));
    accm = _mm512_add_ps(accm, prod);
    for (int k = 0; k < R; ++k) {
      const int a = 4 * k, b = 4 * k + 2;
      scale[k] = _mm512_permutexvar_ps(
          _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b), prod);
    }
  } else {
    // f = per row [d0, d1]; P = [d_a0, d_a1] repeated.
    int v[4] = {0, 0, 0, 0};
    for (int k = 0; k < R; ++k) {
      const uint32_t hi = Tail ? 0 : load_u16(&wr[k][2 * p + 1].d);
      v[k] = static_cast<int>(load_u16(&wr[k][2 * p].d) | (hi << 16));
    }
    const __m256 f = _mm256_cvtph_ps(_mm_setr_epi32(v[0], v[1], v[2], v[3]));
    const __m128 pa = _mm_maskz_loadu_ps(Tail ? 0x1 : 0x3, d_or_ds + 2 * p);
    const __m256 prod = _mm256_mul_ps(f, _mm256_castpd_ps(_mm256_broadcastsd_pd(_mm_castps_pd(pa))));
    for (int k = 0; k < R; ++k) {
      const int a = 2 * k, b = 2 * k + 1;
      scale[k] = _mm512_permutexvar_ps(
          _mm512_setr_epi32(a, a, a, a, a, a, a, a, b, b, b, b, b, b, b, b),
          _mm512_castps256_ps512(prod));
    }
  }
  const __m512i a = _mm512_loadu_si512(act.qs + 64 * p);
  __m512i init = _mm512_setzero_si512();
  if constexpr (!W::kMin) {
    init = _mm512_maskz_loadu_epi32(Tail ? 0x00FF : 0xFFFF,
                                    static_cast<const uint8_t*>(act.aux) + 64 * p);
  }
  for (int k = 0; k < R; ++k) {
    const __m512i wq = W::template unpack<Tail>(wr[k] + 2 * p);
    const __m512i dot = _mm512_dpbusd_epi32(init, wq, a);
    acc[k] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale[k], acc[k]);
  }
}

template <typename W, int R>
void micro_decode(const GemmArgs& g, size_t r, size_t i) {
  const size_t nb = g.cols / 32;
  const typename W::Block* wr[R];
  for (int k = 0; k < R; ++k) {
    wr[k] = reinterpret_cast<const typename W::Block*>(g.w + (r + k) * g.w_stride);
  }
  const ActRow act = act_row(g, i);
  const uint8_t* row = g.a + i * g.a_stride;
  const float* d_or_ds = W::kMin ? q8x32_ds(row, g.cols) : q8x32_d(row, g.cols);
  __m512 acc[R];
  for (int k = 0; k < R; ++k) acc[k] = _mm512_setzero_ps();
  __m512 accm = _mm512_setzero_ps();
  size_t p = 0;
  constexpr size_t ahead = kDecodePrefetchBytes;
  for (; 2 * p + 2 <= nb; ++p) decode_step<W, R, false>(wr, act, d_or_ds, p, ahead, acc, accm);
  if (nb & 1) decode_step<W, R, true>(wr, act, d_or_ds, p, ahead, acc, accm);
  alignas(64) float m[16];
  _mm512_store_ps(m, accm);
  for (int k = 0; k < R; ++k) {
    if constexpr (W::kHiX16) acc[k] = _mm512_mul_ps(acc[k], nibble_lane_factor());
    float v = _mm512_reduce_add_ps(acc[k]);
    if constexpr (W::kMin) v += m[4 * k + 1] + m[4 * k + 3];
    g.y[i * g.ldy + r + k] = v;
  }
}

template <typename W>
void rows_decode(const GemmArgs& g, size_t r0, size_t r1, size_t i) {
  size_t r = r0;
  for (; r + 4 <= r1; r += 4) micro_decode<W, 4>(g, r, i);
  switch (r1 - r) {
    case 3: micro_decode<W, 3>(g, r, i); break;
    case 2: micro_decode<W, 2>(g, r, i); break;
    case 1: micro_decode<W, 1>(g, r, i); break;
    default: break;
  }
}

// Activation rows in groups of 4 through the tiles; a last 2 or 3 through smaller tiles,
// a last single row through the decode kernel.
template <typename W>
void gemm(const GemmArgs& g, size_t r0, size_t r1, size_t i0, size_t i1) {
  size_t i = i0;
  for (; i + 4 <= i1; i += 4) rows_tile<W, 4, 4>(g, r0, r1, i);
  switch (i1 - i) {
    case 3: rows_tile<W, 4, 3>(g, r0, r1, i); break;
    case 2: rows_tile<W, 4, 2>(g, r0, r1, i); break;
    case 1: rows_decode<W>(g, r0, r1, i); break;
    default: break;
  }
}

}  // namespace

GemmKernel avx512_q8x32_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<WQ4_0>, ActFormat::Q8x32, AuxKind::Corr8Nib};
    case TensorType::Q4_1: return {gemm<WQ4_1>, ActFormat::Q8x32, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<WQ5_0>, ActFormat::Q8x32, AuxKind::Corr16};
    case TensorType::Q5_1: return {gemm<WQ5_1>, ActFormat::Q8x32, AuxKind::MinSum};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
