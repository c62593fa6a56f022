#include "rag/store/sqlite_store.h"
#include "rag/eval/beir.h"

#include <gtest/gtest.h>

#include "rag/ingest/temp_dir.h"
#include "test_util.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

TEST(Beir, LoadsAndEvaluatesATinyDataset) {
  TempDir tmp;
  auto dir = tmp.path() / "tiny";
  testing::write_file(dir / "corpus.jsonl",
                      R"({"_id":"d1","title":"Cats","text":"Cats purr and sleep."}
{"_id":"d2","title":"Dogs","text":"Dogs bark loudly."}
{"_id":"d3","title":"Birds","text":"Birds sing and fly."}
)");
  testing::write_file(dir / "queries.jsonl",
                      R"({"_id":"q1","text":"why do cats purr"}
{"_id":"q2","text":"barking dogs"}
{"_id":"q3","text":"unjudged query"}
)");
  testing::write_file(dir / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td3\t1\n");
  auto data = load_beir(dir);
  ASSERT_EQ(data.queries.size(), 2u);  // q3 has no judgments
  EXPECT_EQ(data.queries[0].first, "q1");
  EXPECT_EQ(data.qrels["q2"]["d2"], 2);

  auto store = SqliteStore::open(tmp.path() / "db");
  auto r = evaluate_beir(data, *store, BeirOptions{});
  EXPECT_EQ(r.documents, 3u);
  EXPECT_EQ(r.queries, 2u);
  // q1: d1 first → nDCG 1, MRR 1, recall 1. q2: "barking dogs" stems to bark/dog → d2 first
  // (grade 2), d3 never retrieved → nDCG = 2 / (2 + 1/log2(3)), recall 1/2, MRR 1.
  double q2 = 2.0 / (2.0 + 1.0 / std::log2(3.0));
  EXPECT_NEAR(r.ndcg_at_10, (1.0 + q2) / 2, 1e-9);
  EXPECT_NEAR(r.recall_at_100, 0.75, 1e-9);
  EXPECT_NEAR(r.mrr_at_10, 1.0, 1e-9);
  EXPECT_GT(r.latency_ms_p99, 0);
}

TEST(Beir, MissingFilesAreClearErrors) {
  TempDir tmp;
  EXPECT_THROW(load_beir(tmp.path()), Error);
  testing::write_file(tmp.path() / "corpus.jsonl", "");
  EXPECT_THROW(load_beir(tmp.path()), Error);  // no qrels
  testing::write_file(tmp.path() / "qrels" / "test.tsv", "query-id\tcorpus-id\tscore\nq\td\tbad\n");
  EXPECT_THROW(load_beir(tmp.path()), Error);
}

// The acceptance figure: BM25 on SciFact must reach the published BM25 baseline (0.665)
// within 0.005, with default settings.
TEST(Beir, SciFactBm25ReachesThePublishedBaseline) {
  auto dir = testing::scifact_dir();
  if (!std::filesystem::exists(dir / "corpus.jsonl")) GTEST_SKIP() << "no SciFact data at " << dir;
  TempDir tmp;
  auto store = SqliteStore::open(tmp.path());
  auto r = evaluate_beir(load_beir(dir), *store, BeirOptions{});
  std::printf("SciFact BM25: nDCG@10 %.4f Recall@100 %.4f MRR@10 %.4f p50 %.2f ms p99 %.2f ms\n",
              r.ndcg_at_10, r.recall_at_100, r.mrr_at_10, r.latency_ms_p50, r.latency_ms_p99);
  EXPECT_EQ(r.documents, 5183u);
  EXPECT_EQ(r.queries, 300u);
  EXPECT_GE(r.ndcg_at_10, 0.66);
  EXPECT_GE(r.recall_at_100, 0.90);
}

}  // namespace
}  // namespace ragd::rag
