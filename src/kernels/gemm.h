// Internal interface between the matmul driver (matmul.cpp) and the per-ISA kernels.
//
// The driver converts the n activation rows once per call into the format the weight
// type's kernel wants (ActFormat), then hands row ranges of the weight matrix to the
// kernel on each thread. A kernel computes the tile y[i*ldy + r] for r in [r0, r1) and
// i in [i0, i1), reading weight row r at w + r*w_stride and packed activation row i at
// a + i*a_stride.
//
// Packed activation formats (all little-endian, rows padded to 64 bytes):
//   F32    the float rows as given (a_stride = cols * 4).
//   Q8x32  for weights with 32-element blocks. With nb = cols/32:
//            int8  qs[cols]       round(x / d) per block, d = absmax/127
//            float dl[nb * 8]     each block's d repeated 8 times (one per int32 lane
//                                 of a 256-bit integer dot product over the block)
//            int32/float aux[nb * 8]  per group of 4 consecutive qs (lane g of block b):
//                 AuxKind::Corr(c)  int32  -c * sum(qs[4g..4g+4))   (offset weights)
//                 AuxKind::Corr8Nib int32  as Corr(8) for lanes 0..3 of the block and
//                                   Corr(128) for lanes 4..7: Q4_0 kernels that keep the
//                                   high nibbles in place (x16) start from it
//                 AuxKind::MinSum   float  d * sum(qs[4g..4g+4))     (weights with a min)
//            float d[nb]          each block's d, compact
//            float ds[nb * 2]     (d, d * sum(qs)) of each block, interleaved
//          Lanes let SIMD kernels fold per-block constants in without horizontal sums;
//          the compact arrays let the decode kernel scale several weight rows at once.
//   Q8K    GGML's BlockQ8_K array (cols/256 blocks) for the k-quants.
//   Q8x32R16  panels of 16 activation rows for the batched kernels of the 32-element
//          block types, which keep 16 *weight* rows in the int32 lanes of a vector and
//          broadcast 4 bytes of one activation row at a time: rows stay row-major inside
//          each block. Per block b of 32 columns a panel holds kPanelBlockBytes = 640:
//            int8  qs[16][32]     row t's quantized block (signed, as in Q8x32)
//            float d[16]          the rows' block scales
//            int32/float aux[16]  MinSum: float d * sum(q of the row's block);
//                                 Corr(c): int32 -c * sum(q of the row's block)
//          Rows past n in the last panel are all-zero bytes.
//   Q8KP16 panels of 16 rows for the batched k-quant kernels, quantized as Q8_K (one d per
//          256 columns). Per super-block b a panel holds kPanelSuperBytes = 4416 bytes:
//            uint8 qs[64][16][4]  group g (columns 256b+4g..+4) of rows 0..15, q + 128
//            float d[16]
//            int32 asum[4][16]    row t, pair p: int16 sums of q over the 32-element
//                                 sub-blocks 2p (low half) and 2p+1 (high half)
//   F32P16 panels of 16 float activation rows, column-major: float x[cols][16]
//          (rows past n are zero), for the batched float-weight kernels.
//   BF16P16 panels of 16 activation rows for the AMX kernels, in the pair-interleaved
//          layout of a tile's B operand: uint32 x[cols/2][16], word (p, t) holds row t's
//          columns 2p (low half) and 2p+1 (high half) as bf16 (bf16_from_float). Rows
//          past n are zero. cols is a multiple of 32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <immintrin.h>

#include "kernels/matmul.h"

