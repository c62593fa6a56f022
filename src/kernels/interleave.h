// The 16-row interleaved weight layout of the AVX-512 and AVX2 kernels, and weights copied
// into it at load.
//
// The batched kernels hold 16 weight rows in the int32 lanes of a vector (see
// gemm_q8x32_wpanel_avx512.cpp). From GGUF's row-major blocks that takes, per block of 16
// rows, a 16x16 dword transpose and two gathers for the fp16 scales, redone on every call:
// ~14% of a 32-stream decode step. Interleaved weights are stored already transposed, so
// the kernel only loads them (and splits nibbles). The layout keeps the bytes of the
// original blocks, so a matrix takes exactly its GGUF size.
//
// Layout (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; rows a multiple of 16): group g of rows [16g, 16g + 16)
// starts where row 16g starts in the row-major matrix (byte 16g * row_bytes) and holds its
// blocks in column order; block b of the group (16 * type_size bytes) is
//   uint8  qs[Q/4][16][4]  dword j of row r's qs (Q = 16 for Q4_x, 32 for Q8_0) at
//                          64j + 4r: lane r of vector j is row r
//   uint32 qh[16]          row r's fifth bits (Q5_x only)
//   fp16   d[16]           row r's scale
//   fp16   m[16]           row r's min (Q4_1, Q5_1)
//
// Q4_K (cols a multiple of 256; AVX2 only, gemm_kquant_interleaved_avx2.cpp): block b of the
// group (16 * 144 bytes) is
//   uint8  qs[32][16][4]   dword j of row r's qs at 64j + 4r, as above
//   uint8  scales[2][96]   the 6-bit sub-block scales and mins of rows 8h .. 8h + 7 (half h),
//                          arranged so that the kernel unpacks them with a few whole-vector
//                          operations: value s of row r (r' = r % 8) has index
//                          i = 16 * (r' / 4) + 4 * (s % 4) + r' % 4 in vector s / 4;
//                          bytes 0-31 hold the scales' low 4 bits (vector 0 in the low
//                          nibble of byte i, vector 1 in the high), bytes 32-63 the mins'
//                          the same way, and byte 64 + i the top 2 bits of scale vector 0,
//                          scale vector 1, min vector 0 and min vector 1 (bits 0-1, 2-3,
//                          4-5, 6-7)
//   fp16   d[16], dmin[16] row r's super-block scales
// The 12 bytes of GGML's scale packing hold the same 96 bits, so this layout too keeps a
// matrix at its GGUF size and deinterleaves to the original bytes.
//
// A matrix in this layout is read by the AVX-512 and AVX2 kernels (a 64-byte vector j is
// one zmm, or two ymm of 8 rows each) and get_row(); the scalar matmul falls back to
// dequantizing rows (correct, slow), so weights are interleaved only when AVX2 or AVX-512
// kernels are the ones in use.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "kernels/matmul.h"

namespace ragd::kernels {

constexpr size_t kInterleaveRows = 16;
// Offsets inside an interleaved Q4_K block of 16 rows.
constexpr size_t kK4ScalesOffset = 2048;
constexpr size_t kK4HalfScaleBytes = 96;
constexpr size_t kK4DOffset = kK4ScalesOffset + 2 * kK4HalfScaleBytes;
constexpr size_t kK4DminOffset = kK4DOffset + 32;

// Whether `type` has an interleaved layout and the shape fits it.
bool can_interleave(TensorType type, size_t rows, size_t cols);
// Whether matmul would run faster on w interleaved: it can be, and AVX2 or AVX-512 is in use.
bool prefers_interleaved(const WeightView& w);

// Copies row groups [g0, g1) of the row-major matrix `src` into `dst` (the whole
// interleaved matrix, same size as src). can_interleave(type, rows, cols) must hold.
void interleave_groups(TensorType type, const uint8_t* src, size_t cols, size_t g0, size_t g1,
                       uint8_t* dst);
// Row r of an interleaved matrix back in GGUF's row-major block format (row_bytes(type,
// cols) bytes at out).
void deinterleave_row(TensorType type, const uint8_t* data, size_t cols, size_t r, uint8_t* out);

// A row-major weight matrix copied into the interleaved layout (64-byte aligned), using
// the pool's threads; view() is what matmul takes. The source may be released afterwards.
class InterleavedWeight {
 public:
  InterleavedWeight(const WeightView& row_major, ThreadPool& pool);
  const WeightView& view() const { return view_; }
  size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t bytes_ = 0;
  WeightView view_{};
};

}  // namespace ragd::kernels
