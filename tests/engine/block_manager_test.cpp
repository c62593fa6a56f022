// BlockManager: block ownership, prefix matching and LRU eviction of cached blocks.
#include "engine/block_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

namespace ragd::engine {
namespace {

constexpr size_t kBt = 4;  // tokens per block in these tests

std::vector<int32_t> iota_tokens(size_t n, int32_t first = 1) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Runs a sequence "to completion": allocate, pretend to compute, register, release.
void compute_and_release(BlockManager& bm, const std::vector<int32_t>& tokens) {
  std::vector<uint32_t> table;
  ASSERT_TRUE(bm.allocate(table, tokens.size()));
  bm.register_full_blocks(tokens, tokens.size(), table);
  bm.release(table);
}

TEST(BlockManager, AllocateAndReleaseKeepCounts) {
  BlockManager bm(8, kBt);
  EXPECT_EQ(bm.available(), 8u);
  std::vector<uint32_t> a, b;
  ASSERT_TRUE(bm.allocate(a, 9));  // 3 blocks
  ASSERT_TRUE(bm.allocate(b, 4));  // 1 block
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(b.size(), 1u);
  std::set<uint32_t> distinct(a.begin(), a.end());
  distinct.insert(b.begin(), b.end());
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(bm.stats().used, 4u);
  EXPECT_EQ(bm.stats().free, 4u);
  ASSERT_TRUE(bm.allocate(a, 12));  // already covered: no new block
  EXPECT_EQ(a.size(), 3u);
  ASSERT_TRUE(bm.allocate(a, 13));  // grows by one
  EXPECT_EQ(a.size(), 4u);
  bm.release(a);
  bm.release(b);
  EXPECT_TRUE(a.empty());
  auto s = bm.stats();
  EXPECT_EQ(s.used, 0u);
  EXPECT_EQ(s.free, 8u);  // nothing was registered, so nothing is cached
  EXPECT_EQ(s.cached, 0u);
}

TEST(BlockManager, FailedAllocationLeavesTheTableUnchanged) {
  BlockManager bm(4, kBt);
  std::vector<uint32_t> a, b;
  ASSERT_TRUE(bm.allocate(a, 12));
  b.clear();
  ASSERT_TRUE(bm.allocate(b, 1));
  const auto before = b;
  EXPECT_FALSE(bm.allocate(b, 9));  // needs 2 more, 0 left
  EXPECT_EQ(b, before);
  EXPECT_EQ(bm.stats().used, 4u);
  bm.release(a);
  EXPECT_TRUE(bm.allocate(b, 9));
  EXPECT_EQ(b.size(), 3u);
}

TEST(BlockManager, MatchesOnlyFullBlocksAndNeverTheLastToken) {
  BlockManager bm(8, kBt);
  auto prompt = iota_tokens(10);  // blocks [1-4] [5-8], then 2 tokens in a partial block
  compute_and_release(bm, prompt);
  EXPECT_EQ(bm.stats().cached, 2u);  // only the full blocks were registered

  std::vector<uint32_t> table;
  EXPECT_EQ(bm.match_prefix(prompt, table), 8u);
  EXPECT_EQ(table.size(), 2u);
  bm.release(table);

  // Exactly 8 tokens: matching both blocks would leave no token to compute for logits.
  auto eight = iota_tokens(8);
  EXPECT_EQ(bm.match_prefix(eight, table), 4u);
  bm.release(table);

  // A prompt that diverges inside the second block only reuses the first.
  auto diverging = iota_tokens(10);
  diverging[6] = 99;
  EXPECT_EQ(bm.match_prefix(diverging, table), 4u);
  bm.release(table);

  auto s = bm.stats();
  EXPECT_EQ(s.prefix_lookups, 3u);
  EXPECT_EQ(s.prefix_hit_tokens, 16u);
  EXPECT_EQ(s.prefix_query_tokens, 28u);
}

TEST(BlockManager, PartialMatchFindsTheLongestAgreeingContinuation) {
  BlockManager bm(16, kBt);
  // Two cached continuations of block [1-4]: [5 6 7 8] and [5 6 70 80].
  compute_and_release(bm, iota_tokens(9));
  auto other = iota_tokens(9);
  other[6] = 70;
  other[7] = 80;
  compute_and_release(bm, other);

  auto query = iota_tokens(12);
  query[7] = 99;  // agrees with [5 6 7 8] for 3 tokens, with [5 6 70 80] for 2
  std::vector<uint32_t> table;
  ASSERT_EQ(bm.match_prefix(query, table), 4u);
  const auto before = bm.stats().prefix_hit_tokens;
  auto p = bm.match_partial(query, table);
  EXPECT_EQ(p.tokens, 3u);
  EXPECT_EQ(bm.stats().prefix_hit_tokens, before + 3);
  std::vector<uint32_t> best;
  ASSERT_EQ(bm.match_prefix(iota_tokens(9), best), 8u);  // the block holding [5-8]
  EXPECT_EQ(p.block, best[1]);
  bm.release(best);
  bm.release(table);

  // Never the last token: 6 tokens leave 1 after the first block's 4 + 1 reused.
  auto short_query = iota_tokens(6);
  ASSERT_EQ(bm.match_prefix(short_query, table), 4u);
  EXPECT_EQ(bm.match_partial(short_query, table).tokens, 1u);
  bm.release(table);
  // Nothing left to reuse when the full blocks already reach the last token.
  auto exact = iota_tokens(5);
  ASSERT_EQ(bm.match_prefix(exact, table), 4u);
  EXPECT_EQ(bm.match_partial(exact, table).tokens, 0u);
  bm.release(table);

  // From the root (no full block matched) and with nothing agreeing.
  auto head = iota_tokens(3);
  EXPECT_EQ(bm.match_partial(head, {}).tokens, 2u);
  auto stranger = iota_tokens(6, 500);
  EXPECT_EQ(bm.match_partial(stranger, {}).tokens, 0u);
}

TEST(BlockManager, PartialMatchForgetsEvictedAndClearedBlocks) {
  BlockManager bm(3, kBt);
  compute_and_release(bm, iota_tokens(9));  // [1-4] [5-8] cached, 1 free
  std::vector<uint32_t> table;
  ASSERT_TRUE(bm.allocate(table, 12));  // takes the free block and evicts both cached ones
  EXPECT_EQ(bm.match_partial(iota_tokens(4), {}).tokens, 0u);
  bm.release(table);
  compute_and_release(bm, iota_tokens(5));
  EXPECT_EQ(bm.match_partial(iota_tokens(4), {}).tokens, 3u);
  bm.clear_cache();
  EXPECT_EQ(bm.match_partial(iota_tokens(4), {}).tokens, 0u);
  BlockManager off(8, kBt, /*prefix_caching=*/false);
  compute_and_release(off, iota_tokens(9));
  EXPECT_EQ(off.match_partial(iota_tokens(4), {}).tokens, 0u);
}

TEST(BlockManager, ChainHashMeansADifferentEarlierBlockGivesNoMatch) {
  BlockManager bm(8, kBt);
  compute_and_release(bm, iota_tokens(9));  // [1-4] [5-8] +1
  // Same second block, different first block: the second must not match on its own.
  auto other = iota_tokens(9);
  other[0] = 42;
  std::vector<uint32_t> table;
  EXPECT_EQ(bm.match_prefix(other, table), 0u);
  EXPECT_TRUE(table.empty());
}

TEST(BlockManager, EvictsLeastRecentlyUsedCachedBlocksWhenFreeListIsEmpty) {
  BlockManager bm(6, kBt);
  auto a = iota_tokens(9, 100);  // 3 blocks: 2 full ones cached, the partial one freed
  auto b = iota_tokens(9, 200);
  compute_and_release(bm, a);
  compute_and_release(bm, b);
  EXPECT_EQ(bm.stats().cached, 4u);
  EXPECT_EQ(bm.stats().free, 2u);
  EXPECT_EQ(bm.available(), 6u);

  // Touch a's blocks: b's become the least recently used.
  std::vector<uint32_t> table;
  EXPECT_EQ(bm.match_prefix(a, table), 8u);
  bm.release(table);

  // Four fresh blocks: the two free ones, then b's two cached ones.
  ASSERT_TRUE(bm.allocate(table, 16));
  auto s = bm.stats();
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.cached, 2u);
  EXPECT_EQ(s.used, 4u);
  EXPECT_EQ(s.free, 0u);
  bm.release(table);  // unregistered now, so back to the free list
  EXPECT_EQ(bm.stats().free, 4u);

