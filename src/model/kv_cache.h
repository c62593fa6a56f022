// KvCache: the key/value memory of the attention layers, as a pool of fixed-size blocks.
//
// Block b holds the keys and values of `block_tokens` consecutive positions of one
// sequence, for every layer. A sequence owns a block table (block ids in position order):
// position p lives in block table[p / block_tokens], slot p % block_tokens. Who owns which
// block, and sharing blocks between sequences with a common prefix, is the engine's
// business (engine/block_manager); this class is only the storage and its addressing.
// Elements are float32 (exact enough to reproduce reference logits; the CLI's default) or
// f16 (kernels::KvType: half the memory and the attention reads; serving's default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/attention.h"

namespace ragd::model {

class KvCache {
 public:
  KvCache(size_t n_layer, size_t kv_dim, size_t block_tokens, size_t n_blocks,
          kernels::KvType type = kernels::KvType::F32);

  size_t n_layer() const { return n_layer_; }
  size_t kv_dim() const { return kv_dim_; }
  size_t block_tokens() const { return block_tokens_; }
  size_t n_blocks() const { return n_blocks_; }
  kernels::KvType type() const { return type_; }
  size_t bytes() const { return n_elements_ * kernels::kv_type_bytes(type_); }
  static size_t bytes_per_block(size_t n_layer, size_t kv_dim, size_t block_tokens,
                                kernels::KvType type = kernels::KvType::F32) {
    return 2 * n_layer * kv_dim * block_tokens * kernels::kv_type_bytes(type);
  }

  // Key / value row (kv_dim elements of type()) of `slot` in `block` at `layer`.
  const void* key(size_t layer, uint32_t block, size_t slot) const { return at(layer, block, slot, 0); }
  const void* value(size_t layer, uint32_t block, size_t slot) const { return at(layer, block, slot, 1); }
  // Writes the key and value (kv_dim floats each) of `slot`, converted to type().
  void store(size_t layer, uint32_t block, size_t slot, const float* key, const float* value);

  // Copies slots [0, n) of block `from` into block `to` for every layer (keys and values):
  // reusing a cached block's first positions in a sequence's own block.
  void copy_slots(uint32_t from, uint32_t to, size_t n);

 private:
  uint8_t* at(size_t layer, uint32_t block, size_t slot, size_t kv) const {
    // Layout: [block][layer][k|v][slot][kv_dim] keeps one block's memory contiguous.
    const size_t element =
        (((static_cast<size_t>(block) * n_layer_ + layer) * 2 + kv) * block_tokens_ + slot) * kv_dim_;
    return storage_.get() + element * kernels::kv_type_bytes(type_);
  }

  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  size_t n_layer_, kv_dim_, block_tokens_, n_blocks_;
  kernels::KvType type_;
  size_t n_elements_ = 0;
  std::unique_ptr<uint8_t[], Free> storage_;  // from calloc: pages become resident when written
};

// A simple owner of blocks for callers that run one or a few sequences without the
// engine's block manager (CLI generate/chat, tests): hands out blocks in order.
class LinearBlockAllocator {
 public:
  explicit LinearBlockAllocator(const KvCache& cache) : capacity_(cache.n_blocks()) {}
  // Grows `table` until it covers `n_tokens` positions; throws ragd::Error when full.
  void reserve(std::vector<uint32_t>& table, size_t n_tokens, size_t block_tokens);
  void reset() { next_ = 0; }

 private:
  size_t capacity_;
  uint32_t next_ = 0;
};

}  // namespace ragd::model
