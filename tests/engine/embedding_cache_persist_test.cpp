// EmbeddingCache::save / load: round trip, recency order, and corrupt files rejected with
// the cache left as it was.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/embedding_cache.h"
#include "util/error.h"

namespace ragd::engine {
namespace {

class EmbeddingCachePersist : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ragd_embcache_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "embeddings.bin").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string read_all() const {
    std::ifstream f(path_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  void write_all(const std::string& bytes) const {
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    f << bytes;
  }

  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(EmbeddingCachePersist, RoundTripKeepsVectorsAndRecency) {
  EmbeddingCache a(10);
  a.put("m1/f32", "first", {1.f, 2.f, 3.f});
  a.put("m1/f32", "second", {4.f, 5.f, 6.f});
  a.put("m2/q8_0", "first", {7.f});
  ASSERT_TRUE(a.get("m1/f32", "first"));  // now the most recently used
  a.save(path_);
  EXPECT_FALSE(std::filesystem::exists(path_ + ".part"));

  EmbeddingCache b(2);  // smaller: the least recently used entry must be the one lost
  EXPECT_EQ(b.load(path_), 3u);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.get("m1/f32", "first"), (std::vector<float>{1.f, 2.f, 3.f}));
  EXPECT_EQ(b.get("m2/q8_0", "first"), (std::vector<float>{7.f}));
  EXPECT_FALSE(b.get("m1/f32", "second"));
}

TEST_F(EmbeddingCachePersist, EmptyCacheRoundTrips) {
  EmbeddingCache a(10);
  a.save(path_);
  EmbeddingCache b(10);
  EXPECT_EQ(b.load(path_), 0u);
  EXPECT_EQ(b.size(), 0u);
}

TEST_F(EmbeddingCachePersist, LoadMergesAndReplacesEqualKeys) {
  EmbeddingCache a(10);
  a.put("m", "x", {1.f});
  a.save(path_);
  EmbeddingCache b(10);
  b.put("m", "x", {9.f});
  b.put("m", "y", {2.f});
  b.load(path_);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.get("m", "x"), (std::vector<float>{1.f}));
  EXPECT_EQ(b.get("m", "y"), (std::vector<float>{2.f}));
}

TEST_F(EmbeddingCachePersist, CorruptFilesAreRejectedAndTheCacheIsUnchanged) {
  EmbeddingCache a(10);
  a.put("model", "text one", {0.5f, -0.25f});
  a.put("model", "text two", {1.5f, 2.5f});
  a.save(path_);
  const std::string good = read_all();
  ASSERT_GT(good.size(), 40u);

  auto expect_rejected = [&](const std::string& bytes, const std::string& what) {
    write_all(bytes);
    EmbeddingCache c(10);
    c.put("keep", "me", {3.f});
    EXPECT_THROW(c.load(path_), Error) << what;
    EXPECT_EQ(c.size(), 1u) << what;
    EXPECT_EQ(c.get("keep", "me"), (std::vector<float>{3.f})) << what;
  };
  // Every truncation, including an empty file.
  for (size_t n = 0; n < good.size(); ++n) expect_rejected(good.substr(0, n), "truncated to " + std::to_string(n));
  // Every single flipped byte is caught (by a field check or the checksum).
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    expect_rejected(bad, "byte " + std::to_string(i) + " flipped");
  }
  expect_rejected(good + "x", "trailing byte");
  std::string huge = good;
  const uint64_t count = uint64_t{1} << 60;  // entry count field follows magic + version
  std::memcpy(huge.data() + 12, &count, sizeof(count));
  expect_rejected(huge, "absurd entry count");

  EmbeddingCache c(10);
  EXPECT_THROW(c.load((dir_ / "missing.bin").string()), Error);
}

}  // namespace
}  // namespace ragd::engine
