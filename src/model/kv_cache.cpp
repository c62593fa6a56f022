#include "model/kv_cache.h"

#include <cstdlib>
#include <cstring>

#include "util/error.h"

namespace ragd::model {

KvCache::KvCache(size_t n_layer, size_t kv_dim, size_t block_tokens, size_t n_blocks,
                 kernels::KvType type)
    : n_layer_(n_layer), kv_dim_(kv_dim), block_tokens_(block_tokens), n_blocks_(n_blocks),
      type_(type) {
  if (block_tokens == 0 || n_blocks == 0) fail("KV cache needs at least one block of one token");
  n_elements_ = 2 * n_layer * kv_dim * block_tokens * n_blocks;
  // calloc of a large size maps fresh zero pages without touching them, so a big pool
  // costs resident memory only as sequences fill it (a zero-filled std::vector would make
  // the whole budget resident at load).
  storage_.reset(static_cast<uint8_t*>(std::calloc(n_elements_, kernels::kv_type_bytes(type_))));
  if (!storage_) fail("out of memory allocating a {} MiB KV cache", bytes() >> 20);
}

void KvCache::copy_slots(uint32_t from, uint32_t to, size_t n) {
  if (from >= n_blocks_ || to >= n_blocks_ || n > block_tokens_) {
    fail("KV copy of {} slots from block {} to {} is out of range", n, from, to);
  }
  if (from == to || n == 0) return;
  const size_t bytes = n * kv_dim_ * kernels::kv_type_bytes(type_);
  for (size_t layer = 0; layer < n_layer_; ++layer) {
    std::memcpy(at(layer, to, 0, 0), at(layer, from, 0, 0), bytes);
    std::memcpy(at(layer, to, 0, 1), at(layer, from, 0, 1), bytes);
  }
}

void KvCache::store(size_t layer, uint32_t block, size_t slot, const float* key,
                    const float* value) {
  kernels::store_kv_row(type_, key, at(layer, block, slot, 0), kv_dim_);
  kernels::store_kv_row(type_, value, at(layer, block, slot, 1), kv_dim_);
}

void LinearBlockAllocator::reserve(std::vector<uint32_t>& table, size_t n_tokens,
                                   size_t block_tokens) {
  size_t need = (n_tokens + block_tokens - 1) / block_tokens;
  while (table.size() < need) {
    if (next_ >= capacity_) {
      fail("KV cache is full ({} blocks of {} tokens); use a larger --ctx-size", capacity_,
           block_tokens);
    }
    table.push_back(next_++);
  }
}

}  // namespace ragd::model
