// The in-memory BM25 index against FTS5's bm25(): same top-k chunk ids in the same order,
// same scores, and in step with the collection after documents are replaced or removed.
#include "rag/store/sqlite_store.h"
#include "rag/search/bm25_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "rag/search/bm25_index_cache.h"
#include "rag/search/bm25_search.h"
#include "rag/store/fts5_tokenizer.h"
#include "rag/ingest/synthetic_corpus.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

DocumentInput make_doc(const std::string& id, const std::vector<std::string>& texts,
                       const std::string& meta_lang = "en", const std::string& hash = "h1") {
  DocumentInput d;
  d.external_id = id;
  d.title = "Title " + id;
  d.content_hash = hash;
  d.metadata = {{"lang", meta_lang}};
  for (size_t i = 0; i < texts.size(); ++i) {
    d.chunks.push_back(Chunk{d.title, i % 2 ? "Running Heading" : "", texts[i], 3});
  }
  return d;
}

// A small corpus with stemming variants, case, diacritics, repeated words and varying
// lengths, so that tf, document length and IDF (including its 1e-6 floor) all matter.
struct Corpus {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path());
  Collection c = store->create_collection("default");

  Corpus() {
    const std::vector<std::string> words = {"running", "runs", "ran", "apple", "Apples", "café",
                                            "cafe", "banana", "cherry", "durian", "elderberry",
                                            "fig", "grape", "honeydew", "kiwi", "lemon"};
    uint64_t x = 12345;
    auto next = [&] { return x = x * 6364136223846793005ULL + 1442695040888963407ULL; };
    for (int d = 0; d < 40; ++d) {
      std::vector<std::string> texts;
      for (int k = 0; k <= d % 3; ++k) {
        std::string t;
        size_t n = 3 + (next() >> 33) % 25;
        for (size_t i = 0; i < n; ++i) t += words[(next() >> 33) % words.size()] + (i % 7 == 6 ? ". " : " ");
        texts.push_back(t);
      }
      std::string id = "d";  // (not "d" + to_string: GCC 12 warns falsely, -Wrestrict)
      id += std::to_string(d);
      store->put_document(c, std::nullopt, make_doc(id, texts, d % 4 ? "en" : "de"));
    }
  }
};

std::vector<std::string> query_tokens(SqliteStore& store, const Collection& c, const std::string& q) {
  Fts5TextTokenizer tok(store.db(), c.fts_tokenizer);
  std::vector<std::string> out;
  for (const auto& term : fts_query_terms(q)) {
    tok.tokenize(term, Fts5TextTokenizer::Purpose::Query, [&](std::string_view t, bool) { out.emplace_back(t); });
  }
  return out;
}

void expect_same(const std::vector<ScoredChunk>& fast, const std::vector<ScoredChunk>& ref,
                 const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size()) << what;
  for (size_t i = 0; i < ref.size(); ++i) {
    EXPECT_EQ(fast[i].chunk_id, ref[i].chunk_id) << what << " rank " << i;
    EXPECT_EQ(fast[i].document_id, ref[i].document_id) << what << " rank " << i;
    EXPECT_NEAR(fast[i].score, ref[i].score, 1e-6 * std::abs(ref[i].score)) << what << " rank " << i;
  }
}

const std::vector<std::string> kQueries = {
    "apple",          "running apples",  "CAFÉ banana",     "cafe",         "fig fig grape",
    "lemon kiwi run", "title",           "heading durian",  "missingword",  "title running apple cafe banana",
    "ran ran ran",    "elderberry honeydew cherry"};

TEST(Bm25Index, MatchesFts5Bm25TopKAndScores) {
  Corpus f;
  auto index = Bm25Index::build(*f.store, f.c);
  const auto chunks = static_cast<size_t>(f.store->stats(f.c.id).chunks);
  EXPECT_EQ(chunks, 79u);  // 40 documents of 1, 2 or 3 chunks
  EXPECT_EQ(index->chunks(), chunks);
  for (size_t limit : {1, 3, 10, 100}) {
    for (const auto& q : kQueries) {
      auto ref = bm25_search_fts5(*f.store, f.c, q, limit);
      auto fast = index->search(query_tokens(*f.store, f.c, q), limit);
      expect_same(fast, ref, q + " @" + std::to_string(limit));
    }
  }
  // "title" is in every chunk: its IDF is FTS5's 1e-6 floor, and results still match.
  EXPECT_EQ(index->search(query_tokens(*f.store, f.c, "title"), 100).size(), chunks);
  EXPECT_TRUE(index->search(query_tokens(*f.store, f.c, "missingword"), 10).empty());
}

TEST(Bm25Index, FiltersMatchFts5) {
  Corpus f;
  auto index = Bm25Index::build(*f.store, f.c);
  std::vector<MetadataFilter> filters = {MetadataFilter::parse("lang=de")};
  auto ids = f.store->chunk_ids_matching(f.c.id, filters);
  ASSERT_FALSE(ids.empty());
  auto mask = index->mask_of(ids);
  for (const auto& q : kQueries) {
    auto ref = bm25_search_fts5(*f.store, f.c, q, 5, filters);
    expect_same(index->search(query_tokens(*f.store, f.c, q), 5, &mask), ref, q);
  }
}

