// The store contract (rag/store/store.h), run unchanged against every backend: SQLite in a
// temporary directory, and PostgreSQL on a server this test starts (postgres_process.h;
// skipped with the reason when the Debian server binaries are absent), one fresh database
// per test. Everything here goes through the Store interface only, so a backend passing
// it can replace the other under ingest, search, the answer service and the server.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "postgres_process.h"
#include "rag/ingest/temp_dir.h"
#include "rag/search/bm25_search.h"
#include "rag/search/collection_vectors.h"
#include "rag/store/open_store.h"
#include "rag/store/postgres_store.h"
#include "rag/store/sqlite_store.h"
#include "rag/store/store_access.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// One PostgreSQL server for the whole suite, started on first use, killed at exit.
testing::PostgresProcess& postgres() {
  static testing::PostgresProcess pg;
  static bool started = !pg.absent() && pg.start();
  if (!pg.absent() && !started) ADD_FAILURE() << "PostgreSQL did not start: " << pg.error();
  return pg;
}

// A new empty database on the suite's server; its URI.
std::string fresh_database() {
  static std::atomic<int> n{0};
  std::string name = "ragd_test_" + std::to_string(getpid()) + "_" + std::to_string(n++);
  PGconn* c = PQconnectdb(postgres().url().c_str());
  PGresult* r = PQexec(c, ("CREATE DATABASE " + name).c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = PQerrorMessage(c);
  PQclear(r);
  PQfinish(c);
  if (!ok) ADD_FAILURE() << "CREATE DATABASE failed: " << err;
  return postgres().url(name);
}

DocumentInput make_doc(std::string id, std::vector<std::string> texts, std::string hash = "h1",
                       nlohmann::json metadata = nlohmann::json::object()) {
  DocumentInput d;
  d.external_id = std::move(id);
  d.title = "Title " + d.external_id;
  d.content_hash = std::move(hash);
  d.metadata = std::move(metadata);
  for (auto& t : texts) d.chunks.push_back(Chunk{d.title, "", std::move(t), 3});
  return d;
}

std::vector<int64_t> ids_of(const std::vector<ScoredChunk>& hits) {
  std::vector<int64_t> out;
  for (const auto& h : hits) out.push_back(h.chunk_id);
  return out;
}

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgres") {
      if (postgres().absent()) GTEST_SKIP() << testing::PostgresProcess::kSkipReason;
      location_ = fresh_database();
    } else {
      location_ = "sqlite";
    }
    store_ = reopen();
  }
  // Another connection to the same data (a second replica, or StoreAccess's reader).
  std::unique_ptr<Store> reopen() { return open_store(location_, tmp_.path()); }

  std::vector<int64_t> search(const Collection& c, const std::string& q, size_t limit = 10,
                              const std::vector<MetadataFilter>& filters = {}) {
    return ids_of(bm25_search_fts5(*store_, c, q, limit, filters));
  }
  std::vector<int64_t> filtered(const Collection& c, std::vector<std::string> exprs) {
    std::vector<MetadataFilter> f;
    for (const auto& e : exprs) f.push_back(MetadataFilter::parse(e));
    return store_->chunk_ids_matching(c.id, f);
  }
  std::vector<int64_t> chunk_ids(const Collection& c) { return store_->chunk_ids_matching(c.id, {}); }

  TempDir tmp_;
  std::string location_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreContract, CollectionsAreCreatedOnceListedInNameOrderAndValidated) {
  auto b = store_->create_collection("beta");
  auto a = store_->create_collection("alpha", "unicode61");
  EXPECT_EQ(store_->create_collection("beta").id, b.id);  // idempotent
  EXPECT_NE(a.id, b.id);
  auto all = store_->list_collections();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "alpha");
  EXPECT_EQ(all[1].name, "beta");
  EXPECT_EQ(all[0].embedding_dim, 0u);
  EXPECT_NE(store_->find_collection("alpha")->fts_tokenizer, store_->find_collection("beta")->fts_tokenizer);
  EXPECT_FALSE(store_->find_collection("gamma"));
  EXPECT_THROW(store_->create_collection("../evil"), Error);
  EXPECT_THROW(store_->create_collection(""), Error);
  EXPECT_THROW(store_->create_collection("ok", "klingon"), Error);
  try {
    store_->require_collection("gamma");
    FAIL() << "no error for a missing collection";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("alpha, beta"), std::string::npos) << e.what();
  }
}

TEST_P(StoreContract, ReplacingADocumentKeepsItsIdAndReplacesChunksAndFullText) {
  auto c = store_->create_collection("default");
  int64_t id = store_->put_document(c, std::nullopt, make_doc("a", {"apple banana", "cherry"}), true);
  store_->put_document(c, std::nullopt, make_doc("b", {"banana split"}), true);
  EXPECT_EQ(store_->stats(c.id).chunks, 3);
  EXPECT_EQ(store_->stats(c.id).documents, 2);
  EXPECT_EQ(search(c, "apple").size(), 1u);

  EXPECT_EQ(store_->put_document(c, std::nullopt, make_doc("a", {"durian"}, "h2")), id);
  EXPECT_EQ(store_->stats(c.id).chunks, 2);
  EXPECT_EQ(store_->find_document(c.id, "a")->content_hash, "h2");
  EXPECT_TRUE(search(c, "apple").empty());
  EXPECT_EQ(search(c, "durian").size(), 1u);

  store_->remove_document(c, id);
  EXPECT_FALSE(store_->find_document(c.id, "a"));
  EXPECT_TRUE(search(c, "durian").empty());
  EXPECT_EQ(search(c, "banana").size(), 1u);
  EXPECT_EQ(store_->stats(c.id).chunks, 1);
}

