// AMX-INT8 kernel for batched k-quant products (Q4_K Q5_K Q6_K, row-major), exact: every
// output is bit-identical to the AVX-512 VNNI panel kernel's (gemm_kquant_panel_avx512.cpp)
// and so to the decode kernels', whatever the batch. That is what lets it be the default
// where the bf16 tiles (gemm_amx.cpp) are opt-in.
//
// Why it is exact. The VNNI kernel computes, per weight row, activation row and
// super-block b, two integers and then two float operations in a fixed order:
//   sumi = sum_j sc_j * (sum_{k in j} w_k * (q_k + 128) - 128 * sum_{k in j} w_k)
//   summ = sum_j m_j * sum_{k in j} q_k                        (Q4_K / Q5_K only)
//   acc  = fma(float(sumi), d * da, acc);  acc = fnma(float(summ), dmin * da, acc)
// Integer sums do not depend on their order, so any way of computing the same sumi and
// summ followed by the same two float operations gives the same bits. This kernel gets
// sumi from int8 tiles (TDPBSUD: signed weights x unsigned q + 128, the Q8KP16 panel bytes
// as they are): the sub-block scale cannot stay per sub-block inside a 64-column tile
// product, so it is folded into the weights, split in pieces small enough for int8:
//   sc = sum_i p_i << (kShift * i),  P_i[k] = w_k * p_i(sub-block of k),  |P_i| <= 105
//   sumi = sum_i (P_i . (q + 128)) << (kShift * i)  +  corr,  corr = -128 * sum_k sc w_k
// (Q4_K: two 3-bit pieces of the 6-bit scale; Q5_K: three 2-bit pieces, levels up to 31;
// Q6_K: four 2-bit pieces of the signed 8-bit scale, the top one signed.) Each piece is a
// full-rate 16x16x64 tile product over the whole super-block; summ keeps the VNNI
// kernel's vpdpwssd over the panel's sub-block sums.
//
// Layout: a task's rows are unpacked kMacroRows at a time, kColBlock columns at a time, into
// the piece matrices (A operands, 16 rows x 64 bytes, row stride ws); the activations'
// super-block b, columns 64c.. of a panel are directly a B operand (16 rows of 4-byte groups
// x 16 activation rows, stride 64). The float accumulators live in a per-task buffer as
// [16-row group][panel][weight row][activation row] and are transposed into y at the end.
#include <algorithm>
#include <cstring>

#include "kernels/amx_tiles.h"
#include "kernels/gemm.h"
#include "kernels/kquant_scales.h"
#include "kernels/quants.h"
#include "kernels/scratch_buffer.h"
#include "kernels/simd_avx512.h"
#include "kernels/transpose_avx512.h"

