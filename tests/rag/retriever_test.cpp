#include "rag/store/sqlite_store.h"
#include "rag/search/retriever.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>

#include "rag/ingest/ingest.h"
#include "rag/ingest/temp_dir.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

// A deterministic bag-of-words embedder: each lower-cased word adds 1 to a hashed
// dimension. Enough to make dense retrieval meaningful in tests.
class ToyEmbedder : public Embedder {
 public:
  std::string name() const override { return "toy-bow"; }
  size_t dim() const override { return 64; }
  std::vector<float> embed_query(std::string_view text) override {
    std::vector<float> v(64, 0.0f);
    std::string word;
    auto flush = [&] {
      if (!word.empty()) v[std::hash<std::string>{}(word) % 64] += 1;
      word.clear();
    };
    for (char c : text) {
      if (std::isalnum(static_cast<unsigned char>(c))) word += static_cast<char>(std::tolower(c));
      else flush();
    }
    flush();
    v[63] += 0.01f;  // never the zero vector
    return v;
  }
  std::vector<std::vector<float>> embed_passages(const std::vector<std::string>& texts) override {
    std::vector<std::vector<float>> out;
    for (const auto& t : texts) out.push_back(embed_query(t));
    return out;
  }
};

// Scores candidates by how many times "preferred" occurs: a stand-in cross-encoder.
class KeywordReranker : public Reranker {
 public:
  std::string name() const override { return "keyword"; }
  void rerank(std::string_view, std::vector<RerankCandidate>& cands) override {
    for (auto& c : cands) c.score = c.text.find("preferred") != std::string_view::npos ? 100 : 0;
  }
};

struct Corpus {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path() / "db");
  Collection c;
  ToyEmbedder embedder;
  std::unique_ptr<CollectionVectors> vectors;

  Corpus() {
    auto docs = tmp.path() / "docs";
    std::string long_text;
    for (int i = 0; i < 200; ++i) long_text += fmt::format("Volcanoes erupt lava and ash number {}. ", i);
    testing::write_file(docs / "volcano.txt", long_text);
    testing::write_file(docs / "records.jsonl",
                        R"({"_id":"ocean","title":"Oceans","text":"Whales swim in deep oceans.","lang":"en","year":2020}
{"_id":"mer","title":"Mers","text":"Les baleines nagent dans la mer profonde.","lang":"fr","year":2021}
{"_id":"forest","title":"Forests","text":"Trees grow in forests; whales do not.","lang":"en","year":2021}
{"_id":"pref","title":"Lava notes","text":"A preferred note about lava.","lang":"en"}
)");
    IngestOptions o;
    o.chunker.chunk_tokens = 64;
    o.chunker.overlap_tokens = 8;
    Ingestor ingestor(*store, o);
    ingestor.ingest(collect_input_files({docs.string()}));
    c = ingestor.collection();
    vectors = CollectionVectors::open(*store, c);
    auto ids = store->chunks_without_embedding(c.id, 10000);
    for (const auto& rec : store->get_chunks(ids)) {
      vectors->upsert(c, rec.id, embedder.embed_query(rec.title + " " + rec.text), embedder.name());
    }
  }
  std::vector<SearchHit> search(std::string q, SearchOptions o = {}, Reranker* r = nullptr) {
    return Retriever(*store, c, &embedder, vectors.get(), r).search(q, o);
  }
};

TEST(Retriever, Bm25AggregatesChunksToDocuments) {
  Corpus corpus;
  SearchOptions o;
  o.top_k = 10;
  auto docs = corpus.search("volcanoes lava", o);
  ASSERT_EQ(docs.size(), 2u);  // the long file (many chunks) once, plus the lava note
  EXPECT_NE(docs[0].external_id, docs[1].external_id);
  o.level = ResultLevel::Chunks;
  auto chunks = corpus.search("volcanoes lava", o);
  EXPECT_EQ(chunks.size(), 10u);
  EXPECT_GE(chunks[0].score, chunks[9].score);
  EXPECT_TRUE(chunks[0].bm25_score.has_value());
  EXPECT_FALSE(chunks[0].dense_score.has_value());
}

