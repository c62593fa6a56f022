// AVX2 kernels for weights in the Interleaved16 layout (interleave.h: Q4_0 Q4_1 Q5_0 Q5_1
// Q8_0) against Q8x32R16 activation panels (gemm.h), for every batch size, decode included.
//
// Weights in lanes: int32 lane r of a ymm is weight row r of one half (8 rows) of a
// 16-row group, so a block's dot product for 8 rows needs no horizontal sums. The layout
// already stores dword j of every row side by side (64 bytes per j, rows 0-7 in the first
// 32), so unpacking is a load and the nibble split. Each 4-byte group of an activation row
// is broadcast and multiplied into all 8 rows with vpmaddubsw (unsigned weight levels x
// signed activations, pairs summed to int16).
//
// Why this shape on AVX2 (no VNNI): vpmaddubsw's int16 results can be summed in int16
// before the one vpmaddwd that widens them, as long as they cannot overflow:
//   Q4_x: levels <= 15, |a| <= 127: a pair <= 3810, all 8 of a block <= 30480 < 32767;
//   Q5_x: levels <= 31: a pair <= 7874, so 4 are summed (<= 31496) per vpmaddwd;
//   Q8_0: |w| <= 128 with the sign moved onto a (sign trick): a pair <= 32512, each is
//         widened on its own.
// A Q4 block for 8 rows and one activation row is then 8 vpmaddubsw + 7 adds + 1 vpmaddwd
// + the float scaling, against ~6 vector ops per row and block for the row-major kernel
// (gemm_q8x32_avx2.cpp) that keeps one block per ymm and needs a horizontal sum per row.
// The unpack (shift, masks) is shared by the C activation rows of a tile.
//
// Offsets and mins (as in gemm_q8x32_wpanel_avx512.cpp): Q4_0 / Q5_0 levels are value + 8
// / + 16, and the int32 dot starts at the panel's Corr aux (-c * sum(a)); Q4_1 / Q5_1 add
// m_w * (d_a * sum(a)) (the MinSum aux) with one FMA per block; Q8_0 is signed, no aux.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/interleave.h"
#include "kernels/quants.h"
#include "kernels/simd_avx2.h"

namespace ragd::kernels::detail {
namespace {

using namespace avx2;

constexpr size_t kGroupRows = kInterleaveRows;  // 16
constexpr size_t kHalfBytes = 32;               // one half of a 64-byte dword vector

inline float load_f32(const uint8_t* p) {
  float v;
  std::memcpy(&v, p, 4);
  return v;
}
inline __m256i widen16(__m256i pairs) { return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)); }

// An interleaved block of a 16-row group (16 * sizeof(Block) bytes) for weights with
// nibbles (Q4_x, Q5_x): qs dwords at 0 (4 vectors of 64 bytes), Q5's qh[16] at 256, then
// d[16] and (with a min) m[16] as fp16.
template <typename B, bool Min, bool Fifth>
struct NibbleType {
  using Block = B;
  static constexpr bool kMin = Min;
  static constexpr bool kOffset = !Min;  // dot starts at the Corr aux
  static constexpr size_t kScales = Fifth ? 320 : 256;