TEST_P(StoreContract, DocumentsListInInsertionOrderWithTheirChunks) {
  auto c = store_->create_collection("default");
  for (int i = 0; i < 5; ++i) {
    store_->put_document(c, std::nullopt,
                         make_doc(fmt::format("d{}", i), {"one", "two"}, "h", {{"n", i}, {"lang", "en"}}));
  }
  auto page = store_->list_documents(c.id, 2, 1);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].external_id, "d1");
  EXPECT_EQ(page[1].external_id, "d2");
  EXPECT_EQ(page[0].chunk_count, 2);
  EXPECT_GT(page[0].ingested_at, 0);
  EXPECT_EQ(nlohmann::json::parse(page[0].metadata), (nlohmann::json{{"n", 1}, {"lang", "en"}}));
  EXPECT_EQ(store_->list_documents(c.id, 10, 4).size(), 1u);
  EXPECT_TRUE(store_->list_documents(c.id, 10, 5).empty());

  auto d = store_->get_document(c.id, "d3");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->title, "Title d3");
  EXPECT_FALSE(store_->get_document(c.id, "nope"));
  auto chunks = store_->document_chunks(d->id);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].ordinal, 0);
  EXPECT_EQ(chunks[0].text, "one");
  EXPECT_EQ(chunks[1].text, "two");
  EXPECT_EQ(chunks[1].external_id, "d3");
}

TEST_P(StoreContract, GetChunksFollowsTheRequestedOrderAndSkipsMissingIds) {
  auto c = store_->create_collection("default");
  int64_t doc = store_->put_document(c, std::nullopt, make_doc("a", {"first", "second", "third"}, "h", {{"k", "v"}}));
  auto ids = chunk_ids(c);
  ASSERT_EQ(ids.size(), 3u);
  std::vector<int64_t> want = {ids[2], 999999, ids[0]};
  auto got = store_->get_chunks(want);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, ids[2]);
  EXPECT_EQ(got[0].text, "third");
  EXPECT_EQ(got[0].ordinal, 2);
  EXPECT_EQ(got[0].document_id, doc);
  EXPECT_EQ(got[0].title, "Title a");
  EXPECT_EQ(got[0].token_count, 3u);
  EXPECT_EQ(nlohmann::json::parse(got[0].metadata), (nlohmann::json{{"k", "v"}}));
  EXPECT_EQ(got[1].text, "first");
  auto docs = store_->document_ids(want);
  EXPECT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[ids[0]], doc);
  EXPECT_TRUE(store_->get_chunks({}).empty());
}

TEST_P(StoreContract, TextRoundTripsExactly) {
  auto c = store_->create_collection("default");
  const std::string text = "Ünïcödé — naïve café 東京 😀 \"quoted\" back\\slash 'single' $1 ?2";
  store_->put_document(c, std::nullopt, make_doc("ü-1", {text}, "h", {{"title", "Zoë \"x\""}}));
  auto got = store_->get_chunks(chunk_ids(c));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, text);
  EXPECT_EQ(got[0].external_id, "ü-1");
  EXPECT_EQ(nlohmann::json::parse(got[0].metadata)["title"], "Zoë \"x\"");
  EXPECT_TRUE(store_->find_document(c.id, "ü-1"));
}

