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
#include <memory>
#include <set>

#include "postgres_process.h"
#include "rag/ingest/temp_dir.h"
#include "rag/search/bm25_search.h"
#include "rag/search/collection_vectors.h"
#include "rag/store/open_store.h"
#include "rag/store/postgres_store.h"
#include "rag/store/sqlite_store.h"
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

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "postgres"),
                         [](const auto& info) { return info.param; });

// PostgreSQL only: what has no SQLite counterpart.

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
