// The walk over a paged KV cache that the SIMD attention kernels share (include only from
// attention_*.cpp): block pointers, and the key tiles of the score pass with the prefetches
// that keep the next block's keys and this block's values arriving while a tile is in use.
//
// Everything here is in an unnamed namespace: each including file is compiled with its own
// ISA flags, and an inline function with external linkage would be merged across them by
// the linker, so the AVX-512 file's copy could run on an AVX2-only CPU.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <span>

#include "kernels/attention.h"

namespace ragd::kernels::detail {
namespace {

template <typename E>
const E* block_of(std::span<const void* const> blocks, size_t b) {
  return static_cast<const E*>(blocks[b]);
}

// Starts loading n rows' first `dim` elements into L2. The KV cache of a batch of sequences
// is far larger than L3 and a block's rows of one head span several 4 KB pages, where the
// hardware prefetchers stop, so without this the rows arrive a few misses at a time. Into
// L2, not L1: prefetches to L1 wait for its few miss buffers and stall the loop instead
// (AVX-512, one thread, 32 sequences x 75 positions x 30 layers: T0 no gain, T1 1.7x faster).
template <typename E>
inline void prefetch_rows(const E* rows, size_t stride, size_t n, size_t dim) {
  const size_t bytes = dim * sizeof(E);
  for (size_t i = 0; i < n; ++i, rows += stride) {
    const char* row = reinterpret_cast<const char*>(rows);
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(row + o, _MM_HINT_T1);
    _mm_prefetch(row + bytes - 1, _MM_HINT_T1);
  }
}

// Calls tile(rows, j, n) for the key rows of positions [j, j + n) of the first n_ctx
// (n_ctx >= 1), in tiles of at most `tile_rows` that never straddle a block, so a tile's
// rows are kv.row_stride elements apart. While a block's tiles are in use, the next block's
// keys and this block's values are prefetched.
template <typename E, typename Tile>
inline void for_each_key_tile(const PagedKv& kv, size_t n_ctx, size_t dim, size_t tile_rows,
                              Tile&& tile) {
  prefetch_rows(block_of<E>(kv.key_blocks, 0), kv.row_stride, std::min(kv.block_rows, n_ctx), dim);
  for (size_t b = 0, j0 = 0; j0 < n_ctx; ++b, j0 += kv.block_rows) {
    const size_t block_n = std::min(kv.block_rows, n_ctx - j0);
    if (const size_t next = j0 + block_n; next < n_ctx) {
      prefetch_rows(block_of<E>(kv.key_blocks, b + 1), kv.row_stride,
                    std::min(kv.block_rows, n_ctx - next), dim);
    }
    prefetch_rows(block_of<E>(kv.value_blocks, b), kv.row_stride, block_n, dim);
    const E* keys = block_of<E>(kv.key_blocks, b);
    for (size_t i0 = 0; i0 < block_n; i0 += tile_rows) {
      tile(keys + i0 * kv.row_stride, j0 + i0, std::min(tile_rows, block_n - i0));
    }
  }
}

}  // namespace
}  // namespace ragd::kernels::detail