TEST_P(StoreContract, MetadataFiltersCompareAsTextAndMissingKeysNeverEqual) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("en", {"x"}, "h", {{"lang", "en"}, {"year", 2021}, {"ok", true},
                                                                    {"author", {{"name", "Ada"}}}}));
  store_->put_document(c, std::nullopt, make_doc("de", {"x", "y"}, "h", {{"lang", "de"}, {"year", 2020}, {"ok", false}}));
  store_->put_document(c, std::nullopt, make_doc("none", {"x"}));
  auto ids = chunk_ids(c);
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(filtered(c, {"lang=en"}), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(filtered(c, {"lang=de"}), (std::vector<int64_t>{ids[1], ids[2]}));
  EXPECT_EQ(filtered(c, {"lang!=en"}), (std::vector<int64_t>{ids[1], ids[2], ids[3]}));  // missing key passes !=
  EXPECT_EQ(filtered(c, {"year=2021"}), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(filtered(c, {"ok=true"}), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(filtered(c, {"ok=false"}), (std::vector<int64_t>{ids[1], ids[2]}));
  EXPECT_EQ(filtered(c, {"author.name=Ada"}), std::vector<int64_t>{ids[0]});
  EXPECT_EQ(filtered(c, {"lang=de", "year=2021"}), std::vector<int64_t>{});
  EXPECT_EQ(filtered(c, {"lang!=de", "ok!=true"}), std::vector<int64_t>{ids[3]});
  EXPECT_TRUE(filtered(c, {"nothing=here"}).empty());
  // Full-text search honours the same filters.
  EXPECT_EQ(search(c, "x", 10, {MetadataFilter::parse("lang=de")}), std::vector<int64_t>{ids[1]});
}

TEST_P(StoreContract, FullTextRanksBestFirstAndStaysInItsCollection) {
  auto c = store_->create_collection("default");
  auto other = store_->create_collection("other");
  store_->put_document(c, std::nullopt, make_doc("a", {"graphene conducts heat well", "nothing relevant here"}));
  store_->put_document(c, std::nullopt,
                       make_doc("b", {"graphene graphene graphene: a graphene sheet of graphene", "pizza recipes"}));
  store_->put_document(other, std::nullopt, make_doc("a", {"graphene everywhere"}));
  auto ids = chunk_ids(c);
  ASSERT_EQ(ids.size(), 4u);
  auto hits = bm25_search_fts5(*store_, c, "graphene", 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].chunk_id, ids[2]);  // more occurrences rank first
  EXPECT_EQ(hits[1].chunk_id, ids[0]);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_EQ(hits[0].document_id, store_->find_document(c.id, "b")->id);
  EXPECT_EQ(search(c, "graphene", 1), std::vector<int64_t>{ids[2]});  // limit
  // Any term matches (OR), stemmed with the default tokenizer.
  auto either = search(c, "pizza conducting");
  std::set<int64_t> any(either.begin(), either.end());
  EXPECT_EQ(any, (std::set<int64_t>{ids[0], ids[3]}));
  EXPECT_TRUE(search(c, "").empty());
  EXPECT_TRUE(search(c, "zebra").empty());
  EXPECT_TRUE(search(c, "graphene", 0).empty());
}

TEST_P(StoreContract, FullTextTreatsQuerySyntaxAsPlainWords) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"near the cat and the dog"}));
  // FTS5 and tsquery operators, quotes and SQL must neither fail nor change the match.
  for (const char* q : {"cat AND NOT dog", "\"cat\" OR", "cat & !dog | (", "dog:* <-> cat", "NEAR(cat dog)",
                        "'; DROP TABLE chunks; --", "cat\\", "*"}) {
    EXPECT_NO_THROW(bm25_search_fts5(*store_, c, q, 10)) << q;
  }
  EXPECT_EQ(search(c, "cat AND NOT dog").size(), 1u);
  EXPECT_EQ(store_->stats(c.id).chunks, 1);
}

TEST_P(StoreContract, TiesAreOrderedByChunkId) {
  auto c = store_->create_collection("default");
  for (int i = 0; i < 6; ++i) store_->put_document(c, std::nullopt, make_doc(fmt::format("d{}", i), {"same words here"}));
  auto hits = search(c, "words");
  auto sorted = hits;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(hits.size(), 6u);
  EXPECT_EQ(hits, sorted);
}

TEST_P(StoreContract, EmbeddingsFixTheModelAndDimension) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y", "z"}));
  auto ids = store_->chunks_without_embedding(c.id, 10);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(store_->chunks_without_embedding(c.id, 2).size(), 2u);
  std::vector<float> v = {1.5f, -2.0f, 3.25f};
  store_->put_embedding(c, ids[1], v, "toy");
  EXPECT_EQ(c.embedding_dim, 3u);
  EXPECT_EQ(store_->find_collection("default")->embedding_model, "toy");
  EXPECT_THROW(store_->put_embedding(c, ids[2], std::vector<float>{1, 2}, "toy"), Error);
  EXPECT_THROW(store_->put_embedding(c, ids[2], v, "other"), Error);
  EXPECT_THROW(store_->put_embedding(c, ids[2], std::vector<float>{}, "toy"), Error);
  std::vector<float> w = {0, 1, 0};
  store_->put_embedding(c, ids[0], w, "toy");
  store_->put_embedding(c, ids[0], v, "toy");  // replaces
  std::vector<std::pair<int64_t, std::vector<float>>> got;
  store_->for_each_embedding(c.id, [&](int64_t id, std::span<const float> f) {
    got.emplace_back(id, std::vector<float>(f.begin(), f.end()));
  });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, ids[0]);  // ascending chunk id
  EXPECT_EQ(got[0].second, v);
  EXPECT_EQ(got[1].first, ids[1]);
  EXPECT_EQ(store_->chunks_without_embedding(c.id, 10), std::vector<int64_t>{ids[2]});
  EXPECT_EQ(store_->stats(c.id).embeddings, 2);
}

