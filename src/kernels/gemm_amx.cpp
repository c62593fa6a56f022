// AMX kernel for batched products of quantized weights, row-major or Interleaved16
// (prefill, many streams).
//
// Each task dequantizes its weight rows to bf16 once (dequant_bf16.h), a macro panel of up
// to kMacroRows rows by kColBlock columns at a time, and multiplies them against every
// BF16P16 activation panel
// with TDPBF16PS: the weights are the tiles' A operand (16 weight rows x 32 columns, read
// straight from the dequantized rows), the activations the B operand (their packed layout
// is already the pair-interleaved one B needs), so neither side is transposed per product.
// The C tiles come out as [weight row][activation row] and are transposed once per 16x16
// outputs on the way to y.
//
// Tiles: C 0..3 = (weights 0-15 | 16-31) x (activations 0-15 | 16-31), A 4..5, B 6..7.
// Dequantizing costs a few vector operations per weight, repaid over the batch's rows: from
// kMinRows rows on, AMX beat the AVX-512 VNNI kernels on Q4_K/Q6_K (bench_matmul, n=32).
//
// Accuracy: activations and weights are rounded to bf16 (relative error 2^-9 each) and the
// tiles accumulate in fp32, so |y - exact| <= ~2^-8 * sum_k |w_k x_k|: within the bound the
// 8-bit activation kernels already meet (matmul.h).
#include <algorithm>
#include <cstring>

#include "kernels/dequant_bf16.h"
#include "kernels/amx_tiles.h"
#include "kernels/gemm.h"
#include "kernels/scratch_buffer.h"
#include "kernels/simd_avx512.h"
#include "kernels/transpose_avx512.h"

