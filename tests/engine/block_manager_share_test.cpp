// BlockManager::share_prefix: the choices of one prompt share its full blocks and get a
// fresh block for its partial last one; each table's release drops only its own
// references, so a shared block is freed (or cached) once, by the last table to let go.
#include <gtest/gtest.h>

#include <numeric>

#include "engine/block_manager.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

constexpr size_t kBt = 4;

std::vector<int32_t> tokens(size_t n) {
  std::vector<int32_t> t(n);
  std::iota(t.begin(), t.end(), 1);
  return t;
}

TEST(BlockManagerShare, FullBlocksSharedPartialBlockFresh) {
  BlockManager bm(16, kBt, /*prefix_caching=*/false);
  std::vector<uint32_t> first, second, third;
  ASSERT_TRUE(bm.allocate(first, 10));  // 2 full blocks + 2 of a third
  ASSERT_TRUE(bm.share_prefix(first, 10, second));
  ASSERT_TRUE(bm.share_prefix(first, 10, third));
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], first[0]);
  EXPECT_EQ(second[1], first[1]);
  EXPECT_NE(second[2], first[2]);   // the partial block is the fork's own
  EXPECT_NE(third[2], second[2]);
  EXPECT_EQ(bm.stats().used, 5u);   // 3 + one copy each
  bm.release(first);
  EXPECT_EQ(bm.stats().used, 4u);   // the shared blocks are still the others'
  bm.release(second);
  EXPECT_EQ(bm.stats().used, 3u);
  bm.release(third);
  const auto st = bm.stats();
  EXPECT_EQ(st.used, 0u);
  EXPECT_EQ(st.free, 16u);
  EXPECT_EQ(bm.available(), 16u);
  // Every block handed out again exactly once: 16 distinct ids.
  std::vector<uint32_t> all;
  ASSERT_TRUE(bm.allocate(all, 16 * kBt));
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::unique(all.begin(), all.end()), all.end());
  EXPECT_FALSE(bm.allocate(all, 16 * kBt + 1));
}

TEST(BlockManagerShare, WholeBlocksNeedNoCopy) {
  BlockManager bm(8, kBt, false);
  std::vector<uint32_t> first, second;
  ASSERT_TRUE(bm.allocate(first, 8));
  ASSERT_TRUE(bm.share_prefix(first, 8, second));
  EXPECT_EQ(second, first);
  EXPECT_EQ(bm.stats().used, 2u);
  // The fork grows into fresh blocks of its own.
  ASSERT_TRUE(bm.allocate(second, 9));
  EXPECT_EQ(bm.stats().used, 3u);
  bm.release(second);
  bm.release(first);
  EXPECT_EQ(bm.stats().free, 8u);
}

TEST(BlockManagerShare, RegisteredSharedBlocksBecomeCachedOnceAllRelease) {
  BlockManager bm(8, kBt, true);
  const auto t = tokens(9);
  std::vector<uint32_t> first, second;
  ASSERT_TRUE(bm.allocate(first, t.size()));
  bm.register_full_blocks(t, t.size(), first);
  ASSERT_TRUE(bm.share_prefix(first, t.size(), second));
  bm.release(first);
  EXPECT_EQ(bm.stats().cached, 0u);  // still referenced by the fork
  bm.release(second);
  const auto st = bm.stats();
  EXPECT_EQ(st.cached, 2u);  // the two registered full blocks, once each
  EXPECT_EQ(st.used, 0u);
  EXPECT_EQ(st.free, 6u);
  // A later prompt finds them.
  std::vector<uint32_t> later;
  EXPECT_EQ(bm.match_prefix(t, later), 8u);
  bm.release(later);
}

TEST(BlockManagerShare, NoBlockForTheCopyLeavesTheTableEmpty) {
  BlockManager bm(3, kBt, false);
  std::vector<uint32_t> first, second;
  ASSERT_TRUE(bm.allocate(first, 10));  // every block
  EXPECT_FALSE(bm.share_prefix(first, 10, second));
  EXPECT_TRUE(second.empty());
  EXPECT_EQ(bm.stats().used, 3u);
  bm.release(first);
  EXPECT_EQ(bm.stats().free, 3u);
}

TEST(BlockManagerShare, MisuseFailsClearly) {
  BlockManager bm(8, kBt, false);
  std::vector<uint32_t> first, second{0};
  ASSERT_TRUE(bm.allocate(first, 4));
  EXPECT_THROW(bm.share_prefix(first, 4, second), Error);  // not empty
  std::vector<uint32_t> third;
  EXPECT_THROW(bm.share_prefix(first, 5, third), Error);   // more tokens than its blocks hold
  EXPECT_TRUE(third.empty());
}

}  // namespace
}  // namespace ragd::engine