TEST_P(StoreContract, EmbeddingStateTracksTheStoredVectors) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y"}));
  store_->put_document(c, std::nullopt, make_doc("b", {"z"}));
  auto ids = store_->chunks_without_embedding(c.id, 10);
  EmbeddingState empty = store_->embedding_state(c.id);
  EXPECT_EQ(empty.count, 0);
  std::vector<float> v = {1, 0};
  for (int64_t id : ids) store_->put_embedding(c, id, v, "toy");
  EmbeddingState full = store_->embedding_state(c.id);
  EXPECT_EQ(full.count, 3);
  EXPECT_EQ(full.version, c.vector_version);
  EXPECT_EQ(full.id_checksum, embedding_id_hash(ids[0]) + embedding_id_hash(ids[1]) + embedding_id_hash(ids[2]));
  EXPECT_EQ(store_->embedding_state(c.id), full);  // reads change nothing
  // Replacing a document drops its embeddings and moves the version.
  store_->put_document(c, std::nullopt, make_doc("a", {"w"}, "h2"));
  EmbeddingState after = store_->embedding_state(c.id);
  EXPECT_EQ(after.count, 1);
  EXPECT_GT(after.version, full.version);
  EXPECT_EQ(store_->find_collection("default")->vector_version, after.version);
}

TEST_P(StoreContract, ContentVersionMovesOnEveryVisibleChangeOnly) {
  auto c = store_->create_collection("default");
  uint64_t v0 = store_->content_version(c.id);
  EXPECT_EQ(v0, 0u);
  int64_t doc = store_->put_document(c, std::nullopt, make_doc("a", {"x"}));
  uint64_t v1 = store_->content_version(c.id);
  EXPECT_GT(v1, v0);
  store_->stats(c.id);
  search(c, "x");
  EXPECT_EQ(store_->content_version(c.id), v1);
  store_->put_embedding(c, store_->chunks_without_embedding(c.id, 1)[0], std::vector<float>{1}, "toy");
  uint64_t v2 = store_->content_version(c.id);
  EXPECT_GT(v2, v1);
  store_->remove_document(c, doc);
  EXPECT_GT(store_->content_version(c.id), v2);
  EXPECT_EQ(store_->content_version(987654), 0u);
}

TEST_P(StoreContract, SourcesUpsertAndOwnTheirDocuments) {
  auto c = store_->create_collection("default");
  int64_t s = store_->upsert_source(c.id, "docs/a.md", "pending", 10);
  EXPECT_EQ(store_->upsert_source(c.id, "docs/a.md", "h2", 12), s);
  auto rec = store_->find_source(c.id, "docs/a.md");
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->content_hash, "h2");
  EXPECT_EQ(rec->size, 12);
  EXPECT_FALSE(store_->find_source(c.id, "docs/b.md"));
  int64_t d1 = store_->put_document(c, s, make_doc("a#1", {"x"}));
  int64_t d2 = store_->put_document(c, s, make_doc("a#2", {"y"}));
  store_->put_document(c, std::nullopt, make_doc("loose", {"z"}));
  auto docs = store_->documents_of_source(s);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], std::make_pair(d1, std::string("a#1")));
  EXPECT_EQ(docs[1], std::make_pair(d2, std::string("a#2")));
  EXPECT_EQ(store_->stats(c.id).sources, 1);
}

TEST_P(StoreContract, TransactionsCommitTogetherOrNotAtAll) {
  auto c = store_->create_collection("default");
  {
    StoreTransaction tx(*store_);
    store_->put_document(c, std::nullopt, make_doc("kept", {"alpha"}));
    EXPECT_THROW({ StoreTransaction nested(*store_); }, Error);  // no nesting
    tx.commit();
  }
  try {
    StoreTransaction tx(*store_);
    store_->put_document(c, std::nullopt, make_doc("lost", {"beta"}));
    store_->put_document(c, std::nullopt, make_doc("lost2", {"gamma"}));
    throw Error("crash in the middle");
  } catch (const Error&) {
  }
  EXPECT_TRUE(store_->find_document(c.id, "kept"));
  EXPECT_FALSE(store_->find_document(c.id, "lost"));
  EXPECT_TRUE(search(c, "beta").empty());
  EXPECT_EQ(store_->stats(c.id).documents, 1);
  // A failed statement inside a transaction: the rest of it is discarded too.
  try {
    StoreTransaction tx(*store_);
    store_->put_document(c, std::nullopt, make_doc("half", {"delta"}));
    store_->put_embedding(c, 424242, std::vector<float>{1}, "toy");  // no such chunk
    tx.commit();
    ADD_FAILURE() << "an embedding of a missing chunk was stored";
  } catch (const Error&) {
  }
  EXPECT_FALSE(store_->find_document(c.id, "half"));
  // The connection stays usable.
  store_->put_document(c, std::nullopt, make_doc("after", {"epsilon"}));
  EXPECT_EQ(search(c, "epsilon").size(), 1u);
}

TEST_P(StoreContract, AnotherConnectionSeesOnlyCommittedWrites) {
  auto c = store_->create_collection("default");
  auto other = reopen();
  StoreTransaction tx(*store_);
  store_->put_document(c, std::nullopt, make_doc("a", {"visible later"}));
  EXPECT_FALSE(other->find_document(c.id, "a"));
  tx.commit();
  EXPECT_TRUE(other->find_document(c.id, "a"));
  auto oc = other->require_collection("default");
  EXPECT_EQ(ids_of(bm25_search_fts5(*other, oc, "visible", 10)).size(), 1u);
  EXPECT_EQ(other->content_version(c.id), store_->content_version(c.id));
}