namespace ragd::kernels::detail {
namespace {

constexpr size_t kMinRows = 32;
constexpr size_t kTileRows = 16;
constexpr size_t kStepCols = 32;  // bf16 columns per tile product
// Dequantized rows kept per macro panel: the activations of one 32-row pair are read from
// memory once per macro panel, so larger panels cut that traffic.
constexpr size_t kMacroRows = 128;

// Products of weight rows w (bf16, row stride ws elements) with activation panels b0 (and
// b1) over kc columns, into c: tile (u, g) at c + 256 * (2u + g). With `accumulate` the
// tiles start from c's contents instead of zero (later column blocks).
template <bool TwoWeightTiles, bool TwoActTiles>
void tile_products(const uint16_t* w, size_t ws, size_t kc, const uint8_t* b0, const uint8_t* b1,
                   float* c, bool accumulate) {
  if (accumulate) {
    _tile_loadd(0, c, 64);
    if (TwoActTiles) _tile_loadd(1, c + 256, 64);
    if (TwoWeightTiles) {
      _tile_loadd(2, c + 512, 64);
      if (TwoActTiles) _tile_loadd(3, c + 768, 64);
    }
  } else {
    _tile_zero(0);
    if (TwoActTiles) _tile_zero(1);
    if (TwoWeightTiles) {
      _tile_zero(2);
      if (TwoActTiles) _tile_zero(3);
    }
  }
  const size_t wstride = ws * sizeof(uint16_t);
  for (size_t k = 0; k < kc; k += kStepCols) {
    // One step covers 16 column pairs: 16 rows of 64 bytes of each activation panel.
    const size_t boff = k / 2 * 64;
    _tile_loadd(6, b0 + boff, 64);
    if (TwoActTiles) _tile_loadd(7, b1 + boff, 64);
    _tile_loadd(4, w + k, wstride);
    _tile_dpbf16ps(0, 4, 6);
    if (TwoActTiles) _tile_dpbf16ps(1, 4, 7);
    if (TwoWeightTiles) {
      _tile_loadd(5, w + kTileRows * ws + k, wstride);
      _tile_dpbf16ps(2, 5, 6);
      if (TwoActTiles) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c, 64);
  if (TwoActTiles) _tile_stored(1, c + 256, 64);
  if (TwoWeightTiles) {
    _tile_stored(2, c + 512, 64);
    if (TwoActTiles) _tile_stored(3, c + 768, 64);
  }
}

// Columns of the bf16 panel per block: 128 rows x 2048 columns = 512 KB stays in L2 while
// the activations' same columns stream past it. Wider matrices (ffn_down) are split into
// column blocks whose partial sums wait in the C buffer.
constexpr size_t kColBlock = 2048;

template <TensorType Type, bool Interleaved>
void dequantize_panel(const GemmArgs& args, size_t rb, size_t rows, size_t k0, size_t kc,
                      uint16_t* panel, size_t ws, float* tmp) {
  const size_t skip = row_bytes(Type, k0);  // a row's bytes before column k0
  if constexpr (Interleaved) {
    // Interleaved matrices have rows a multiple of 16 and tasks start at multiples of 32;
    // a group's blocks are in column order, 16 rows' worth per 32 columns.
    for (size_t r = 0; r < rows; r += kTileRows) {
      dequantize_group_bf16_avx512(Type, args.w + (rb + r) * args.w_stride + kTileRows * skip,
                                   kc, panel + r * ws, ws);
    }
  } else {
    for (size_t r = 0; r < rows; ++r) {
      dequantize_row_bf16_avx512(Type, args.w + (rb + r) * args.w_stride + skip, kc,
                                 panel + r * ws, tmp);
    }
  }
}

template <TensorType Type, bool Interleaved>
void gemm_amx(const GemmArgs& args, size_t r0, size_t r1, size_t i0, size_t i1) {
  thread_local ScratchBuffer panel_buf, tmp_buf, acc_buf;
  const size_t cols = args.cols;
  const size_t kc_max = std::min(cols, kColBlock);
  // Panel rows are padded by one cache line so that a tile's 16 row loads fall in
  // different L1 sets (a stride that is a multiple of 4 KB would put them all in one).
  const size_t ws = kc_max + 32;
  auto* panel = reinterpret_cast<uint16_t*>(panel_buf.get(kMacroRows * ws * sizeof(uint16_t)));
  auto* tmp = reinterpret_cast<float*>(tmp_buf.get(kc_max * sizeof(float)));
  const size_t pairs = (i1 - i0 + 2 * kTileRows - 1) / (2 * kTileRows);
  const bool blocked = cols > kc_max;
  // C tiles of every (32-row sub-panel, activation pair) while column blocks accumulate.
  float* acc = blocked ? reinterpret_cast<float*>(acc_buf.get(kMacroRows / 32 * pairs * 1024 * 4))
                       : nullptr;
  alignas(64) float c_local[4 * 256];
  configure_full_tiles();
  for (size_t rb = r0; rb < r1; rb += kMacroRows) {
    const size_t rows = std::min(kMacroRows, r1 - rb);
    const size_t padded = (rows + kTileRows - 1) / kTileRows * kTileRows;
    for (size_t k0 = 0; k0 < cols; k0 += kc_max) {
      const size_t kc = std::min(kc_max, cols - k0);
      const bool last = k0 + kc == cols;
      dequantize_panel<Type, Interleaved>(args, rb, rows, k0, kc, panel, ws, tmp);
      // A partial last tile reads zero rows rather than the previous panel's.
      for (size_t r = rows; r < padded; ++r) std::memset(panel + r * ws, 0, kc * sizeof(uint16_t));
      for (size_t p = 0; p < pairs; ++p) {
        const size_t i = i0 + p * 2 * kTileRows;
        const uint8_t* b0 = args.a + i / kTileRows * args.a_stride + k0 / 2 * 64;
        const bool two_act = i + kTileRows < i1;
        const uint8_t* b1 = two_act ? b0 + args.a_stride : nullptr;
        for (size_t u = 0; u < rows; u += 2 * kTileRows) {
          const bool two_w = u + kTileRows < rows;
          const uint16_t* w = panel + u * ws;
          float* c = blocked ? acc + (u / 32 * pairs + p) * 1024 : c_local;
          const bool accumulate = k0 > 0;
          if (two_w && two_act) tile_products<true, true>(w, ws, kc, b0, b1, c, accumulate);
          else if (two_w) tile_products<true, false>(w, ws, kc, b0, b1, c, accumulate);
          else if (two_act) tile_products<false, true>(w, ws, kc, b0, b1, c, accumulate);
          else tile_products<false, false>(w, ws, kc, b0, b1, c, accumulate);
          if (!last) continue;
          for (size_t wu = 0; wu < (two_w ? 2u : 1u); ++wu) {
            const size_t n0 = u + wu * kTileRows;
            const size_t n_w = std::min(kTileRows, rows - n0);
            for (size_t g = 0; g < (two_act ? 2u : 1u); ++g) {
              const size_t m0 = i + g * kTileRows;
              store_transposed_16x16(c + 256 * (2 * wu + g), args.y + m0 * args.ldy + rb + n0,
                                     args.ldy, std::min(kTileRows, i1 - m0), n_w);
            }
          }
        }
      }
    }
  }
  _tile_release();
}

}  // namespace

GemmKernel amx_kernel(TensorType type, size_t n, WeightLayout layout) {
  if (n < kMinRows) return {};
  auto with = [](GemmFn fn) { return GemmKernel{fn, ActFormat::BF16P16, AuxKind::None, true}; };
  if (layout == WeightLayout::Interleaved16) {
    switch (type) {
      case TensorType::Q4_0: return with(gemm_amx<TensorType::Q4_0, true>);
      case TensorType::Q4_1: return with(gemm_amx<TensorType::Q4_1, true>);
      case TensorType::Q5_0: return with(gemm_amx<TensorType::Q5_0, true>);
      case TensorType::Q5_1: return with(gemm_amx<TensorType::Q5_1, true>);
      case TensorType::Q8_0: return with(gemm_amx<TensorType::Q8_0, true>);
      default: return {};
    }
  }
  switch (type) {
    case TensorType::Q4_0: return with(gemm_amx<TensorType::Q4_0, false>);
    case TensorType::Q4_1: return with(gemm_amx<TensorType::Q4_1, false>);
    case TensorType::Q5_0: return with(gemm_amx<TensorType::Q5_0, false>);
    case TensorType::Q5_1: return with(gemm_amx<TensorType::Q5_1, false>);
    case TensorType::Q8_0: return with(gemm_amx<TensorType::Q8_0, false>);
    case TensorType::Q2_K: return with(gemm_amx<TensorType::Q2_K, false>);
    case TensorType::Q3_K: return with(gemm_amx<TensorType::Q3_K, false>);
    case TensorType::Q4_K: return with(gemm_amx<TensorType::Q4_K, false>);
    case TensorType::Q5_K: return with(gemm_amx<TensorType::Q5_K, false>);
    case TensorType::Q6_K: return with(gemm_amx<TensorType::Q6_K, false>);
    default: return {};
  }
}

size_t amx_chunk_rows(size_t rows, size_t n_threads) {
  // Four tasks per thread balance the load; each task dequantizes only its own rows, so
  // smaller tasks cost no extra work.
  const size_t chunk = (rows + 4 * n_threads - 1) / (4 * n_threads);
  return std::min(rows, std::max<size_t>(32, (chunk + 31) / 32 * 32));
}

}  // namespace ragd::kernels::detail