  // Lane r of dots[c] = the int32 dot of weight row r (of half h) with activation row c
  // over the block; act[c] points at row c's 32 quantized bytes. (Assigned rather than
  // accumulated into: C live int32 vectors beside the C int16 sums and the caller's C
  // float accumulators would not fit the 16 ymm registers.)
  template <int C>
  static void dots(const uint8_t* blk, size_t h, const uint8_t* const (&act)[C], __m256i (&dots)[C]) {
    const __m256i low = _mm256_set1_epi8(0x0F);
    [[maybe_unused]] __m256i qh;
    if constexpr (Fifth) qh = load256(blk + 256 + kHalfBytes * h);
    __m256i sum[C];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = load256(blk + 64 * j + kHalfBytes * h);
      __m256i lo = _mm256_and_si256(raw, low);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low);
      if constexpr (Fifth) {
        lo = _mm256_or_si256(lo, fifth_bits(qh, 4 * j));
        hi = _mm256_or_si256(hi, fifth_bits(qh, 16 + 4 * j));
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i plo = _mm256_maddubs_epi16(lo, bcast4(act[c] + 4 * j));
        sum[c] = (j == 0 || (Fifth && j == 2)) ? plo : _mm256_add_epi16(sum[c], plo);
        sum[c] = _mm256_add_epi16(sum[c], _mm256_maddubs_epi16(hi, bcast4(act[c] + 16 + 4 * j)));
        opaque(sum[c]);
        // Q5: widen after two groups (4 products of <= 7874 each), see the header.
        if (Fifth && j == 1) dots[c] = widen16(sum[c]);
        if (j == 3) dots[c] = Fifth ? _mm256_add_epi32(dots[c], widen16(sum[c])) : widen16(sum[c]);
      }
    }
  }

  // 0x10 in byte k of each lane where the lane's qh has bit `first + k` set (first is a
  // multiple of 4). vpshufb copies the qh byte holding those bits into all four bytes, and
  // a compare with each byte's own bit makes the mask: no multiply, so vpmaddubsw keeps
  // the multiply pipe (a vpmulld here took one of its slots per group).
  static __m256i fifth_bits(__m256i qh, int first) {
    const int byte = first / 8;
    const __m256i spread = _mm256_setr_epi32(0x01010101 * byte, 0x01010101 * (4 + byte), 0x01010101 * (8 + byte),
                                             0x01010101 * (12 + byte), 0x01010101 * byte, 0x01010101 * (4 + byte),
                                             0x01010101 * (8 + byte), 0x01010101 * (12 + byte));
    const __m256i bit = _mm256_set1_epi32(static_cast<int>(0x08040201u << (first % 8)));
    const __m256i rep = _mm256_shuffle_epi8(qh, spread);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, bit), bit), _mm256_set1_epi8(0x10));
  }
};
using IQ4_0 = NibbleType<BlockQ4_0, false, false>;
using IQ4_1 = NibbleType<BlockQ4_1, true, false>;
using IQ5_0 = NibbleType<BlockQ5_0, false, true>;
using IQ5_1 = NibbleType<BlockQ5_1, true, true>;

// Q8_0: qs dwords at 0 (8 vectors of 64 bytes), d[16] at 512. Signed weights: the sign
// trick |w| * (a with w's sign) keeps vpmaddubsw's unsigned operand <= 128.
struct IQ8_0 {
  using Block = BlockQ8_0;
  static constexpr bool kMin = false;
  static constexpr bool kOffset = false;
  static constexpr size_t kScales = 512;

  template <int C>
  static void dots(const uint8_t* blk, size_t h, const uint8_t* const (&act)[C], __m256i (&dots)[C]) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) dots[c] = _mm256_setzero_si256();
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      const __m256i w = load256(blk + 64 * j + kHalfBytes * h);
      const __m256i aw = _mm256_sign_epi8(w, w);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const __m256i a = _mm256_sign_epi8(bcast4(act[c] + 4 * j), w);
        dots[c] = _mm256_add_epi32(dots[c], widen16(_mm256_maddubs_epi16(aw, a)));
      }
    }
  }
};

// C activation rows (i0.., all in one panel) x H halves (from half h0) of the 16-row group
// at `group`: y[(i0 + c) * ldy + r + 8 * half + lane]. H = 2 reads each weight line once
// (decode, small tiles); larger tiles take one half at a time to keep their C dot and C
// float accumulators per half in the 16 ymm registers.
template <typename W, int C, int H>
void tile(const GemmArgs& a, const uint8_t* group, size_t r, size_t h0, size_t i0, bool prefetch) {
  constexpr size_t kGroupBlock = kGroupRows * sizeof(typename W::Block);
  const size_t nb = a.cols / 32;
  const uint8_t* panel = a.a + (i0 / kPanelRows) * a.a_stride;
  const size_t t0 = i0 % kPanelRows;
  __m256 acc[H][C];
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) acc[hh][c] = _mm256_setzero_ps();
  }
  const uint8_t* blk = group;
  for (size_t b = 0; b < nb; ++b, blk += kGroupBlock, panel += kPanelBlockBytes) {
    if (prefetch) {
      for (size_t o = 0; o < kGroupBlock; o += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(blk + kDecodePrefetchBytesL1 + o), _MM_HINT_T0);
      }
    }
    const uint8_t* act[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) act[c] = panel + 32 * (t0 + c);