TEST(Retriever, TopKMinScoreAndEmptyQueries) {
  Corpus corpus;
  SearchOptions o;
  o.top_k = 1;
  EXPECT_EQ(corpus.search("whales", o).size(), 1u);
  o.top_k = 10;
  auto all = corpus.search("whales", o);
  ASSERT_EQ(all.size(), 2u);
  o.min_score = (all[0].score + all[1].score) / 2;
  EXPECT_EQ(corpus.search("whales", o).size(), 1u);
  EXPECT_TRUE(corpus.search("", SearchOptions{}).empty());
  EXPECT_TRUE(corpus.search("\"*()", SearchOptions{}).empty());
  o.top_k = 0;
  EXPECT_THROW(corpus.search("whales", o), Error);
}

TEST(Retriever, MetadataFilters) {
  Corpus corpus;
  SearchOptions o;
  o.filters = {MetadataFilter::parse("lang=en")};
  auto en = corpus.search("whales baleines", o);
  ASSERT_EQ(en.size(), 2u);
  for (const auto& h : en) EXPECT_NE(h.external_id, "mer");
  o.filters = {MetadataFilter::parse("lang!=en")};
  auto not_en = corpus.search("whales baleines lava", o);
  for (const auto& h : not_en) EXPECT_TRUE(h.external_id == "mer" || h.title == "volcano") << h.external_id;
  o.filters = {MetadataFilter::parse("year=2021"), MetadataFilter::parse("lang=en")};
  auto both = corpus.search("whales", o);
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].external_id, "forest");
  o.filters = {MetadataFilter::parse("type=text")};
  EXPECT_EQ(corpus.search("lava", o).size(), 1u);
  EXPECT_THROW(MetadataFilter::parse("novalue"), Error);
  EXPECT_THROW(MetadataFilter::parse("=x"), Error);
  EXPECT_THROW(MetadataFilter::parse("a\"b=x"), Error);
}

TEST(Retriever, DenseNeedsAnEmbedder) {
  Corpus corpus;
  SearchOptions o;
  o.mode = SearchMode::Dense;
  Retriever bm25_only(*corpus.store, corpus.c);
  try {
    bm25_only.search("whales", o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no embedding model"), std::string::npos);
  }
}

TEST(Retriever, DenseAndHybridWithAToyEmbedder) {
  Corpus corpus;
  SearchOptions o;
  o.mode = SearchMode::Dense;
  auto dense = corpus.search("whales swim in deep oceans", o);
  ASSERT_FALSE(dense.empty());
  EXPECT_EQ(dense[0].external_id, "ocean");
  EXPECT_TRUE(dense[0].dense_score.has_value());
  o.filters = {MetadataFilter::parse("lang=fr")};
  auto fr = corpus.search("whales swim in deep oceans", o);
  ASSERT_FALSE(fr.empty());
  for (const auto& h : fr) EXPECT_EQ(h.external_id, "mer");

  SearchOptions h;
  h.mode = SearchMode::Hybrid;
  auto hybrid = corpus.search("whales oceans", h);
  ASSERT_FALSE(hybrid.empty());
  EXPECT_EQ(hybrid[0].external_id, "ocean");
  EXPECT_LE(hybrid[0].score, 1.0 + 1e-9);
  h.fusion = FusionMethod::Rrf;
  auto rrf = corpus.search("whales oceans", h);
  ASSERT_FALSE(rrf.empty());
  EXPECT_EQ(rrf[0].external_id, "ocean");
  EXPECT_NEAR(rrf[0].score, 2.0 / 61, 1e-9);  // first in both lists
}

TEST(Retriever, RerankerReordersAndNoopKeepsOrder) {
  Corpus corpus;
  SearchOptions o;
  auto base = corpus.search("lava", o);
  ASSERT_EQ(base.size(), 2u);
  KeywordReranker reranker;
  auto reranked = corpus.search("lava", o, &reranker);
  EXPECT_EQ(reranked[0].external_id, "pref");
  EXPECT_DOUBLE_EQ(reranked[0].score, 100);
  NoopReranker noop;
  auto same = corpus.search("lava", o, &noop);
  ASSERT_EQ(same.size(), base.size());
  for (size_t i = 0; i < same.size(); ++i) EXPECT_EQ(same[i].chunk_id, base[i].chunk_id);
}

TEST(Retriever, Profiles) {
  EXPECT_LT(search_profile("fast").bm25_candidates, search_profile("default").bm25_candidates);
  EXPECT_GT(search_profile("quality").dense_candidates, search_profile("default").dense_candidates);
  EXPECT_THROW(search_profile("turbo"), Error);
  EXPECT_THROW(parse_search_mode("sparse"), Error);
}

}  // namespace
}  // namespace ragd::rag
