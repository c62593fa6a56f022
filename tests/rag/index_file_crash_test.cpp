// The persisted vector index (DIR/vectors/<collection>.hnsw + .json sidecar) after crashes
// mid-write: whatever state a crash can leave, open() either loads an index that matches
// the store or rebuilds it from SQLite; it never trusts a damaged or mismatched file.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "rag/store/sqlite_store.h"
#include "rag/search/collection_vectors.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

struct IndexedStore {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path());
  Collection c = store->create_collection("crash");
  std::vector<std::vector<float>> vectors;
  std::vector<int64_t> chunk_ids;
  VectorIndexConfig cfg;

  explicit IndexedStore(size_t n, size_t dim = 8) {
    cfg.kind = "hnsw";
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    vectors.assign(n, std::vector<float>(dim));
    for (auto& v : vectors) {
      for (auto& x : v) x = normal(rng);
    }
    Transaction tx(store->db());
    for (size_t i = 0; i < n; ++i) {
      const std::string id = fmt::format("d{}", i);
      store->put_document(c, std::nullopt,
                          DocumentInput{id, "", id, nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
    }
    chunk_ids = store->chunks_without_embedding(c.id, n);
    for (size_t i = 0; i < n; ++i) store->put_embedding(c, chunk_ids[i], vectors[i], "toy");
    tx.commit();
  }
  std::filesystem::path index() const { return CollectionVectors::index_path(store->dir(), "crash"); }
  std::filesystem::path sidecar() const {
    auto p = index();
    p += ".json";
    return p;
  }
  // Opens the index and checks that it answers from the store's vectors.
  bool open_and_check_rebuilt() {
    auto cv = CollectionVectors::open(*store, c, cfg);
    EXPECT_EQ(cv->size(), vectors.size());
    for (size_t i = 0; i < vectors.size(); i += 7) {
      EXPECT_EQ(cv->search(vectors[i], 1).at(0).id, chunk_ids[i]);
    }
    return cv->rebuilt();
  }
};

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(IndexFileCrash, SaveLeavesNoTemporaryFiles) {
  IndexedStore s(60);
  EXPECT_TRUE(s.open_and_check_rebuilt());
  for (const auto& e : std::filesystem::directory_iterator(s.index().parent_path())) {
    EXPECT_EQ(e.path().extension() == ".tmp", false) << e.path();
  }
  EXPECT_FALSE(s.open_and_check_rebuilt());  // the saved pair loads
}

// A crash while writing a temporary file leaves it beside the good pair: it is ignored.
TEST(IndexFileCrash, LeftoverTemporaryFilesAreIgnored) {
  IndexedStore s(60);
  s.open_and_check_rebuilt();
  const std::string good = read_file(s.index());
  write_file(std::filesystem::path(s.index()) += ".tmp", good.substr(0, good.size() / 3));
  write_file(std::filesystem::path(s.sidecar()) += ".tmp", "{\"format\": 1, \"co");
  EXPECT_FALSE(s.open_and_check_rebuilt());
}

// Every truncation of the index file and of the sidecar is detected and rebuilt, as is the
// state a crash between the two renames leaves (a new index with the old sidecar).
TEST(IndexFileCrash, TruncatedOrMismatchedFilesAreRebuiltNotTrusted) {
  IndexedStore s(60);
  s.open_and_check_rebuilt();
  const std::string index = read_file(s.index());
  const std::string sidecar = read_file(s.sidecar());
  for (size_t len : {size_t{0}, size_t{1}, size_t{64}, index.size() / 2, index.size() - 1}) {
    SCOPED_TRACE(fmt::format("index truncated to {}", len));
    write_file(s.index(), index.substr(0, len));
    EXPECT_TRUE(s.open_and_check_rebuilt());
  }
  for (size_t len = 0; len < sidecar.size(); len += 17) {
    SCOPED_TRACE(fmt::format("sidecar truncated to {}", len));
    write_file(s.sidecar(), sidecar.substr(0, len));
    EXPECT_TRUE(s.open_and_check_rebuilt());
  }
  // New index, old sidecar: the index file was renamed, the crash came before the sidecar.
  const std::string old_sidecar = read_file(s.sidecar());
  {
    Transaction tx(s.store->db());
    s.store->put_document(s.c, std::nullopt,
                          DocumentInput{"late", "", "late", nlohmann::json::object(), {Chunk{"", "", "t", 1}}});
    const int64_t chunk = s.store->chunks_without_embedding(s.c.id, 1).at(0);
    s.vectors.push_back(std::vector<float>(8, 0.25f));
    s.chunk_ids.push_back(chunk);
    auto cv = CollectionVectors::open(*s.store, s.c, s.cfg);
    cv->upsert(s.c, chunk, s.vectors.back(), "toy");
    tx.commit();
    cv->save();
  }
  write_file(s.sidecar(), old_sidecar);
  EXPECT_TRUE(s.open_and_check_rebuilt());
  EXPECT_FALSE(s.open_and_check_rebuilt());
}

}  // namespace
}  // namespace ragd::rag
