#include "rag/store/sqlite_store.h"

#include <gtest/gtest.h>

#include "rag/search/bm25_search.h"
#include "rag/store/schema.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

DocumentInput make_doc(std::string id, std::vector<std::string> texts, std::string hash = "h1") {
  DocumentInput d;
  d.external_id = std::move(id);
  d.title = "Title " + d.external_id;
  d.content_hash = std::move(hash);
  for (auto& t : texts) d.chunks.push_back(Chunk{d.title, "", std::move(t), 3});
  return d;
}

int64_t scalar(SqliteStore& s, const std::string& sql) {
  auto st = s.db().prepare(sql);
  st.step();
  return st.int64(0);
}

TEST(Store, CreatesASchemaWithVersionAndWal) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  EXPECT_EQ(scalar(*store, "PRAGMA user_version"), kSchemaVersion);
  {
    auto mode = store->db().prepare("PRAGMA journal_mode");
    mode.step();
    EXPECT_EQ(mode.text(0), "wal");
  }  // a statement left mid-step would block later COMMITs
  auto c = store->create_collection("docs");
  EXPECT_EQ(store->create_collection("docs").id, c.id);  // idempotent
  EXPECT_EQ(c.fts_tokenizer, kDefaultFtsTokenizer);
  EXPECT_THROW(store->create_collection("../evil"), Error);
  EXPECT_THROW(store->create_collection(""), Error);
  EXPECT_THROW(store->require_collection("missing"), Error);
}

TEST(Store, RefusesADatabaseFromANewerRagd) {
  TempDir tmp;
  { SqliteStore::open(tmp.path())->db().exec("PRAGMA user_version = 999"); }
  EXPECT_THROW(SqliteStore::open(tmp.path()), Error);
}

TEST(Store, ReplacingADocumentReplacesItsChunksAndFtsRows) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("default");
  int64_t id = store->put_document(c, std::nullopt, make_doc("a", {"apple banana", "cherry"}));
  store->put_document(c, std::nullopt, make_doc("b", {"banana split"}));
  EXPECT_EQ(store->stats(c.id).chunks, 3);
  EXPECT_EQ(bm25_search(*store, c, "apple", 10).size(), 1u);

  EXPECT_EQ(store->put_document(c, std::nullopt, make_doc("a", {"durian"}, "h2")), id);
  EXPECT_EQ(store->stats(c.id).chunks, 2);
  EXPECT_EQ(store->find_document(c.id, "a")->content_hash, "h2");
  EXPECT_TRUE(bm25_search(*store, c, "apple", 10).empty());
  EXPECT_EQ(bm25_search(*store, c, "durian", 10).size(), 1u);

  store->remove_document(c, id);
  EXPECT_FALSE(store->find_document(c.id, "a"));
  EXPECT_TRUE(bm25_search(*store, c, "durian", 10).empty());
  EXPECT_EQ(bm25_search(*store, c, "banana", 10).size(), 1u);
  store->db().exec(fmt::format("INSERT INTO {0}({0}) VALUES('integrity-check')", fts_table_name(c.id)));
  EXPECT_EQ(scalar(*store, "SELECT count(*) FROM chunks"), 1);
}

TEST(Store, CollectionsAreSeparateIndexes) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto a = store->create_collection("a"), b = store->create_collection("b");
  store->put_document(a, std::nullopt, make_doc("1", {"shared word alpha"}));
  store->put_document(b, std::nullopt, make_doc("1", {"shared word beta"}));
  auto ha = bm25_search(*store, a, "shared", 10), hb = bm25_search(*store, b, "shared", 10);
  ASSERT_EQ(ha.size(), 1u);
  ASSERT_EQ(hb.size(), 1u);
  EXPECT_NE(ha[0].chunk_id, hb[0].chunk_id);
  EXPECT_TRUE(bm25_search(*store, a, "beta", 10).empty());
}

TEST(Store, EmbeddingsFixTheDimensionAndBumpTheVersion) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("default");
  store->put_document(c, std::nullopt, make_doc("a", {"x", "y"}));
  auto ids = store->chunks_without_embedding(c.id, 10);
  ASSERT_EQ(ids.size(), 2u);
  std::vector<float> v = {1, 2, 3};
  store->put_embedding(c, ids[0], v, "toy");
  EXPECT_EQ(c.embedding_dim, 3u);
  EXPECT_THROW(store->put_embedding(c, ids[1], std::vector<float>{1, 2}, "toy"), Error);
  EXPECT_THROW(store->put_embedding(c, ids[1], v, "other"), Error);
  auto s1 = store->embedding_state(c.id);
  EXPECT_EQ(s1.count, 1);
  std::vector<float> got;
  store->for_each_embedding(c.id, [&](int64_t, std::span<const float> f) { got.assign(f.begin(), f.end()); });
  EXPECT_EQ(got, v);
  EXPECT_EQ(store->chunks_without_embedding(c.id, 10), std::vector<int64_t>{ids[1]});
  // Replacing the document drops its embeddings and changes the state.
  store->put_document(c, std::nullopt, make_doc("a", {"z"}, "h2"));
  auto s2 = store->embedding_state(c.id);
  EXPECT_EQ(s2.count, 0);
  EXPECT_NE(s2.version, s1.version);
}

}  // namespace
}  // namespace ragd::rag