TEST(Bm25Index, SearchUsesACurrentIndexAndFollowsUpdatesAndDeletes) {
  Corpus f;
  warm_bm25_index(*f.store, f.c);
  auto before = Bm25Index::fts_version(*f.store, f.c);
  for (const auto& q : kQueries) expect_same(bm25_search(*f.store, f.c, q, 10), bm25_search_fts5(*f.store, f.c, q, 10), q);
  // One query term that FTS5 splits into an adjacent phrase (an em dash is a separator to
  // unicode61): answered by FTS5, with FTS5's phrase semantics.
  const std::string phrase = "running\u2014heading";
  ASSERT_FALSE(bm25_search_fts5(*f.store, f.c, phrase, 10).empty());  // the headings
  expect_same(bm25_search(*f.store, f.c, phrase, 10), bm25_search_fts5(*f.store, f.c, phrase, 10), phrase);

  // Replace d3 with a new word and remove d5: the version changes, and both paths agree.
  auto d3 = f.store->find_document(f.c.id, "d3");
  auto d5 = f.store->find_document(f.c.id, "d5");
  ASSERT_TRUE(d3 && d5);
  auto d5_hits = bm25_search(*f.store, f.c, "title d5", 100);
  ASSERT_TRUE(std::any_of(d5_hits.begin(), d5_hits.end(), [&](const ScoredChunk& h) { return h.document_id == d5->id; }));
  f.store->put_document(f.c, std::nullopt, make_doc("d3", {"zanzibar quince"}, "en", "h2"));
  f.store->remove_document(f.c, d5->id);
  EXPECT_NE(Bm25Index::fts_version(*f.store, f.c), before);

  // Whatever path the cache picks now (FTS5 while the index is stale), results are right…
  auto hits = bm25_search(*f.store, f.c, "zanzibar", 10);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].document_id, d3->id);
  // …and so are they from the rebuilt index.
  auto index = warm_bm25_index(*f.store, f.c);
  EXPECT_EQ(index->version(), Bm25Index::fts_version(*f.store, f.c));
  auto fast = index->search(query_tokens(*f.store, f.c, "zanzibar"), 10);
  ASSERT_EQ(fast.size(), 1u);
  EXPECT_EQ(fast[0].document_id, d3->id);
  for (const auto& h : index->search(query_tokens(*f.store, f.c, "title d5 apple"), 100)) {
    EXPECT_NE(h.document_id, d5->id);
  }
  for (const auto& q : kQueries) {
    expect_same(index->search(query_tokens(*f.store, f.c, q), 10), bm25_search_fts5(*f.store, f.c, q, 10), q);
    expect_same(bm25_search(*f.store, f.c, q, 10), bm25_search_fts5(*f.store, f.c, q, 10), q);
  }
}

TEST(Bm25Index, BuildsOnlyAfterRepeatedQueries) {
  Corpus f;
  forget_bm25_indexes(*f.store);
  EXPECT_EQ(bm25_index_for_query(*f.store, f.c), nullptr);  // first query: FTS5
  note_fts_query(*f.store, f.c, 0.001);
  auto index = bm25_index_for_query(*f.store, f.c);  // second: pays off (no build cost known)
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(bm25_index_for_query(*f.store, f.c), index);  // current: reused
  f.store->put_document(f.c, std::nullopt, make_doc("new", {"quince"}));
  EXPECT_EQ(bm25_index_for_query(*f.store, f.c), nullptr);  // stale: FTS5 until it pays off
  forget_bm25_indexes(*f.store);
}

TEST(Bm25Index, MatchesFts5OnASyntheticCorpus) {
  TempDir tmp;
  SyntheticCorpusOptions corpus{300, 120, 2000, 3};
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("default");
  // Several chunks per document via long texts would need the chunker; one chunk each is
  // enough here: what matters is realistic Zipf term statistics.
  write_synthetic_corpus(tmp.path() / "c.jsonl", corpus);
  std::ifstream in(tmp.path() / "c.jsonl");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    store->put_document(c, std::nullopt, make_doc(j["_id"], {j["text"].get<std::string>()}));
    ++n;
  }
  ASSERT_EQ(n, 300);
  auto index = Bm25Index::build(*store, c);
  for (const auto& q : synthetic_queries(corpus, 40)) {
    for (size_t limit : {10, 100}) {
      expect_same(index->search(query_tokens(*store, c, q), limit), bm25_search_fts5(*store, c, q, limit), q);
    }
  }
}

TEST(Bm25Index, RefusesAnIndexThatDisagreesWithFts5) {
  Corpus f;
  // A chunk row edited behind FTS5's back: token totals no longer match.
  f.store->db().exec("UPDATE chunks SET text = text || ' extra words here' WHERE id = 1");
  EXPECT_THROW(Bm25Index::build(*f.store, f.c), Error);
}

}  // namespace
}  // namespace ragd::rag
