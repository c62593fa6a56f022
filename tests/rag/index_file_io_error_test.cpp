// Files ragd writes outside SQLite (the HNSW vector index with its sidecar, the embedding
// cache) when the write fails: a file-size limit (RLIMIT_FSIZE with SIGXFSZ ignored, as
// ragd runs) makes write() fail with EFBIG part-way, like a full disk. The write must fail
// loudly, leave the previous file byte for byte, leave no temporary file, and the next
// good run must rebuild (index) or keep using (cache) what is on disk.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <fstream>
#include <random>

#include "rag/store/sqlite_store.h"
#include "engine/embedding_cache.h"
#include "rag/ingest/temp_dir.h"
#include "rag/search/collection_vectors.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

namespace fs = std::filesystem;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool has_tmp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".tmp") return true;
  }
  return false;
}

// While alive, files of this process cannot grow past `bytes` (writes fail with EFBIG).
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    ::getrlimit(RLIMIT_FSIZE, &old_);
    rlimit lim = old_;
    lim.rlim_cur = bytes;
    EXPECT_EQ(::setrlimit(RLIMIT_FSIZE, &lim), 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &old_);
    ::signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit old_{};
  sighandler_t old_handler_;
};

struct VectorStore {
  TempDir tmp{"ragd-idxerr"};
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path());
  Collection c = store->create_collection("docs");
  VectorIndexConfig cfg;
  std::mt19937 rng{11};
  size_t added = 0;

  VectorStore() { cfg.kind = "hnsw"; }

  void add(size_t n) {
    std::normal_distribution<float> normal;
    Transaction tx(store->db());
    for (size_t i = 0; i < n; ++i, ++added) {
      const std::string id = fmt::format("d{}", added);
      store->put_document(c, std::nullopt,
                          DocumentInput{id, "", id, nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
      std::vector<float> v(16);
      for (auto& x : v) x = normal(rng);
      const int64_t chunk = store->chunks_without_embedding(c.id, 1).at(0);
      store->put_embedding(c, chunk, v, "toy");
    }
    tx.commit();
    // The change log is cut at the new version, so an index file saved before this call
    // cannot catch up from it: these tests exercise the rebuild and its save.
    store->prune_vector_changes(c.id, store->find_collection("docs")->vector_version);
  }
  fs::path index() const { return CollectionVectors::index_path(store->dir(), "docs"); }
  fs::path sidecar() const { return fs::path(index()) += ".json"; }
};

// A stale index is rebuilt while the disk is "full": the search still works from the
// in-memory index, the saved pair on disk is the old one, untouched, and the next open
// without the limit rebuilds and saves a pair that then loads.
TEST(IndexFileIoError, AFailedIndexSaveKeepsTheOldFilesAndSearchStillWorks) {
  VectorStore s;
  s.add(300);
  ASSERT_TRUE(CollectionVectors::open(*s.store, s.c, s.cfg)->rebuilt());
  const std::string old_index = read_bytes(s.index());
  const std::string old_sidecar = read_bytes(s.sidecar());
  ASSERT_GT(old_index.size(), 8192u);
  s.add(100);  // the saved index is now stale
  {
    FileSizeLimit limit(4096);  // smaller than the index, larger than the sidecar
    std::unique_ptr<CollectionVectors> cv;
    ASSERT_NO_THROW(cv = CollectionVectors::open(*s.store, s.c, s.cfg));
    EXPECT_TRUE(cv->rebuilt());
    EXPECT_EQ(cv->size(), 400u);
  }
  EXPECT_TRUE(read_bytes(s.index()) == old_index) << "the index file changed";
  EXPECT_TRUE(read_bytes(s.sidecar()) == old_sidecar) << "the sidecar changed";
  EXPECT_FALSE(has_tmp_files(s.index().parent_path()));
  auto cv = CollectionVectors::open(*s.store, s.c, s.cfg);
  EXPECT_TRUE(cv->rebuilt());  // the old pair is stale: not trusted
  EXPECT_EQ(cv->size(), 400u);
  EXPECT_FALSE(CollectionVectors::open(*s.store, s.c, s.cfg)->rebuilt());  // the new pair loads
}

// Every size limit from an empty file to nearly the whole index: the save fails before its
// rename each time, so the pair on disk stays the last one saved in full (which the next
// open finds stale and rebuilds, never trusting a truncated index).
TEST(IndexFileIoError, EveryShortWriteLeavesThePreviousPair) {
  VectorStore s;
  s.add(200);
  ASSERT_TRUE(CollectionVectors::open(*s.store, s.c, s.cfg)->rebuilt());
  std::string good_index = read_bytes(s.index()), good_sidecar = read_bytes(s.sidecar());
  const size_t full = good_index.size();
  for (size_t limit : {size_t{1}, size_t{64}, full / 3, full / 2, full - 1}) {
    SCOPED_TRACE(fmt::format("file size limit {} of {}", limit, full));
    s.add(1);
    {
      FileSizeLimit lim(limit);
      EXPECT_NO_THROW(CollectionVectors::open(*s.store, s.c, s.cfg));
    }
    EXPECT_TRUE(read_bytes(s.index()) == good_index) << "the index file changed";
    EXPECT_TRUE(read_bytes(s.sidecar()) == good_sidecar) << "the sidecar changed";
    EXPECT_FALSE(has_tmp_files(s.index().parent_path()));
    auto cv = CollectionVectors::open(*s.store, s.c, s.cfg);
    EXPECT_TRUE(cv->rebuilt());
    EXPECT_EQ(cv->size(), s.added);
    good_index = read_bytes(s.index());
    good_sidecar = read_bytes(s.sidecar());
  }
}

// The embedding cache's save under a full disk: a ragd::Error naming the file, the previous
// file intact and loadable, no temporary file left.
TEST(IndexFileIoError, AFailedEmbeddingCacheSaveKeepsTheOldFile) {
  TempDir tmp("ragd-cacheerr");
  const std::string file = (tmp.path() / "embeddings.cache").string();
  engine::EmbeddingCache cache(5000);
  for (int i = 0; i < 50; ++i) cache.put("m", fmt::format("text {}", i), std::vector<float>(64, 0.5f));
  cache.save(file);
  const std::string old = read_bytes(file);
  for (int i = 50; i < 1000; ++i) cache.put("m", fmt::format("text {}", i), std::vector<float>(64, 0.25f));
  {
    FileSizeLimit limit(old.size() + 100);
    try {
      cache.save(file);
      ADD_FAILURE() << "the save did not fail";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("embeddings.cache"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(read_bytes(file) == old) << "the cache file changed";
  EXPECT_FALSE(has_tmp_files(tmp.path()));
  engine::EmbeddingCache loaded(5000);
  EXPECT_EQ(loaded.load(file), 50u);
  cache.save(file);  // space again: the whole cache is written
  engine::EmbeddingCache again(5000);
  EXPECT_EQ(again.load(file), 1000u);
}

}  // namespace
}  // namespace ragd::rag
