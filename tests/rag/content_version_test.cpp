// Store::content_version and the schema migration that added it.
#include <gtest/gtest.h>

#include "rag/store/schema.h"
#include "rag/store/sqlite_store.h"
#include "rag/ingest/temp_dir.h"

namespace ragd::rag {
namespace {

DocumentInput doc(const std::string& id, const std::string& text) {
  DocumentInput d;
  d.external_id = id;
  d.title = "Title " + id;
  d.content_hash = text;
  d.chunks.push_back(Chunk{d.title, "", text, 2});
  return d;
}

TEST(ContentVersion, BumpsOnEveryDocumentChangeAndNothingElse) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("docs");
  auto other = store->create_collection("other");
  EXPECT_EQ(store->content_version(c.id), 0u);

  uint64_t v = 0;
  auto bumped = [&] {
    const uint64_t now = store->content_version(c.id);
    const bool changed = now > v;
    v = now;
    return changed;
  };
  int64_t id;
  {
    Transaction tx(store->db());
    id = store->put_document(c, std::nullopt, doc("a", "apple pie"), /*is_new=*/true);
    tx.commit();
  }
  EXPECT_TRUE(bumped());  // added
  store->put_document(c, std::nullopt, doc("a", "apple crumble"));
  EXPECT_TRUE(bumped());  // replaced
  store->get_chunks(std::vector<int64_t>{1});
  store->stats(c.id);
  EXPECT_FALSE(bumped());  // reads change nothing
  store->put_embedding(c, store->chunks_without_embedding(c.id, 1).at(0), std::vector<float>{1, 0},
                       "m");
  EXPECT_TRUE(bumped());  // dense search can see it
  store->remove_document(c, id);
  EXPECT_TRUE(bumped());  // removed
  EXPECT_EQ(store->content_version(other.id), 0u);  // per collection
}

TEST(ContentVersion, ARolledBackWriteLeavesItUnchanged) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("docs");
  {
    Transaction tx(store->db());
    store->put_document(c, std::nullopt, doc("a", "x"));
  }  // no commit
  EXPECT_EQ(store->content_version(c.id), 0u);
  EXPECT_EQ(store->stats(c.id).documents, 0);
}

TEST(ContentVersion, AVersionOneDatabaseIsMigrated) {
  TempDir tmp;
  {
    // Make a version-1 database: today's schema minus what versions 2 and 3 added.
    auto store = SqliteStore::open(tmp.path());
    store->create_collection("docs");
    store->db().exec("ALTER TABLE collections DROP COLUMN content_version");
    store->db().exec("DROP TABLE vector_log; ALTER TABLE collections DROP COLUMN vector_log_floor");
    store->db().exec("PRAGMA user_version = 1");
  }
  auto store = SqliteStore::open(tmp.path());
  auto st = store->db().prepare("PRAGMA user_version");
  st.step();
  EXPECT_EQ(st.int64(0), kSchemaVersion);
  st.reset();
  auto c = store->require_collection("docs");
  EXPECT_EQ(store->content_version(c.id), 0u);
  store->put_document(c, std::nullopt, doc("a", "x"));
  EXPECT_EQ(store->content_version(c.id), 1u);
}

}  // namespace
}  // namespace ragd::rag
