// Decode-time attention of one query token against one KV head's cached positions, for all
// the query heads that share that KV head (grouped-query attention) at once:
//
//   for g < group:  out_g = sum_{j < n_ctx} softmax_j(scale * q_g . k_j) * v_j
//
// Doing the whole group in one call reads each cached key and value row once per group
// instead of once per query head; at batched decode the cache no longer fits in L2 and
// those reads, not the arithmetic, set the speed. The AVX-512 kernel keeps q and the
// output accumulators in registers for head dims up to 128, computes scores 16 positions
// at a time and reduces the 16 partial sums together (one transpose-add tree instead of
// 16 horizontal sums). The AVX2 kernel (head dims that are multiples of 8, up to 128) does
// the same in 8-position tiles, shaped around its 16 registers (attention_avx2.cpp). Other
// CPUs and head dims take a portable path built on the dispatched dot_f32/axpy.
//
// Numerics: two passes over the rows (scores; then the weighted sum of values), with a
// max-subtracted softmax between them; agrees with attend_kv_head_reference to float
// rounding (see tests/kernels/attention_test.cpp for the bound).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ragd::kernels {

// Element type of a KV cache: float32, or IEEE half (half the memory and the reads;
// rounding a key or value to 11 significant bits, as llama.cpp's default cache does).
enum class KvType : uint8_t { F32, F16 };
size_t kv_type_bytes(KvType type);
std::string_view kv_type_name(KvType type);  // "f32", "f16"
// "f32" / "f16" (as named by kv_type_name); throws ragd::Error naming the choices otherwise.
KvType kv_type_from_name(std::string_view name);

// One KV head's keys and values in a paged cache. Position p is row p % block_rows of
// block p / block_rows; key_blocks[i] / value_blocks[i] point at row 0 of block i (already
// offset to this head's columns), and consecutive rows of a block are row_stride elements
// apart (a KV-cache row holds every KV head of a position). Both spans cover n_ctx rows.
// Elements are `type`: float, or fp16_t bits.
struct PagedKv {
  std::span<const void* const> key_blocks;
  std::span<const void* const> value_blocks;
  size_t block_rows = 0;
  size_t row_stride = 0;
  KvType type = KvType::F32;
};

// Writes the n floats of x as `type` elements at dst (f16: rounded to nearest even).
void store_kv_row(KvType type, const float* x, void* dst, size_t n);

// q and out hold the group's heads back to back (group * head_dim floats each), the order
// of a llama q projection; out must not overlap q. scores is scratch for group * n_ctx
// floats. n_ctx >= 1 (a causal query always sees at least its own position).
void attend_kv_head(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                    size_t n_ctx, float scale, float* scores, float* out);

// The same in double precision with plain loops: the definition the fast paths are
// tested against, and what LlamaModel's reference mode uses.
void attend_kv_head_reference(const float* q, size_t group, size_t head_dim, const PagedKv& kv,
                              size_t n_ctx, float scale, float* out);

}  // namespace ragd::kernels