#pragma GCC unroll 2
    for (int hh = 0; hh < H; ++hh) {
      const size_t h = h0 + hh;
      __m256i dot[C];
      W::template dots<C>(blk, h, act, dot);
      const __m256 wd = fp16x8(blk + W::kScales + 16 * h);
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        if constexpr (W::kOffset) {  // Corr aux: -offset * sum(a)
          dot[c] = _mm256_add_epi32(dot[c], bcast4(panel + kPanelAuxOffset + 4 * (t0 + c)));
        }
        const __m256 da = _mm256_set1_ps(load_f32(panel + kPanelScaleOffset + 4 * (t0 + c)));
        acc[hh][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[c]), _mm256_mul_ps(wd, da), acc[hh][c]);
      }
      if constexpr (W::kMin) {
        const __m256 wm = fp16x8(blk + W::kScales + 32 + 16 * h);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) {
          const __m256 sa = _mm256_set1_ps(load_f32(panel + kPanelAuxOffset + 4 * (t0 + c)));
          acc[hh][c] = _mm256_fmadd_ps(wm, sa, acc[hh][c]);
        }
      }
    }
  }
#pragma GCC unroll 2
  for (int hh = 0; hh < H; ++hh) {
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) {
      _mm256_storeu_ps(a.y + (i0 + c) * a.ldy + r + 8 * (h0 + hh), acc[hh][c]);
    }
  }
}

// Activation rows [i0, i1) x one 16-row group, in tiles of 4, 2 or 1 rows that never cross
// a panel boundary. Only the first tile prefetches: it is the one that brings the group's
// weights in from memory, the later ones find them in L1.
template <typename W>
void group_rows(const GemmArgs& a, size_t r, size_t i0, size_t i1) {
  const uint8_t* group = a.w + r * a.w_stride;
  for (size_t i = i0; i < i1;) {
    const bool first = i == i0;
    const size_t left = std::min(i1, (i / kPanelRows + 1) * kPanelRows) - i;
    if (left >= 4) {
      tile<W, 4, 1>(a, group, r, 0, i, first);
      tile<W, 4, 1>(a, group, r, 1, i, false);
      i += 4;
    } else if (left >= 2) {
      tile<W, 2, 2>(a, group, r, 0, i, first);
      i += 2;
    } else {
      tile<W, 1, 2>(a, group, r, 0, i, first);
      i += 1;
    }
  }
}

// Rows [r0, r1) are whole groups: interleaved matrices have rows % 16 == 0 and matmul's
// row chunks are multiples of 16.
template <typename W>
void gemm(const GemmArgs& a, size_t r0, size_t r1, size_t i0, size_t i1) {
  for (size_t r = r0; r < r1; r += kGroupRows) group_rows<W>(a, r, i0, i1);
}

}  // namespace

GemmKernel avx2_interleaved_kernel(TensorType type) {
  switch (type) {
    case TensorType::Q4_0: return {gemm<IQ4_0>, ActFormat::Q8x32R16, AuxKind::Corr8};
    case TensorType::Q4_1: return {gemm<IQ4_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q5_0: return {gemm<IQ5_0>, ActFormat::Q8x32R16, AuxKind::Corr16};
    case TensorType::Q5_1: return {gemm<IQ5_1>, ActFormat::Q8x32R16, AuxKind::MinSum};
    case TensorType::Q8_0: return {gemm<IQ8_0>, ActFormat::Q8x32R16, AuxKind::None};
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