namespace ragd::kernels::detail {
namespace {

// Batches below these sizes stay on the VNNI panel kernels: the unpack into pieces is paid
// per weight row and repaid over the batch, and the three- and four-piece types (Q5_K,
// Q6_K) do two to four times Q4_K's tile work per weight. CPU time per 2048x2048 product
// on the Sapphire Rapids VM (bench_matmul, machine loaded), VNNI vs tiles: Q4_K n=32 1.73
// vs 1.41 ms, n=64 3.10 vs 1.84; Q6_K n=32 2.18 vs 2.63, n=64 3.91 vs 3.25.
constexpr size_t min_rows(int pieces) { return pieces <= 2 ? 32 : 64; }
constexpr size_t kTileRows = 16;
constexpr size_t kMacroRows = 64;
// Columns unpacked at a time: 4 super-blocks keep a macro panel's pieces (<= 4 x 64 x 1 KB)
// and the activations' same columns for a 512-row batch (32 panels x 17 KB) in L2.
constexpr size_t kColBlock = 4 * QK_K;

// Per row and super-block constants of the unpacked weights.
struct RowConsts {
  int32_t corr;      // -128 * sum_k sc(k) * w_k
  float d, dmin;
  int32_t mpair[4];  // m[2p] | m[2p+1] << 16 (Q4_K / Q5_K)
};

// Piece i of scale s: bits [kShift*i, kShift*(i+1)), the last piece carrying the sign.
template <int kPieces, int kShift>
inline int16_t scale_piece(int s, int i) {
  return static_cast<int16_t>(i == kPieces - 1 ? s >> (kShift * i) : (s >> (kShift * i)) & ((1 << kShift) - 1));
}

// Writes 32 weights (16-bit levels w16) with per-16-element scales s_lo (first 16) and s_hi
// (last 16) into the pieces at dst[i * ps] (32 bytes each); returns sum_k sc(k) * w_k.
template <int kPieces, int kShift>
inline int32_t put_pieces32(__m512i w16, int s_lo, int s_hi, int8_t* dst, size_t ps) {
  const __mmask32 hi_half = 0xFFFF0000u;
  for (int i = 0; i < kPieces; ++i) {
    const __m512i p = _mm512_mask_blend_epi16(hi_half, _mm512_set1_epi16(scale_piece<kPieces, kShift>(s_lo, i)),
                                              _mm512_set1_epi16(scale_piece<kPieces, kShift>(s_hi, i)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i * ps),
                        _mm512_cvtepi16_epi8(_mm512_mullo_epi16(w16, p)));
  }
  const __m512i s = _mm512_mask_blend_epi16(hi_half, _mm512_set1_epi16(static_cast<int16_t>(s_lo)),
                                            _mm512_set1_epi16(static_cast<int16_t>(s_hi)));
  return _mm512_reduce_add_epi32(_mm512_madd_epi16(w16, s));
}

// Q4_K and Q5_K: 8 sub-blocks of 32 levels (0..15, or 0..31 with Q5_K's fifth bit).
template <typename Block, int kPieces, int kShift>
void unpack_k4(const Block& b, int8_t* dst, size_t ps, RowConsts& rc, const uint8_t* qh) {
  uint8_t sc[8], m[8];
  unpack_k4_scales(b.scales, sc, m);
  const __m256i low4 = _mm256_set1_epi8(0x0F), one = _mm256_set1_epi8(1);
  __m256i h = qh ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)) : _mm256_setzero_si256();
  int32_t dot = 0;
  for (size_t c = 0; c < 4; ++c) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs + 32 * c));
    __m256i lo = _mm256_and_si256(q, low4);
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
    if (qh) {
      lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h, one), 4));
      hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(h, 1), one), 4));
      h = _mm256_srli_epi16(h, 2);
    }
    dot += put_pieces32<kPieces, kShift>(_mm512_cvtepu8_epi16(lo), sc[2 * c], sc[2 * c], dst + 64 * c, ps);
    dot += put_pieces32<kPieces, kShift>(_mm512_cvtepu8_epi16(hi), sc[2 * c + 1], sc[2 * c + 1], dst + 64 * c + 32, ps);
  }
  rc.corr = -128 * dot;
  rc.d = _cvtsh_ss(b.d);
  rc.dmin = _cvtsh_ss(b.dmin);
  for (size_t p = 0; p < 4; ++p) rc.mpair[p] = m[2 * p] | (m[2 * p + 1] << 16);
}

// Q6_K: 16 sub-blocks of 16 levels -32..31, signed 8-bit scales.
template <int kPieces, int kShift>
void unpack_q6_k(const BlockQ6_K& b, int8_t* dst, size_t ps, RowConsts& rc) {
  const __m256i low4 = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3), bias = _mm256_set1_epi8(32);
  int32_t dot = 0;
  for (size_t h = 0; h < 2; ++h) {
    const __m256i ql0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h));
    const __m256i ql1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.ql + 64 * h + 32));
    const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh + 32 * h));
    const __m256i e[4] = {
        _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, three), 4)),
        _mm256_or_si256(_mm256_and_si256(ql1, low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), three), 4)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), three), 4)),
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), three), 4)),
    };
    for (size_t g = 0; g < 4; ++g) {
      const size_t first = 128 * h + 32 * g;  // element index; sub-blocks first/16, first/16 + 1
      const __m512i w16 = _mm512_cvtepi8_epi16(_mm256_sub_epi8(e[g], bias));
      dot += put_pieces32<kPieces, kShift>(w16, b.scales[first / 16], b.scales[first / 16 + 1], dst + first, ps);
    }
  }
  rc.corr = -128 * dot;
  rc.d = _cvtsh_ss(b.d);
  rc.dmin = 0;
  for (auto& v : rc.mpair) v = 0;
}

struct TQ4_K {
  using Block = BlockQ4_K;
  static constexpr int kPieces = 2, kShift = 3;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, int8_t* dst, size_t ps, RowConsts& rc) {
    unpack_k4<Block, kPieces, kShift>(b, dst, ps, rc, nullptr);
  }
};
struct TQ5_K {
  using Block = BlockQ5_K;
  static constexpr int kPieces = 3, kShift = 2;
  static constexpr bool kMin = true;
  static void unpack(const Block& b, int8_t* dst, size_t ps, RowConsts& rc) {
    unpack_k4<Block, kPieces, kShift>(b, dst, ps, rc, b.qh);
  }
};
struct TQ6_K {
  using Block = BlockQ6_K;
  static constexpr int kPieces = 4, kShift = 2;
  static constexpr bool kMin = false;
  static void unpack(const Block& b, int8_t* dst, size_t ps, RowConsts& rc) {
    unpack_q6_k<kPieces, kShift>(b, dst, ps, rc);
  }
};

