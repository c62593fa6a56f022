// BlockManager: who owns which block of the paged KV cache, and the prefix cache.
//
// The KvCache (model/kv_cache.h) is a pool of n_blocks blocks of block_tokens positions.
// Each running sequence owns a block table (block ids in position order). A block is
//   - free: on the free list, holds nothing useful;
//   - referenced: in the block table of at least one running sequence (ref_count > 0);
//   - cached: ref_count == 0 but registered under a prefix hash, kept in LRU order so a
//     later sequence whose prompt starts with the same tokens reuses it instead of
//     recomputing it. Cached blocks are evicted (least recently used first) only when a
//     free block is needed and the free list is empty.
//
// Prefix hash: only *full* blocks are registered. The hash of block i of a sequence is
// hash(hash of block i-1, the block_tokens token ids of block i), so equal hashes mean equal
// whole prefixes up to a 64-bit collision. On lookup the block's own token ids and its
// parent's hash are compared too, so handing out a wrong block would take a collision of
// the hashes of two different earlier prefixes. A block shared by several sequences is
// read-only for all of them: sequences only ever write positions past their matched
// prefix, and the matched prefix never includes the last prompt token (its logits are
// needed), so no shared block is written.
//
// Forks: the choices of one request (OpenAI `n`) share their prompt's blocks outright.
// share_prefix() gives a new table a reference on each full block of a computed prompt,
// and a fresh block for the prompt's last, partly filled block, which the caller fills by
// copying (copy-on-write done at fork time: the sequences will write different tokens
// there). The shared full blocks lie wholly before every position either sequence writes,
// so, like matched prefix blocks, they stay read-only; each table's release() drops its own
// references, so a block shared by n tables returns to the free list or the cache once,
// when the last of them lets go.
//
// Partial blocks: prompts often share a prefix that ends inside a block (a system prompt or
// retrieved chunk of any length, then a different question). After the full-block match,
// match_partial() looks among the registered blocks that continue the matched chain for
// the one agreeing with the most following tokens; the caller copies those positions'
// keys/values into its own fresh block instead of recomputing them (the cached block
// itself stays read-only). Radix-tree caches (SGLang) reuse at token granularity the same
// way; vLLM's block hashing stops at the last full block.
//
// Not thread-safe: owned and called by the scheduler thread only.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace ragd::engine {

struct BlockStats {
  size_t total = 0;       // blocks in the pool
  size_t used = 0;        // referenced by a running sequence
  size_t cached = 0;      // unreferenced, kept for prefix reuse
  size_t free = 0;        // on the free list
  uint64_t prefix_lookups = 0;      // match_prefix calls
  uint64_t prefix_hit_tokens = 0;   // prompt tokens served from cached blocks
  uint64_t prefix_query_tokens = 0; // prompt tokens asked about
  uint64_t evictions = 0;           // cached blocks reclaimed for new data
};

class BlockManager {
 public:
  BlockManager(size_t n_blocks, size_t block_tokens, bool prefix_caching = true);

  size_t block_tokens() const { return block_tokens_; }
  // Blocks that allocate() could hand out right now (free + evictable cached).
  size_t available() const;
  static size_t blocks_for(size_t n_tokens, size_t block_tokens) {
    return (n_tokens + block_tokens - 1) / block_tokens;
  }

  // Finds the longest run of full cached blocks matching the start of `tokens`, appends
  // them to `table` (taking a reference on each) and returns the number of tokens they
  // cover (a multiple of block_tokens, at most tokens.size() - 1). `table` must be empty.
  size_t match_prefix(std::span<const int32_t> tokens, std::vector<uint32_t>& table);

  // The registered block continuing the full blocks of `table` (as match_prefix left it)
  // whose token ids agree longest with tokens[table.size() * block_tokens, ...): its id and
  // that number of tokens, fewer than block_tokens and never reaching the last token.
  // tokens == 0 when none agrees. Counts the tokens as prefix hits and refreshes the
  // block's LRU position; the block's data stays valid until the next allocate() or
  // clear_cache().
  struct PartialMatch {
    uint32_t block = 0;
    size_t tokens = 0;
  };
  PartialMatch match_partial(std::span<const int32_t> tokens, std::span<const uint32_t> table);

  // Fills the empty `table` for a fork of a sequence whose keys/values of tokens[0,
  // n_tokens) are in `source`: the full blocks shared (a reference each), then, when
  // n_tokens is not a multiple of block_tokens, one fresh block for the partial last one,
  // whose first n_tokens % block_tokens slots the caller copies from source's block.
  // Returns false and leaves `table` empty when no block is available for that copy.
  bool share_prefix(std::span<const uint32_t> source, size_t n_tokens, std::vector<uint32_t>& table);

  // Grows `table` with fresh blocks until it covers n_tokens positions. Returns false and
  // leaves `table` unchanged when not enough blocks are available.
  bool allocate(std::vector<uint32_t>& table, size_t n_tokens);

  // Registers the full blocks of a sequence whose keys/values for tokens[0, n_computed) are
  // now in the cache, so later sequences can reuse them. Idempotent for blocks already
  // registered.
  void register_full_blocks(std::span<const int32_t> tokens, size_t n_computed,
                            std::span<const uint32_t> table);

  // Drops the sequence's reference on every block of `table` and clears it. Registered
  // blocks become cached; the others go back to the free list.
  void release(std::vector<uint32_t>& table);

  // Forgets every cached (unreferenced) block.
  void clear_cache();

  BlockStats stats() const;

 private:
  struct Block {
    uint32_t ref_count = 0;
    uint64_t hash = 0;              // valid when registered
    uint64_t parent_hash = 0;       // hash of the previous block of the prefix (when registered)
    bool registered = false;
    std::vector<int32_t> tokens;    // the block's own token ids, when registered
    std::list<uint32_t>::iterator lru;  // position in lru_ when cached
  };
  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);
  bool take_free_block(uint32_t& id);
  void unregister(uint32_t id);

  size_t block_tokens_;
  bool prefix_caching_;
  std::vector<Block> blocks_;
  std::vector<uint32_t> free_;
  std::list<uint32_t> lru_;                      // cached blocks, front = least recently used
  std::unordered_map<uint64_t, uint32_t> by_hash_;  // prefix hash -> block
  std::unordered_multimap<uint64_t, uint32_t> by_parent_;  // parent hash -> registered blocks
  BlockStats stats_;
};

}  // namespace ragd::engine
