#include "engine/block_manager.h"

#include <algorithm>

#include "util/error.h"
#include "util/hash.h"

namespace ragd::engine {
namespace {

// The "parent hash" of a sequence's first block: any fixed value works.
constexpr uint64_t kRootHash = 0x243F6A8885A308D3ull;

}  // namespace

BlockManager::BlockManager(size_t n_blocks, size_t block_tokens, bool prefix_caching)
    : block_tokens_(block_tokens), prefix_caching_(prefix_caching), blocks_(n_blocks) {
  if (block_tokens == 0) fail("KV blocks must hold at least one token");
  // Hand out low ids first (pop_back), which keeps tests and dumps easy to read.
  free_.reserve(n_blocks);
  for (size_t i = n_blocks; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
  stats_.total = n_blocks;
}

size_t BlockManager::available() const { return free_.size() + lru_.size(); }

uint64_t BlockManager::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix64(parent ^ 0x9E3779B97F4A7C15ull);
  for (int32_t t : tokens) h = mix64(h ^ static_cast<uint32_t>(t));
  return h;
}

size_t BlockManager::match_prefix(std::span<const int32_t> tokens,
                                  std::vector<uint32_t>& table) {
  if (!table.empty()) fail("match_prefix: the block table must be empty");
  ++stats_.prefix_lookups;
  stats_.prefix_query_tokens += tokens.size();
  if (!prefix_caching_ || tokens.empty()) return 0;
  // The last token is never matched: the caller needs its logits, so it must be computed.
  const size_t max_blocks = (tokens.size() - 1) / block_tokens_;
  uint64_t parent = kRootHash;
  for (size_t i = 0; i < max_blocks; ++i) {
    auto block_ids = tokens.subspan(i * block_tokens_, block_tokens_);
    const uint64_t h = chain_hash(parent, block_ids);
    auto it = by_hash_.find(h);
    if (it == by_hash_.end()) break;
    Block& b = blocks_[it->second];
    if (b.parent_hash != parent || !std::equal(block_ids.begin(), block_ids.end(),
                                               b.tokens.begin(), b.tokens.end())) {
      break;  // a hash collision: treat as a miss
    }
    if (b.ref_count++ == 0) lru_.erase(b.lru);  // cached -> referenced
    table.push_back(it->second);
    parent = h;
  }
  const size_t matched = table.size() * block_tokens_;
  stats_.prefix_hit_tokens += matched;
  return matched;
}

BlockManager::PartialMatch BlockManager::match_partial(std::span<const int32_t> tokens,
                                                       std::span<const uint32_t> table) {
  PartialMatch best;
  const size_t start = table.size() * block_tokens_;
  if (!prefix_caching_ || start + 1 >= tokens.size()) return best;
  const size_t limit = std::min(block_tokens_ - 1, tokens.size() - 1 - start);
  const auto wanted = tokens.subspan(start, limit);
  const uint64_t parent = table.empty() ? kRootHash : blocks_[table.back()].hash;
  auto [it, end] = by_parent_.equal_range(parent);
  for (; it != end; ++it) {
    const Block& b = blocks_[it->second];
    const size_t agree = static_cast<size_t>(
        std::mismatch(wanted.begin(), wanted.end(), b.tokens.begin(), b.tokens.end()).first -
        wanted.begin());
    if (agree > best.tokens) best = {it->second, agree};
  }
  if (best.tokens > 0) {
    Block& b = blocks_[best.block];
    if (b.ref_count == 0) lru_.splice(lru_.end(), lru_, b.lru);  // recently used
    stats_.prefix_hit_tokens += best.tokens;
  }
  return best;
}

bool BlockManager::take_free_block(uint32_t& id) {
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
    return true;
  }
  if (lru_.empty()) return false;
  id = lru_.front();  // least recently used cached block
  lru_.pop_front();
  unregister(id);
  ++stats_.evictions;
  return true;
}