namespace ragd::kernels::detail {

enum class ActFormat { F32, Q8x32, Q8K, Q8x32R16, F32P16, Q8KP16, BF16P16 };

// float -> bf16 as VCVTNE2PS2BF16 rounds: to nearest even, denormal inputs as signed zero,
// NaNs quiet. The scalar reference of every bf16 conversion here.
inline uint16_t bf16_from_float(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

constexpr size_t kPanelRows = 16;
// Decode kernels stream each weight row from memory once and prefetch every row stream
// kDecodePrefetchBytes ahead with prefetch_decode() (so do the row tiles of small
// batches, which read each weight row once per 4 activation rows). The prefetch goes to L2 (T2 hint),
// not L1. Measured on the target (Zen 4, bench_matmul smollm2_135m decode, one thread):
// F16 25 -> 13 ms, Q8_0 17 -> 13.5 ms, Q4_0 6.9 -> 5.2 ms per token; NTA is as slow as
// T0. Likely cause: a T0 prefetch holds one of the few L1 miss buffers until its line
// arrives, capping one core's stream; L2 has many more misses in flight. The distance
// must cover DRAM latency at that rate: 2 KB is too short, 8-16 KB is flat.
constexpr size_t kDecodePrefetchBytes = 8192;
inline void prefetch_decode(const void* p) {
  _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T2);
}
// The AVX2 decode kernels (CPUs without AVX-512) were not re-measured with L2 prefetch:
// they keep their L1 (T0) prefetch at this distance.
constexpr size_t kDecodePrefetchBytesL1 = 4096;
constexpr size_t kPanelBlockBytes = 640;
// Where a Q8x32R16 block's d[16] and aux[16] start (after qs[16][32]).
constexpr size_t kPanelScaleOffset = kPanelRows * 32;
constexpr size_t kPanelAuxOffset = kPanelScaleOffset + kPanelRows * 4;
static_assert(kPanelAuxOffset + kPanelRows * 4 == kPanelBlockBytes);
constexpr size_t kPanelSuperBytes = 4416;

// What Q8x32's aux lanes hold: the kernels for Q4_0 / Q5_0 / Q8_0 read weights as
// unsigned q + c and subtract c * sum(a) by starting their int32 accumulator at aux.
enum class AuxKind : uint8_t { None, Corr8, Corr8Nib, Corr16, Corr128, MinSum };

// The c of a Corr aux (the offset the weight kernel adds to its signed levels); 0 for the
// kinds without one.
constexpr int32_t corr_factor(AuxKind aux) {
  switch (aux) {
    case AuxKind::Corr8: case AuxKind::Corr8Nib: return 8;
    case AuxKind::Corr16: return 16;
    case AuxKind::Corr128: return 128;
    default: return 0;
  }
}

struct GemmArgs {
  const uint8_t* w;
  size_t w_stride;
  size_t cols;
  const uint8_t* a;
  size_t a_stride;
  float* y;
  size_t ldy;
};

using GemmFn = void (*)(const GemmArgs& args, size_t r0, size_t r1, size_t i0, size_t i1);

struct GemmKernel {
  GemmFn fn = nullptr;  // nullptr: this ISA has no kernel for the type
  ActFormat act = ActFormat::F32;
  AuxKind aux = AuxKind::None;
  bool tiles = false;  // an AMX kernel: tasks of amx_chunk_rows rows
};

// Kernels for a weight type and a batch of n activation rows (batches may get a
// different, panel-based kernel).
GemmKernel scalar_kernel(TensorType type);
GemmKernel avx2_kernel(TensorType type);
GemmKernel avx512_kernel(TensorType type, size_t n);
// For weights in the Interleaved16 layout (interleave.h), any batch size.
GemmKernel avx512_interleaved_kernel(TensorType type);
GemmKernel avx2_interleaved_kernel(TensorType type);
GemmKernel avx2_kquant_interleaved_kernel(TensorType type);  // Q4_K
// The AMX tile kernel for weights of `type` in `layout` and a batch of n rows, or none
// (types without 32-column blocks, batches too small to repay dequantizing the weights).
GemmKernel amx_kernel(TensorType type, size_t n, WeightLayout layout);
// The exact int8 AMX kernel (gemm_int8_amx.cpp) for k-quant weights (row-major) and a
// batch of n rows, or none: results bit-identical to avx512_kernel(type, n)'s. (For the
// 32-element block types an exact tile kernel gains nothing: their float work per block,
// which exactness keeps, costs as much as the VNNI dot products it would replace.)
GemmKernel amx_int8_kernel(TensorType type, size_t n, WeightLayout layout);
// Weight rows per task for the AMX kernels: a multiple of 32 (two 16-row tiles).
size_t amx_chunk_rows(size_t rows, size_t n_threads);
// One BF16P16 panel of up to 16 rows (rows >= n_rows zero) with AVX512_BF16, byte-identical
// to the scalar packer.
void pack_bf16_panel_avx512(const float* x, size_t cols, size_t n_rows, uint8_t* dst);

// Packing works in units: one row for row formats, one panel of kPanelRows for panels.
size_t pack_unit_rows(ActFormat fmt);
// Bytes per unit (GemmArgs::a_stride), a multiple of 64.
size_t packed_stride(ActFormat fmt, size_t cols);
// Packs units [u0, u1) of the n float rows x (row-major, cols each) into dst, the start of
// the whole packed buffer (unit u at dst + u * packed_stride).
// `isa` picks the quantizer implementation; every ISA produces identical bytes.
void pack_units(Isa isa, ActFormat fmt, AuxKind aux, const float* x, size_t cols, size_t n,
                size_t u0, size_t u1, uint8_t* dst);

// Row t of a Q8x32R16 panel (its block b at dst + b * kPanelBlockBytes) from the floats x,
// for every aux kind but Corr8Nib (act_pack_avx2.cpp), byte-identical to the scalar path.
void pack_q8x32_panel_row_avx2(AuxKind aux, const float* x, size_t cols, size_t t, uint8_t* dst);
// AVX-512 row quantizers (act_pack_avx512.cpp), byte-identical to the scalar ones.
void pack_q8x32_avx512(AuxKind aux, const float* x, size_t cols, uint8_t* dst);
void quantize_q8_k_avx512(const float* x, BlockQ8_K* y, size_t cols);

// Offsets inside a Q8x32 row.
inline const int8_t* q8x32_qs(const uint8_t* row) { return reinterpret_cast<const int8_t*>(row); }
inline const float* q8x32_dl(const uint8_t* row, size_t cols) {
  return reinterpret_cast<const float*>(row + cols);
}
inline const void* q8x32_aux(const uint8_t* row, size_t cols) { return row + cols + cols; }
inline const float* q8x32_d(const uint8_t* row, size_t cols) {
  return reinterpret_cast<const float*>(row + 3 * cols);
}
inline const float* q8x32_ds(const uint8_t* row, size_t cols) {
  return reinterpret_cast<const float*>(row + 3 * cols + cols / 8);
}

}  // namespace ragd::kernels::detail