TEST_P(StoreContract, DeletingACollectionRemovesEverythingInIt) {
  auto c = store_->create_collection("gone");
  auto keep = store_->create_collection("kept");
  store_->put_document(c, store_->upsert_source(c.id, "f", "h", 1), make_doc("a", {"shared"}));
  store_->put_document(keep, std::nullopt, make_doc("a", {"shared"}));
  store_->put_embedding(c, chunk_ids(c)[0], std::vector<float>{1, 2}, "toy");
  store_->delete_collection(c);
  EXPECT_FALSE(store_->find_collection("gone"));
  EXPECT_EQ(store_->list_collections().size(), 1u);
  EXPECT_EQ(store_->stats(c.id).chunks, 0);
  EXPECT_EQ(store_->stats(c.id).embeddings, 0);
  EXPECT_EQ(search(keep, "shared").size(), 1u);
  // The name can be used again, empty.
  auto again = store_->create_collection("gone");
  EXPECT_EQ(store_->stats(again.id).documents, 0);
  EXPECT_TRUE(search(again, "shared").empty());
}

TEST_P(StoreContract, VectorSearchRunsOnTheStoredEmbeddings) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y", "z"}));
  auto ids = store_->chunks_without_embedding(c.id, 10);
  const std::vector<std::vector<float>> vs = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (size_t i = 0; i < ids.size(); ++i) store_->put_embedding(c, ids[i], vs[i], "toy");
  auto index = CollectionVectors::open(*store_, c);
  ASSERT_EQ(index->size(), 3u);
  auto hits = index->search(std::vector<float>{0.1f, 0.9f, 0}, 1);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, ids[1]);
}

// The change log of vectors (Store::vector_changes_since): chunk id → vector now (empty:
// removed), as one call reports it.
struct Changes {
  VectorChangeSet set;
  std::map<int64_t, std::vector<float>> vectors;
};
Changes changes_since(Store& s, const Collection& c, int64_t version) {
  Changes out;
  out.set = s.vector_changes_since(c, version, [&](int64_t id, std::span<const float> v) {
    EXPECT_FALSE(out.vectors.contains(id)) << "chunk " << id << " reported twice";
    out.vectors[id].assign(v.begin(), v.end());
  });
  EXPECT_EQ(out.set.changes, out.vectors.size());
  return out;
}

TEST_P(StoreContract, VectorChangesAfterAVersionAreExactlyTheWritesMade) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y"}), true);
  store_->put_document(c, std::nullopt, make_doc("b", {"w"}), true);
  auto ids = chunk_ids(c);  // x, y, w
  ASSERT_EQ(ids.size(), 3u);
  for (size_t i = 0; i < ids.size(); ++i) store_->put_embedding(c, ids[i], std::vector<float>{float(i), 1}, "toy");
  const int64_t v0 = c.vector_version;

  auto all = changes_since(*store_, c, 0);  // a new collection's log reaches back to 0
  ASSERT_TRUE(all.set.complete) << all.set.reason;
  EXPECT_EQ(all.set.version, v0);
  EXPECT_EQ(all.vectors.size(), 3u);
  EXPECT_EQ(all.vectors[ids[2]], (std::vector<float>{2, 1}));
  auto none = changes_since(*store_, c, v0);
  EXPECT_TRUE(none.set.complete);
  EXPECT_TRUE(none.vectors.empty());

  // After v0: x's vector replaced, then document a removed (x, y deleted); b replaced (w
  // deleted, its new chunk embedded); a chunk without a vector deleted (no entry).
  store_->put_embedding(c, ids[0], std::vector<float>{9, 9}, "toy");
  const int64_t v1 = c.vector_version;
  store_->remove_document(c, store_->find_document(c.id, "a")->id);
  store_->put_document(c, std::nullopt, make_doc("b", {"w2"}, "h2"));
  int64_t w2 = store_->chunks_without_embedding(c.id, 10).at(0);
  store_->put_embedding(c, w2, std::vector<float>{5, 5}, "toy");
  store_->put_document(c, std::nullopt, make_doc("e", {"no vector"}));
  store_->remove_document(c, store_->find_document(c.id, "e")->id);

  auto after = changes_since(*reopen(), c, v0);  // another connection reads the same log
  ASSERT_TRUE(after.set.complete) << after.set.reason;
  EXPECT_EQ(after.set.version, store_->find_collection("default")->vector_version);
  // SQLite may give w2 a deleted chunk's id: then the id's newest change, the vector, wins.
  std::map<int64_t, std::vector<float>> want = {{ids[0], {}}, {ids[1], {}}, {ids[2], {}}};
  want[w2] = {5, 5};
  EXPECT_EQ(after.vectors, want);
  // From v1 the same: x's replacement (at v1) is superseded by its removal.
  EXPECT_EQ(changes_since(*store_, c, v1).vectors, want);

  // A rolled-back write leaves no entry: the log is written in the writing transaction.
  const int64_t v2 = store_->find_collection("default")->vector_version;
  {
    StoreTransaction tx(*store_);
    Collection copy = c;
    store_->put_embedding(copy, w2, std::vector<float>{7, 7}, "toy");
  }
  auto rolled = changes_since(*store_, c, v2);
  EXPECT_TRUE(rolled.set.complete);
  EXPECT_TRUE(rolled.vectors.empty());
  EXPECT_EQ(rolled.set.version, v2);
}