bool BlockManager::allocate(std::vector<uint32_t>& table, size_t n_tokens) {
  const size_t needed = blocks_for(n_tokens, block_tokens_);
  if (needed <= table.size()) return true;
  if (needed - table.size() > available()) return false;
  while (table.size() < needed) {
    uint32_t id = 0;
    take_free_block(id);  // cannot fail: availability was checked above
    blocks_[id].ref_count = 1;
    table.push_back(id);
  }
  return true;
}

bool BlockManager::share_prefix(std::span<const uint32_t> source, size_t n_tokens,
                                std::vector<uint32_t>& table) {
  if (!table.empty()) fail("share_prefix: the block table must be empty");
  const size_t full = n_tokens / block_tokens_;
  const bool partial = n_tokens % block_tokens_ != 0;
  if (blocks_for(n_tokens, block_tokens_) > source.size()) {
    fail("share_prefix: {} tokens need more than the source's {} blocks", n_tokens, source.size());
  }
  // The copy's block first: when none is left, nothing has been referenced yet.
  uint32_t copy = 0;
  if (partial && !take_free_block(copy)) return false;
  for (size_t i = 0; i < full; ++i) {
    Block& b = blocks_[source[i]];
    if (b.ref_count == 0) fail("share_prefix: block {} is not referenced by its source", source[i]);
    ++b.ref_count;  // referenced, so not in the LRU list
    table.push_back(source[i]);
  }
  if (partial) {
    blocks_[copy].ref_count = 1;
    table.push_back(copy);
  }
  return true;
}

void BlockManager::register_full_blocks(std::span<const int32_t> tokens, size_t n_computed,
                                        std::span<const uint32_t> table) {
  if (!prefix_caching_) return;
  const size_t full = std::min(std::min(n_computed, tokens.size()) / block_tokens_, table.size());
  uint64_t parent = kRootHash;
  for (size_t i = 0; i < full; ++i) {
    Block& b = blocks_[table[i]];
    if (b.registered) {
      parent = b.hash;
      continue;
    }
    auto block_ids = tokens.subspan(i * block_tokens_, block_tokens_);
    const uint64_t h = chain_hash(parent, block_ids);
    // Another block may already hold this prefix (two sequences computed the same prompt
    // side by side, or a recompute after part of a chain was evicted). Keep the first; this
    // one stays unregistered and returns to the free list when released.
    if (by_hash_.emplace(h, table[i]).second) {
      by_parent_.emplace(parent, table[i]);
      b.registered = true;
      b.hash = h;
      b.parent_hash = parent;
      b.tokens.assign(block_ids.begin(), block_ids.end());
    }
    parent = h;
  }
}

void BlockManager::release(std::vector<uint32_t>& table) {
  // Last block first: a prefix chain is useless without its head, so the tail blocks should
  // be the first to be evicted (they reach the LRU front earlier).
  for (auto it = table.rbegin(); it != table.rend(); ++it) {
    Block& b = blocks_[*it];
    if (b.ref_count == 0) fail("release: block {} is not referenced", *it);
    if (--b.ref_count > 0) continue;
    if (b.registered) {
      b.lru = lru_.insert(lru_.end(), *it);
    } else {
      free_.push_back(*it);
    }
  }
  table.clear();
}

void BlockManager::unregister(uint32_t id) {
  Block& b = blocks_[id];
  if (!b.registered) return;
  auto it = by_hash_.find(b.hash);
  if (it != by_hash_.end() && it->second == id) by_hash_.erase(it);
  for (auto [p, end] = by_parent_.equal_range(b.parent_hash); p != end; ++p) {
    if (p->second == id) {
      by_parent_.erase(p);
      break;
    }
  }
  b.registered = false;
  b.tokens.clear();
}

void BlockManager::clear_cache() {
  for (uint32_t id : lru_) {
    unregister(id);
    free_.push_back(id);
  }
  lru_.clear();
}

BlockStats BlockManager::stats() const {
  BlockStats s = stats_;
  s.free = free_.size();
  s.cached = lru_.size();
  s.used = s.total - s.free - s.cached;
  return s;
}

}  // namespace ragd::engine