  // Evicted blocks are unregistered: b no longer matches, a still does.
  EXPECT_EQ(bm.match_prefix(b, table), 0u);
  EXPECT_EQ(bm.match_prefix(a, table), 8u);
  bm.release(table);
}

TEST(BlockManager, SharedPrefixIsReferenceCounted) {
  BlockManager bm(8, kBt);
  auto prompt = iota_tokens(9);
  std::vector<uint32_t> first;
  ASSERT_TRUE(bm.allocate(first, prompt.size()));
  bm.register_full_blocks(prompt, prompt.size(), first);

  // A second sequence with the same prompt shares the two full blocks while the first runs.
  std::vector<uint32_t> second;
  EXPECT_EQ(bm.match_prefix(prompt, second), 8u);
  ASSERT_TRUE(bm.allocate(second, prompt.size()));
  EXPECT_EQ(second[0], first[0]);
  EXPECT_EQ(second[1], first[1]);
  EXPECT_NE(second[2], first[2]);
  EXPECT_EQ(bm.stats().used, 4u);

  bm.release(first);  // shared blocks stay referenced by the second sequence
  auto s = bm.stats();
  EXPECT_EQ(s.used, 3u);
  EXPECT_EQ(s.cached, 0u);
  EXPECT_EQ(s.free, 5u);

  bm.release(second);
  s = bm.stats();
  EXPECT_EQ(s.used, 0u);
  EXPECT_EQ(s.cached, 2u);
  EXPECT_EQ(s.free, 6u);
}

TEST(BlockManager, RegistersOnlyComputedBlocks) {
  BlockManager bm(8, kBt);
  auto prompt = iota_tokens(12);
  std::vector<uint32_t> table;
  ASSERT_TRUE(bm.allocate(table, prompt.size()));
  bm.register_full_blocks(prompt, 5, table);  // only the first block is computed
  bm.release(table);
  EXPECT_EQ(bm.stats().cached, 1u);
  EXPECT_EQ(bm.match_prefix(prompt, table), 4u);
  bm.release(table);
}

TEST(BlockManager, ClearCacheAndDisabledCaching) {
  BlockManager bm(8, kBt);
  auto prompt = iota_tokens(9);
  compute_and_release(bm, prompt);
  bm.clear_cache();
  auto s = bm.stats();
  EXPECT_EQ(s.cached, 0u);
  EXPECT_EQ(s.free, 8u);
  std::vector<uint32_t> table;
  EXPECT_EQ(bm.match_prefix(prompt, table), 0u);

  BlockManager off(8, kBt, /*prefix_caching=*/false);
  compute_and_release(off, prompt);
  EXPECT_EQ(off.stats().cached, 0u);
  EXPECT_EQ(off.match_prefix(prompt, table), 0u);
}

}  // namespace
}  // namespace ragd::engine