TEST_P(StoreContract, VectorChangesSignalARebuildWhenTheLogCannotServe) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y", "z"}), true);
  auto ids = chunk_ids(c);
  for (int64_t id : ids) store_->put_embedding(c, id, std::vector<float>{1, 0}, "toy");
  const int64_t v = c.vector_version;

  store_->prune_vector_changes(c.id, v - 1);
  auto pruned = changes_since(*store_, c, v - 2);
  EXPECT_FALSE(pruned.set.complete);
  EXPECT_TRUE(pruned.vectors.empty());
  EXPECT_NE(pruned.set.reason.find("pruned"), std::string::npos) << pruned.set.reason;
  auto kept = changes_since(*store_, c, v - 1);  // at the floor: the rest is still there
  ASSERT_TRUE(kept.set.complete) << kept.set.reason;
  EXPECT_EQ(kept.vectors.size(), 1u);
  EXPECT_TRUE(kept.vectors.contains(ids[2]));
  store_->prune_vector_changes(c.id, 1);  // the floor never moves back
  EXPECT_FALSE(changes_since(*store_, c, v - 2).set.complete);

  auto ahead = changes_since(*store_, c, v + 5);
  EXPECT_FALSE(ahead.set.complete);
  EXPECT_NE(ahead.set.reason.find("ahead"), std::string::npos) << ahead.set.reason;

  Collection other_model = c;
  other_model.embedding_model = "another";
  EXPECT_FALSE(changes_since(*store_, other_model, v).set.complete);

  store_->delete_collection(c);
  auto gone = changes_since(*store_, c, v);
  EXPECT_FALSE(gone.set.complete);
  EXPECT_NE(gone.set.reason.find("deleted"), std::string::npos) << gone.set.reason;
  // A collection made after the drop never gets the dropped one's id (an index or log
  // position kept for that id must not apply to it).
  EXPECT_NE(store_->create_collection("default").id, c.id);
}

// Two replicas (two StoreAccess, each with its own connections and vector index cache) on
// one store: what one ingests the other finds at its next query, through the change log.
TEST_P(StoreContract, ReplicaIndexesConvergeIncrementally) {
  TempDir dir_a, dir_b;  // PostgreSQL: each replica's own cache directory
  bool sqlite = GetParam() == "sqlite";
  StoreAccess a(sqlite ? tmp_.path() : dir_a.path(), location_);
  StoreAccess b(sqlite ? tmp_.path() : dir_b.path(), location_);
  auto ingest = [&](const std::string& id, const std::vector<std::vector<float>>& vs) {
    a.write([&](Store& s) {
      auto c = s.create_collection("docs");
      StoreTransaction tx(s);
      std::vector<std::string> texts(vs.size(), "t");
      int64_t doc = s.put_document(c, std::nullopt, make_doc(id, texts));
      auto chunks = s.document_chunks(doc);
      for (size_t i = 0; i < vs.size(); ++i) s.put_embedding(c, chunks[i].id, vs[i], "toy");
      tx.commit();
      return 0;
    });
  };
  auto chunks_of = [&](const std::string& id) {
    return a.write([&](Store& s) {
      std::vector<int64_t> out;
      auto c = s.require_collection("docs");
      for (const auto& ch : s.document_chunks(s.find_document(c.id, id)->id)) out.push_back(ch.id);
      return out;
    });
  };
  // What replica b's index returns for `q`: ids best first, as a query through b would.
  auto search_b = [&](std::vector<float> q, size_t k = 10) {
    return b.read([&](Store& s) {
      auto c = s.require_collection("docs");
      std::vector<int64_t> out;
      for (const auto& h : b.vectors(c)->search(q, k)) out.push_back(h.id);
      return out;
    });
  };

  ingest("a", {{1, 0, 0}, {0.9f, 0.1f, 0}});
  EXPECT_EQ(search_b({1, 0, 0}, 1), std::vector<int64_t>{chunks_of("a")[0]});
  EXPECT_EQ(b.index_updates().opened, 1u);

  ingest("new", {{0, 0, 1}});  // through replica a
  EXPECT_EQ(search_b({0, 0, 1}, 1), chunks_of("new"));
  EXPECT_EQ(search_b({0, 0, 1}).size(), 3u);
  auto u = b.index_updates();
  EXPECT_EQ(u.incremental, 1u);
  EXPECT_EQ(u.rebuilt, 0u);
  EXPECT_EQ(u.opened, 1u);

  auto gone = chunks_of("a");
  a.write([&](Store& s) {
    auto c = s.require_collection("docs");
    s.remove_document(c, s.find_document(c.id, "a")->id);
    return 0;
  });
  auto left = search_b({1, 0, 0});
  EXPECT_EQ(left, chunks_of("new"));
  for (int64_t id : gone) EXPECT_EQ(std::count(left.begin(), left.end(), id), 0) << id;
  EXPECT_EQ(b.index_updates().incremental, 2u);
  EXPECT_EQ(b.index_updates().rebuilt, 0u);

  // Replica b fell behind a pruned log: it rebuilds, and still converges.
  int64_t at = a.write([&](Store& s) { return s.require_collection("docs").vector_version; });
  ingest("late", {{0, 1, 0}});
  a.write([&](Store& s) {
    s.prune_vector_changes(s.require_collection("docs").id, at + 1);
    return 0;
  });
  EXPECT_EQ(search_b({0, 1, 0}, 1), chunks_of("late"));
  EXPECT_EQ(search_b({0, 1, 0}).size(), 2u);
  EXPECT_EQ(b.index_updates().rebuilt, 1u);
  EXPECT_EQ(b.index_updates().incremental, 2u);
}

