#include "rag/store/sqlite_store.h"
#include "rag/search/fts_query.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "rag/search/bm25_search.h"
#include "rag/ingest/temp_dir.h"

namespace ragd::rag {
namespace {

TEST(FtsQuery, QuotesEveryTermAndJoinsWithOr) {
  EXPECT_EQ(build_fts_query("Effects of Vitamin-D on bone"), R"("effects" OR "vitamin" OR "d" OR "bone")");
  EXPECT_EQ(build_fts_query("the of"), R"("the" OR "of")");  // nothing else: keep stopwords
  EXPECT_EQ(build_fts_query(""), "");
  EXPECT_EQ(build_fts_query("  ?!*()\"  "), "");
  FtsQueryOptions keep;
  keep.drop_stopwords = false;
  EXPECT_EQ(build_fts_query("the cat", keep), R"("the" OR "cat")");
}

TEST(FtsQuery, NeutralisesFtsSyntax) {
  for (std::string q : {"a AND b", "NEAR(a b, 3)", "title:secret", "foo*", "^start", "\"unbalanced",
                        "(((", "a + b - c", "-x", "{a b}: c", "col : x"}) {
    std::string built = build_fts_query(q);
    for (char c : std::string("*():^{}+-")) EXPECT_EQ(built.find(c), std::string::npos) << q;
  }
  // Operator words are just terms (and/or/not are also stopwords).
  EXPECT_EQ(build_fts_query("AND OR NOT NEAR"), R"("near")");
}

TEST(FtsQuery, KeepsUnicodeAndDropsInvalidUtf8) {
  EXPECT_EQ(build_fts_query("café über"), R"("café" OR "über")");
  EXPECT_EQ(build_fts_query("ab\xff\xfe" "cd"), R"("ab" OR "cd")");
  FtsQueryOptions small;
  small.max_terms = 2;
  small.max_term_bytes = 3;
  EXPECT_EQ(build_fts_query("alpha beta gamma", small), R"("alp" OR "bet")");
}

class HostileQueries : public ::testing::TestWithParam<std::string> {};

TEST_P(HostileQueries, NeverFailAgainstARealIndex) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("default");
  DocumentInput d{"doc", "title", "h", nlohmann::json::object(),
                  {Chunk{"title", "", "and or near not quotes \" café 日本語 text", 5}}};
  store->put_document(c, std::nullopt, d);
  EXPECT_NO_THROW(bm25_search(*store, c, GetParam(), 10)) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(
    Rag, HostileQueries,
    ::testing::Values("", " ", "\"", "\"\"", "\"a\" OR", "AND", "OR OR", "NOT", "NEAR(", "NEAR(a b, 2)",
                      "*", "a*", "^a", "title:x", "text:", "(", ")", "((a)", "a)b(", "{title}: x",
                      "a:b:c", "-", "+", "日本語", "café", "\xff\xfe", std::string("a\0b", 3),
                      "'; DROP TABLE chunks; --", std::string(5000, 'x'), std::string(3000, ' ')),
    // Test names by index: the queries themselves are not valid (or short) test names.
    [](const ::testing::TestParamInfo<std::string>& info) { return fmt::format("q{}", info.index); });

TEST(FtsQuery, AnyTermMatchesAndMoreTermsRankHigher) {
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto c = store->create_collection("default");
  auto put = [&](std::string id, std::string text) {
    store->put_document(c, std::nullopt, DocumentInput{id, "", id, nlohmann::json::object(), {Chunk{"", "", text, 3}}});
  };
  put("one", "zebra stripes");
  put("both", "zebra giraffe");
  put("none", "elephant trunk");
  for (int i = 0; i < 5; ++i) put(fmt::format("filler{}", i), "ordinary words here");
  auto hits = bm25_search(*store, c, "zebra giraffe", 10);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_GT(hits[0].score, hits[1].score);
  EXPECT_GT(hits[1].score, 0);
}

}  // namespace
}  // namespace ragd::rag