// Tiles: two pieces (Q4_K) take two activation panels per pass: B 0-1, A 2, C 3-6 as
// [panel][piece]; three or four pieces take one: B 0, A 1, C 2-5 per piece. (The tile
// intrinsics paste their register numbers into the assembly: they must be literals.)
template <int kPieces>
constexpr int kPanelsPerPass = kPieces <= 2 ? 2 : 1;

// The tile products of one super-block: for 16 weight rows (pieces at a, row stride ws,
// piece stride ps) and kPanelsPerPass activation panels (super-block starts b[p]), into c
// ([panel][piece][16][16] int32).
template <int kPieces>
void superblock_products(const int8_t* a, size_t ws, size_t ps, const uint8_t* const* b, int32_t* c) {
  if constexpr (kPieces == 2) {
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    _tile_zero(6);
    for (size_t chunk = 0; chunk < QK_K / 64; ++chunk) {
      _tile_loadd(0, b[0] + 1024 * chunk, 64);
      _tile_loadd(1, b[1] + 1024 * chunk, 64);
      _tile_loadd(2, a + 64 * chunk, ws);
      _tile_dpbsud(3, 2, 0);
      _tile_dpbsud(5, 2, 1);
      _tile_loadd(2, a + ps + 64 * chunk, ws);
      _tile_dpbsud(4, 2, 0);
      _tile_dpbsud(6, 2, 1);
    }
    _tile_stored(3, c, 64);
    _tile_stored(4, c + 256, 64);
    _tile_stored(5, c + 512, 64);
    _tile_stored(6, c + 768, 64);
  } else {
    static_assert(kPieces == 3 || kPieces == 4);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    if constexpr (kPieces == 4) _tile_zero(5);
    for (size_t chunk = 0; chunk < QK_K / 64; ++chunk) {
      _tile_loadd(0, b[0] + 1024 * chunk, 64);
      _tile_loadd(1, a + 64 * chunk, ws);
      _tile_dpbsud(2, 1, 0);
      _tile_loadd(1, a + ps + 64 * chunk, ws);
      _tile_dpbsud(3, 1, 0);
      _tile_loadd(1, a + 2 * ps + 64 * chunk, ws);
      _tile_dpbsud(4, 1, 0);
      if constexpr (kPieces == 4) {
        _tile_loadd(1, a + 3 * ps + 64 * chunk, ws);
        _tile_dpbsud(5, 1, 0);
      }
    }
    _tile_stored(2, c, 64);
    _tile_stored(3, c + 256, 64);
    _tile_stored(4, c + 512, 64);
    if constexpr (kPieces == 4) _tile_stored(5, c + 768, 64);
  }
}

// acc[m][t] (16 weight rows x 16 activation rows) += super-block b of the VNNI formula,
// from the pieces' products c ([piece][16][16]) and the panel's super-block sbp.
template <typename T>
void superblock_epilogue(const int32_t* c, const RowConsts* rc, const uint8_t* sbp, float* acc) {
  const __m512 da = _mm512_loadu_ps(sbp + 4096);
  __m512i asum[4];
  if constexpr (T::kMin) {
    for (size_t p = 0; p < 4; ++p) asum[p] = _mm512_loadu_si512(sbp + 4160 + 64 * p);
  }
  for (size_t m = 0; m < kTileRows; ++m) {
    __m512i sumi = _mm512_set1_epi32(rc[m].corr);
    for (int i = 0; i < T::kPieces; ++i) {
      sumi = _mm512_add_epi32(sumi, _mm512_slli_epi32(_mm512_load_si512(c + 256 * i + 16 * m), T::kShift * i));
    }
    __m512 accf = _mm512_load_ps(acc + 16 * m);
    accf = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi), _mm512_mul_ps(_mm512_set1_ps(rc[m].d), da), accf);
    if constexpr (T::kMin) {
      __m512i summ = _mm512_setzero_si512();
      for (size_t p = 0; p < 4; ++p) summ = _mm512_dpwssd_epi32(summ, asum[p], _mm512_set1_epi32(rc[m].mpair[p]));
      accf = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(summ), _mm512_mul_ps(_mm512_set1_ps(rc[m].dmin), da), accf);
    }
    _mm512_store_ps(acc + 16 * m, accf);
  }
}