TEST_P(StoreContract, AnHnswIndexCatchesUpWithAddsReplacementsAndRemovals) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y", "z"}), true);
  auto ids = chunk_ids(c);
  const std::vector<std::vector<float>> vs = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
  for (size_t i = 0; i < ids.size(); ++i) store_->put_embedding(c, ids[i], vs[i], "toy");
  VectorIndexConfig config;
  config.kind = "hnsw";
  auto index = CollectionVectors::open(*store_, c, config);
  ASSERT_EQ(index->kind(), "hnsw");
  ASSERT_EQ(index->version(), c.vector_version);

  auto writer = reopen();  // another replica writes
  Collection wc = *writer->find_collection("default");
  writer->put_embedding(wc, ids[0], std::vector<float>{0, 1, 0.1f}, "toy");  // replaced
  writer->put_document(wc, std::nullopt, make_doc("b", {"n"}), true);
  int64_t added = writer->chunks_without_embedding(wc.id, 1).at(0);
  writer->put_embedding(wc, added, std::vector<float>{-1, 0, 0}, "toy");
  writer->put_document(wc, std::nullopt, make_doc("a", {"x2"}, "h2"));  // x, y, z deleted
  EXPECT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);
  EXPECT_EQ(index->version(), writer->find_collection("default")->vector_version);
  EXPECT_EQ(index->size(), 1u);
  auto hits = index->search(std::vector<float>{-1, 0, 0}, 3);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, added);
}

// Incremental changes reach the persisted file only when the index is current with the
// store (an index behind a later write is not written: its stamp would claim that write);
// a reopen loads the file and replays whatever the log holds after its stamp.
TEST_P(StoreContract, AnHnswIndexPersistsIncrementalChangesOnlyWhenCurrent) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y"}), true);
  auto ids = chunk_ids(c);
  store_->put_embedding(c, ids[0], std::vector<float>{1, 0, 0}, "toy");
  store_->put_embedding(c, ids[1], std::vector<float>{0, 1, 0}, "toy");
  VectorIndexConfig config;
  config.kind = "hnsw";
  auto reader = reopen();
  auto index = CollectionVectors::open(*reader, c, config);
  ASSERT_TRUE(index->rebuilt());  // first open: built and saved
  EXPECT_FALSE(index->persist_changes());  // nothing changed since

  Collection wc = *store_->find_collection("default");
  store_->put_document(wc, std::nullopt, make_doc("b", {"n"}), true);
  const int64_t added = store_->chunks_without_embedding(wc.id, 1).at(0);
  store_->put_embedding(wc, added, std::vector<float>{0, 0, 1}, "toy");
  ASSERT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);
  // Reopened before persisting: the file is as of an older version, so the reopen loads it
  // and replays the log (no rebuild), and has the new vector.
  {
    auto reopened = CollectionVectors::open(*reopen(), c, config);
    EXPECT_FALSE(reopened->rebuilt());
    EXPECT_EQ(reopened->size(), 3u);
    EXPECT_EQ(reopened->search(std::vector<float>{0, 0, 1}, 1).at(0).id, added);
  }
  ASSERT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);  // nothing new

  // A write the index has not caught up with: persisting would stamp state it lacks.
  store_->put_document(wc, std::nullopt, make_doc("c", {"m"}), true);
  const int64_t later = store_->chunks_without_embedding(wc.id, 1).at(0);
  store_->put_embedding(wc, later, std::vector<float>{-1, 0, 0}, "toy");
  ASSERT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);
  store_->remove_document(wc, store_->find_document(wc.id, "a")->id);
  EXPECT_FALSE(index->persist_changes());  // behind the removal: not written
  ASSERT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);
  EXPECT_TRUE(index->persist_changes());
  EXPECT_FALSE(index->persist_changes());  // written: nothing left to save

  auto reloaded = CollectionVectors::open(*reopen(), c, config);
  EXPECT_FALSE(reloaded->rebuilt());
  EXPECT_EQ(reloaded->size(), 2u);
  auto hits = reloaded->search(std::vector<float>{-1, 0, 0}, 3);  // "a" removed: only b and c
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, later);
  EXPECT_EQ(hits[1].id, added);
}

