// ragd bench rag: ingestion throughput and BM25 query latency on deterministic synthetic
// corpora of growing size, each in a fresh temporary store, plus exact and HNSW vector
// search latency over as many synthetic vectors as the corpus has chunks (dense_bench.h).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/dense_bench.h"
#include "rag/eval_metrics.h"
#include "rag/ingest.h"
#include "rag/retriever.h"
#include "rag/synthetic_corpus.h"
#include "rag/temp_dir.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::app {
namespace {

struct BenchRagOptions {
  std::vector<size_t> documents = {10, 100, 1000, 10000};
  size_t queries = 200;
  size_t top_k = 10;
  size_t mean_words = 250;
  size_t dense_dim = 384;  // all-MiniLM-L6-v2
  size_t dense_k = 100;    // the retriever's default dense candidate count
  bool no_dense = false;
  bool json = false;
};

struct BenchRow {
  size_t documents = 0, chunks = 0;
  double ingest_seconds = 0, chunks_per_second = 0, documents_per_second = 0;
  double p50 = 0, p99 = 0, mean = 0;
  DenseBenchResult exact, hnsw;
};

BenchRow bench_one(size_t n, const BenchRagOptions& o) {
  rag::TempDir tmp("ragd-bench");
  rag::SyntheticCorpusOptions corpus{n, o.mean_words, 30000, 42};
  auto corpus_file = tmp.path() / "corpus.jsonl";
  rag::write_synthetic_corpus(corpus_file, corpus);
  auto store = rag::Store::open(tmp.path() / "db");
  rag::IngestOptions defaults;
  rag::Ingestor ingestor(*store, defaults);
  rag::IngestStats s = ingestor.ingest({corpus_file});
  BenchRow row;
  row.documents = n;
  row.chunks = s.chunks_written;
  row.ingest_seconds = s.seconds;
  row.chunks_per_second = s.seconds > 0 ? static_cast<double>(s.chunks_written) / s.seconds : 0;
  row.documents_per_second = s.seconds > 0 ? static_cast<double>(n) / s.seconds : 0;

  rag::Retriever retriever(*store, ingestor.collection());
  rag::SearchOptions search;
  search.top_k = o.top_k;
  auto queries = rag::synthetic_queries(corpus, o.queries);
  for (size_t i = 0; i < std::min<size_t>(5, queries.size()); ++i) retriever.search(queries[i], search);  // warm-up
  std::vector<double> ms;
  for (const auto& q : queries) {
    Stopwatch w;
    retriever.search(q, search);
    ms.push_back(w.millis());
  }
  row.p50 = rag::percentile(ms, 50);
  row.p99 = rag::percentile(ms, 99);
  double sum = 0;
  for (double m : ms) sum += m;
  row.mean = ms.empty() ? 0 : sum / static_cast<double>(ms.size());
  if (!o.no_dense && row.chunks > 0) {
    row.exact = bench_dense_index("exact", row.chunks, o.dense_dim, o.queries, o.dense_k);
    row.hnsw = bench_dense_index("hnsw", row.chunks, o.dense_dim, o.queries, o.dense_k);
  }
  return row;
}

int run_bench_rag(const BenchRagOptions& o) {
  if (o.documents.empty()) fail("--documents needs at least one count");
  nlohmann::json rows = nlohmann::json::array();
  if (!o.json) {
    fmt::print("{:>9} {:>9} {:>10} {:>12} {:>11} {:>11} {:>11} {:>12} {:>11} {:>11}\n",
               "documents", "chunks", "ingest s", "chunks/s", "bm25 p50ms", "bm25 p99ms",
               "mean ms", "exact p50ms", "hnsw p50ms", "hnsw build s");
  }
  for (size_t n : o.documents) {
    BenchRow r = bench_one(n, o);
    if (o.json) {
      rows.push_back({{"documents", r.documents}, {"chunks", r.chunks},
                      {"ingest_seconds", r.ingest_seconds},
                      {"ingest_chunks_per_second", r.chunks_per_second},
                      {"ingest_documents_per_second", r.documents_per_second},
                      {"queries", o.queries}, {"top_k", o.top_k},
                      {"bm25_latency_ms_p50", r.p50}, {"bm25_latency_ms_p99", r.p99},
                      {"bm25_latency_ms_mean", r.mean},
                      {"dense_dim", o.dense_dim}, {"dense_k", o.dense_k},
                      {"exact_latency_ms_p50", r.exact.p50}, {"exact_latency_ms_p99", r.exact.p99},
                      {"hnsw_latency_ms_p50", r.hnsw.p50}, {"hnsw_latency_ms_p99", r.hnsw.p99},
                      {"hnsw_build_seconds", r.hnsw.build_seconds}});
    } else {
      fmt::print("{:>9} {:>9} {:>10.3f} {:>12.0f} {:>11.3f} {:>11.3f} {:>11.3f} {:>12.3f} {:>11.3f} {:>11.2f}\n",
                 r.documents, r.chunks, r.ingest_seconds, r.chunks_per_second, r.p50, r.p99,
                 r.mean, r.exact.p50, r.hnsw.p50, r.hnsw.build_seconds);
      std::fflush(stdout);
    }
  }
  if (o.json) fmt::print("{}\n", nlohmann::json{{"benchmark", "rag"}, {"results", rows}}.dump(2));
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<BenchRagOptions>();
  auto* sub = bench_command(app)->add_subcommand(
      "rag", "Ingestion throughput, BM25 and dense (exact, HNSW) latency on synthetic corpora");
  sub->add_option("--documents", o->documents, "Corpus sizes, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  sub->add_option("--queries", o->queries, "Queries per corpus size")->capture_default_str();
  sub->add_option("--top-k", o->top_k, "Results per query")->capture_default_str();
  sub->add_option("--words", o->mean_words, "Mean words per document")->capture_default_str();
  sub->add_option("--dense-dim", o->dense_dim, "Dimension of the synthetic vectors")->capture_default_str();
  sub->add_option("--dense-k", o->dense_k, "Vector hits per dense query")->capture_default_str();
  sub->add_flag("--no-dense", o->no_dense, "Skip the dense (vector index) timings");
  sub->add_flag("--json", o->json, "Print results as JSON");
  return Command{sub, [o] { return run_bench_rag(*o); }};
});

}  // namespace
}  // namespace ragd::app