template <typename T>
void gemm_int8_amx(const GemmArgs& args, size_t r0, size_t r1, size_t i0, size_t i1) {
  constexpr int kPanels = kPanelsPerPass<T::kPieces>;
  thread_local ScratchBuffer piece_buf, const_buf, acc_buf;
  const size_t cols = args.cols, nb = cols / QK_K;
  const size_t kc_max = std::min(cols, kColBlock);
  // Piece rows are padded by one cache line so a tile's 16 row loads do not share L1 sets.
  const size_t ws = kc_max + 64, ps = kMacroRows * ws;
  auto* pieces = reinterpret_cast<int8_t*>(piece_buf.get(T::kPieces * ps));
  // consts[b * kMacroRows + r]: super-block b of the column block, macro row r.
  auto* consts = reinterpret_cast<RowConsts*>(const_buf.get(kMacroRows * (kc_max / QK_K) * sizeof(RowConsts)));
  // Tasks cover whole batches (matmul.cpp passes i0 = 0); panels are 16 rows from i0.
  const size_t p_begin = i0 / kPanelRows, p_end = (i1 + kPanelRows - 1) / kPanelRows;
  const size_t panels = p_end - p_begin;
  auto* acc = reinterpret_cast<float*>(acc_buf.get(kMacroRows / kTileRows * panels * 256 * sizeof(float)));
  alignas(64) int32_t c[kPanels * T::kPieces * 256];
  configure_full_tiles();
  for (size_t rb = r0; rb < r1; rb += kMacroRows) {
    const size_t rows = std::min(kMacroRows, r1 - rb);
    const size_t groups = (rows + kTileRows - 1) / kTileRows;
    std::memset(acc, 0, groups * panels * 256 * sizeof(float));
    for (size_t b0 = 0; b0 < nb; b0 += kc_max / QK_K) {
      const size_t bc = std::min(kc_max / QK_K, nb - b0);
      for (size_t r = 0; r < groups * kTileRows; ++r) {
        if (r >= rows) {  // a partial last group multiplies zero rows
          for (int i = 0; i < T::kPieces; ++i) std::memset(pieces + i * ps + r * ws, 0, bc * QK_K);
          for (size_t b = 0; b < bc; ++b) consts[b * kMacroRows + r] = RowConsts{};
          continue;
        }
        const auto* blocks = reinterpret_cast<const typename T::Block*>(args.w + (rb + r) * args.w_stride) + b0;
        for (size_t b = 0; b < bc; ++b) T::unpack(blocks[b], pieces + r * ws + b * QK_K, ps, consts[b * kMacroRows + r]);
      }
      for (size_t p = 0; p < panels; p += kPanels) {
        const size_t np = std::min<size_t>(kPanels, panels - p);
        for (size_t g = 0; g < groups; ++g) {
          for (size_t b = 0; b < bc; ++b) {
            const uint8_t* sb[kPanels];
            for (size_t q = 0; q < kPanels; ++q) {
              // A missing second panel re-reads the first; its products are not used.
              const size_t panel = p_begin + p + std::min(q, np - 1);
              sb[q] = args.a + panel * args.a_stride + (b0 + b) * kPanelSuperBytes;
            }
            superblock_products<T::kPieces>(pieces + g * kTileRows * ws + b * QK_K, ws, ps, sb, c);
            const RowConsts* rc = consts + b * kMacroRows + g * kTileRows;
            for (size_t q = 0; q < np; ++q) {
              superblock_epilogue<T>(c + q * T::kPieces * 256, rc, sb[q], acc + (g * panels + p + q) * 256);
            }
          }
        }
      }
    }
    for (size_t g = 0; g < groups; ++g) {
      const size_t n0 = g * kTileRows, n_w = std::min(kTileRows, rows - n0);
      for (size_t p = 0; p < panels; ++p) {
        const size_t m0 = (p_begin + p) * kPanelRows;
        store_transposed_16x16(acc + (g * panels + p) * 256, args.y + m0 * args.ldy + rb + n0, args.ldy,
                         std::min(m0 + kPanelRows, i1) - m0, n_w);
      }
    }
  }
  _tile_release();
}

}  // namespace

GemmKernel amx_int8_kernel(TensorType type, size_t n, WeightLayout layout) {
  if (layout != WeightLayout::RowMajor) return {};
  auto with = [n](auto traits, GemmFn fn) {
    return n < min_rows(decltype(traits)::kPieces) ? GemmKernel{}
                                                   : GemmKernel{fn, ActFormat::Q8KP16, AuxKind::None, true};
  };
  switch (type) {
    case TensorType::Q4_K: return with(TQ4_K{}, gemm_int8_amx<TQ4_K>);
    case TensorType::Q5_K: return with(TQ5_K{}, gemm_int8_amx<TQ5_K>);
    case TensorType::Q6_K: return with(TQ6_K{}, gemm_int8_amx<TQ6_K>);
    default: return {};
  }
}

}  // namespace ragd::kernels::detail