TEST_P(StoreContract, AnExactIndexThatOutgrowsItsThresholdIsRebuiltAsHnsw) {
  auto c = store_->create_collection("default");
  store_->put_document(c, std::nullopt, make_doc("a", {"x", "y", "z"}), true);
  for (int64_t id : chunk_ids(c)) store_->put_embedding(c, id, std::vector<float>{1, float(id)}, "toy");
  VectorIndexConfig config;
  config.exact_threshold = 4;
  auto index = CollectionVectors::open(*store_, c, config);
  ASSERT_EQ(index->kind(), "exact");
  store_->put_document(c, std::nullopt, make_doc("b", {"w"}), true);
  store_->put_embedding(c, store_->chunks_without_embedding(c.id, 1).at(0), std::vector<float>{0, 1}, "toy");
  EXPECT_EQ(index->catch_up(), CollectionVectors::CatchUp::Rebuilt);
  EXPECT_EQ(index->kind(), "hnsw");
  EXPECT_EQ(index->size(), 4u);
  EXPECT_EQ(index->version(), c.vector_version);
  // Shrinking below the threshold keeps the graph (no rebuild on every change near it).
  store_->remove_document(c, store_->find_document(c.id, "b")->id);
  EXPECT_EQ(index->catch_up(), CollectionVectors::CatchUp::Incremental);
  EXPECT_EQ(index->kind(), "hnsw");
  EXPECT_EQ(index->size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// PostgreSQL only: what has no SQLite counterpart.

TEST(PostgresStore, AVersionOneDatabaseGetsTheChangeLogWithItsFloorAtTheCurrentVersion) {
  if (postgres().absent()) GTEST_SKIP() << testing::PostgresProcess::kSkipReason;
  TempDir tmp;
  std::string url = fresh_database();
  int64_t version = 0;
  Collection c;
  {
    auto store = PostgresStore::open(url, tmp.path());
    c = store->create_collection("docs");
    store->put_document(c, std::nullopt, make_doc("a", {"x"}), true);
    store->put_embedding(c, store->chunk_ids_matching(c.id, {})[0], std::vector<float>{1}, "toy");
    version = c.vector_version;
  }
  // Back to what version 1 had: no log, no floor.
  PGconn* conn = PQconnectdb(url.c_str());
  PQclear(PQexec(conn, "DROP TABLE vector_log; ALTER TABLE collections DROP COLUMN vector_log_floor;"
                       " UPDATE meta SET value = '1' WHERE key = 'schema_version'"));
  PQfinish(conn);
  auto store = PostgresStore::open(url, tmp.path());
  EXPECT_FALSE(store->vector_changes_since(c, version - 1, [](int64_t, std::span<const float>) {}).complete);
  EXPECT_TRUE(store->vector_changes_since(c, version, [](int64_t, std::span<const float>) {}).complete);
  store->put_embedding(c, store->chunk_ids_matching(c.id, {})[0], std::vector<float>{2}, "toy");
  auto set = store->vector_changes_since(c, version, [](int64_t, std::span<const float>) {});
  EXPECT_TRUE(set.complete);
  EXPECT_EQ(set.changes, 1u);
}

TEST(PostgresStore, RefusesAnUnknownSchemaVersionAndRedactsPasswords) {
  if (postgres().absent()) GTEST_SKIP() << testing::PostgresProcess::kSkipReason;
  TempDir tmp;
  std::string url = fresh_database();
  { PostgresStore::open(url, tmp.path()); }
  PGconn* conn = PQconnectdb(url.c_str());
  PQclear(PQexec(conn, "UPDATE meta SET value = '99' WHERE key = 'schema_version'"));
  PQfinish(conn);
  EXPECT_THROW(PostgresStore::open(url, tmp.path()), Error);

  EXPECT_EQ(redact_postgres_uri("postgres://u:secret@h:5/db"), "postgres://u:***@h:5/db");
  EXPECT_EQ(redact_postgres_uri("postgresql://h/db?user=u&password=secret&x=1"),
            "postgresql://h/db?user=u&password=***&x=1");
  try {
    PostgresStore::open("postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2", tmp.path());
    FAIL() << "connected to port 1";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("secret"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot connect"), std::string::npos) << e.what();
  }
}

TEST(PostgresStore, UnknownStoreLocationsAreRefusedByName) {
  TempDir tmp;
  try {
    open_store("mysql://x", tmp.path());
    FAIL() << "opened mysql://";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mysql://x"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(is_postgres_location("postgresql://h/db"));
  EXPECT_FALSE(is_postgres_location("sqlite"));
}

TEST(PostgresStore, InvalidUtf8AndNulBytesAreStoredCleaned) {
  if (postgres().absent()) GTEST_SKIP() << testing::PostgresProcess::kSkipReason;
  TempDir tmp;
  auto store = PostgresStore::open(fresh_database(), tmp.path());
  auto c = store->create_collection("default");
  std::string bad = std::string("ok \xff\xfe end") + '\0' + "tail \xc0\xaf";
  store->put_document(c, std::nullopt, make_doc("a", {bad}));
  auto got = store->get_chunks(store->chunk_ids_matching(c.id, {}));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "ok \xef\xbf\xbd\xef\xbf\xbd end tail \xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(ids_of(bm25_search_fts5(*store, c, "tail", 10)).size(), 1u);
}

}  // namespace
}  // namespace ragd::rag
