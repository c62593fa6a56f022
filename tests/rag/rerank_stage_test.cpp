// The Retriever's rerank stage: which candidates a reranker sees (the best `depth`, with
// their first-stage scores and texts), and how the rest of the list is kept.
#include <gtest/gtest.h>

#include <map>

#include "rag/store/sqlite_store.h"
#include "rag/ingest/ingest.h"
#include "rag/search/retriever.h"
#include "rag/ingest/temp_dir.h"
#include "test_util.h"

namespace ragd::rag {
namespace {

// Reverses the order it is given and records what it saw.
class ReversingReranker : public Reranker {
 public:
  std::string name() const override { return "reverse"; }
  void rerank(std::string_view, std::vector<RerankCandidate>& cands) override {
    seen.clear();
    for (const auto& c : cands) seen.emplace_back(std::string(c.text), c.score);
    for (size_t i = 0; i < cands.size(); ++i) cands[i].score = static_cast<double>(i);
  }
  std::vector<std::pair<std::string, double>> seen;
};

struct Docs {
  TempDir tmp;
  std::unique_ptr<SqliteStore> store = SqliteStore::open(tmp.path() / "db");
  Collection c;
  Docs() {
    // "lava" occurs 4, 3, 2, 1 times: BM25 ranks a, b, c, d.
    testing::write_file(tmp.path() / "docs" / "d.jsonl",
                        R"({"_id":"a","title":"A","text":"lava lava lava lava rock"}
{"_id":"b","title":"B","text":"lava lava lava rock stone"}
{"_id":"c","title":"C","text":"lava lava rock stone sand"}
{"_id":"d","title":"D","text":"lava rock stone sand clay"}
)");
    IngestOptions o;
    Ingestor ingestor(*store, o);
    ingestor.ingest(collect_input_files({(tmp.path() / "docs").string()}));
    c = ingestor.collection();
  }
  std::vector<std::string> ids(const std::vector<SearchHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) out.push_back(h.external_id);
    return out;
  }
};

TEST(RerankStage, ReranksTheHeadAndKeepsTheTailBelowIt) {
  Docs d;
  SearchOptions o;
  o.top_k = 10;
  auto base = Retriever(*d.store, d.c).search("lava", o);
  ASSERT_EQ(d.ids(base), (std::vector<std::string>{"a", "b", "c", "d"}));
  ReversingReranker r;
  o.profile.rerank_candidates = 2;
  auto hits = Retriever(*d.store, d.c, nullptr, nullptr, &r).search("lava", o);
  EXPECT_EQ(d.ids(hits), (std::vector<std::string>{"b", "a", "c", "d"}));
  ASSERT_EQ(r.seen.size(), 2u);  // only the head, with title and text, and BM25 scores
  EXPECT_EQ(r.seen[0].first, "A\nlava lava lava lava rock");
  EXPECT_DOUBLE_EQ(r.seen[0].second, base[0].score);
  EXPECT_DOUBLE_EQ(r.seen[1].second, base[1].score);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GT(hits[i - 1].score, hits[i].score);
  EXPECT_DOUBLE_EQ(hits[0].score, 1.0);  // the reranker's own score in the head
}

TEST(RerankStage, DepthZeroOrNoRerankerSkipsTheStage) {
  Docs d;
  SearchOptions o;
  ReversingReranker r;
  o.profile.rerank_candidates = 0;
  auto hits = Retriever(*d.store, d.c, nullptr, nullptr, &r).search("lava", o);
  EXPECT_TRUE(r.seen.empty());
  EXPECT_EQ(d.ids(hits), (std::vector<std::string>{"a", "b", "c", "d"}));
  o.profile.rerank_candidates = 100;  // deeper than the list: everything is reranked
  hits = Retriever(*d.store, d.c, nullptr, nullptr, &r).search("lava", o);
  EXPECT_EQ(r.seen.size(), 4u);
  EXPECT_EQ(d.ids(hits), (std::vector<std::string>{"d", "c", "b", "a"}));
}

}  // namespace
}  // namespace ragd::rag
