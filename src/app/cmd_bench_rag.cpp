// ragd bench rag: ingestion throughput and BM25 query latency on deterministic synthetic
// corpora of growing size, each in a fresh temporary store, plus exact and HNSW vector
// search latency over as many synthetic vectors as the corpus has chunks (dense_bench.h).
//
// BM25 latency is a whole Retriever::search in bm25 mode (candidates, aggregation to
// documents, text fetch of the top k) answered by the in-memory index (bm25_index.h), which
// is built explicitly first and timed apart; --fts5 also times FTS5's own bm25() ranking
// of the same queries, the path used while no current index exists.
#include <fmt/format.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include "app/bench_registry.h"
#include "app/commands.h"
#include "app/dense_bench.h"
#include "app/report/bench_report.h"
#include "rag/search/bm25_index_cache.h"
#include "rag/search/bm25_search.h"
#include "rag/eval/eval_metrics.h"
#include "rag/ingest/ingest.h"
#include "rag/search/retriever.h"
#include "rag/ingest/synthetic_corpus.h"
#include "rag/ingest/temp_dir.h"
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
  bool fts5 = false;
  bool json = false;
  std::string report;  // directory for report.html + results.json; empty: none
};

struct Latency {
  double p50 = 0, p99 = 0, mean = 0;
};

struct BenchRow {
  size_t documents = 0, chunks = 0;
  double ingest_seconds = 0, chunks_per_second = 0, documents_per_second = 0;
  double bm25_index_seconds = 0, bm25_index_mib = 0;
  size_t bm25_postings = 0;
  Latency bm25, bm25_stage, fts5;  // bm25_stage: the candidate stage alone (SearchTimings::bm25_ms)
  DenseBenchResult exact, hnsw;
  double max_rss_mib = 0;
};

Latency summarize(const std::vector<double>& ms) {
  Latency l;
  l.p50 = rag::percentile(ms, 50);
  l.p99 = rag::percentile(ms, 99);
  double sum = 0;
  for (double m : ms) sum += m;
  l.mean = ms.empty() ? 0 : sum / static_cast<double>(ms.size());
  return l;
}

// Milliseconds per query after 5 warm-up queries; `run` may add a second measurement of
// its own to `inner`.
Latency latency_of(const std::vector<std::string>& queries,
                   const std::function<void(const std::string&, std::vector<double>&)>& run,
                   Latency* inner = nullptr) {
  std::vector<double> ms, inner_ms;
  for (size_t i = 0; i < std::min<size_t>(5, queries.size()); ++i) run(queries[i], inner_ms);
  inner_ms.clear();
  for (const auto& q : queries) {
    Stopwatch w;
    run(q, inner_ms);
    ms.push_back(w.millis());
  }
  if (inner) *inner = summarize(inner_ms);
  return summarize(ms);
}

double max_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

BenchRow bench_one(size_t n, const BenchRagOptions& o) {
  rag::TempDir tmp("ragd-bench");
  rag::SyntheticCorpusOptions corpus{n, o.mean_words, 30000, 42};
  auto corpus_file = tmp.path() / "corpus.jsonl";
  rag::write_synthetic_corpus(corpus_file, corpus);
  auto store = rag::SqliteStore::open(tmp.path() / "db");
  rag::IngestOptions defaults;
  rag::Ingestor ingestor(*store, defaults);
  rag::IngestStats s = ingestor.ingest({corpus_file});
  std::filesystem::remove(corpus_file);
  BenchRow row;
  row.documents = n;
  row.chunks = s.chunks_written;
  row.ingest_seconds = s.seconds;
  row.chunks_per_second = s.seconds > 0 ? static_cast<double>(s.chunks_written) / s.seconds : 0;
  row.documents_per_second = s.seconds > 0 ? static_cast<double>(n) / s.seconds : 0;

  const rag::Collection collection = ingestor.collection();
  auto index = rag::warm_bm25_index(*store, collection, &row.bm25_index_seconds);
  row.bm25_index_mib = static_cast<double>(index->memory_bytes()) / (1 << 20);
  row.bm25_postings = index->postings();
  rag::Retriever retriever(*store, collection);
  rag::SearchOptions search;
  search.top_k = o.top_k;
  auto queries = rag::synthetic_queries(corpus, o.queries);
  row.bm25 = latency_of(
      queries,
      [&](const std::string& q, std::vector<double>& stage_ms) {
        rag::SearchTimings t;
        retriever.search(q, search, &t);
        stage_ms.push_back(t.bm25_ms);
      },
      &row.bm25_stage);
  if (o.fts5) {
    // The same candidate count as the retriever asks for (top_k × oversample, at least 100).
    size_t limit = std::max(search.profile.bm25_candidates, o.top_k * search.profile.oversample);
    row.fts5 = latency_of(queries, [&](const std::string& q, std::vector<double>&) {
      rag::bm25_search_fts5(*store, collection, q, limit);
    });
  }
  index.reset();
  rag::forget_bm25_indexes(*store);
  // Progress on stderr (whatever the log level): the dense part of a large size can take
  // minutes, and stdout may be JSON.
  fmt::print(stderr, "bench rag: {} chunks, ingest {:.1f} s ({:.0f} chunks/s), BM25 index {:.2f} s, "
            "BM25 search p50 {:.3f} ms p99 {:.3f} ms{}\n",
            row.chunks, row.ingest_seconds, row.chunks_per_second, row.bm25_index_seconds, row.bm25.p50,
            row.bm25.p99, o.fts5 ? fmt::format(" (FTS5 p50 {:.3f} ms)", row.fts5.p50) : "");
  if (!o.no_dense && row.chunks > 0) {
    row.exact = bench_dense_index("exact", row.chunks, o.dense_dim, o.queries, o.dense_k);
    row.hnsw = bench_dense_index("hnsw", row.chunks, o.dense_dim, o.queries, o.dense_k);
  }
  row.max_rss_mib = max_rss_mib();
  return row;
}

int run_bench_rag(const BenchRagOptions& o) {
  if (o.documents.empty()) fail("--documents needs at least one count");
  nlohmann::json rows = nlohmann::json::array();
  if (!o.json) {
    fmt::print("{:>9} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}\n", "documents",
               "chunks", "ingest s", "chunks/s", "bm25 ix s", "bm25 MiB", "bm25 p50", "bm25 p99",
               "fts5 p50", "exact p50", "hnsw p50", "hnsw bld s", "RSS MiB");
  }
  for (size_t n : o.documents) {
    BenchRow r = bench_one(n, o);
    {
      nlohmann::json row = {{"documents", r.documents}, {"chunks", r.chunks},
                            {"ingest_seconds", r.ingest_seconds},
                            {"ingest_chunks_per_second", r.chunks_per_second},
                            {"ingest_documents_per_second", r.documents_per_second},
                            {"queries", o.queries}, {"top_k", o.top_k},
                            {"bm25_index_build_seconds", r.bm25_index_seconds},
                            {"bm25_index_mib", r.bm25_index_mib}, {"bm25_postings", r.bm25_postings},
                            {"bm25_latency_ms_p50", r.bm25.p50}, {"bm25_latency_ms_p99", r.bm25.p99},
                            {"bm25_latency_ms_mean", r.bm25.mean},
                            {"bm25_stage_ms_p50", r.bm25_stage.p50}, {"bm25_stage_ms_p99", r.bm25_stage.p99},
                            {"max_rss_mib", r.max_rss_mib}};
      if (o.fts5) {
        row["fts5_bm25_latency_ms_p50"] = r.fts5.p50;
        row["fts5_bm25_latency_ms_p99"] = r.fts5.p99;
        row["fts5_bm25_latency_ms_mean"] = r.fts5.mean;
      }
      if (!o.no_dense) {
        row["dense_dim"] = o.dense_dim;
        row["dense_k"] = o.dense_k;
        row["exact_latency_ms_p50"] = r.exact.p50;
        row["exact_latency_ms_p99"] = r.exact.p99;
        row["hnsw_latency_ms_p50"] = r.hnsw.p50;
        row["hnsw_latency_ms_p99"] = r.hnsw.p99;
        row["hnsw_build_seconds"] = r.hnsw.build_seconds;
      }
      rows.push_back(std::move(row));
    }
    if (!o.json) {
      auto opt = [](bool on, double v, int prec) { return on ? fmt::format("{:.{}f}", v, prec) : std::string("-"); };
      fmt::print("{:>9} {:>9} {:>9.2f} {:>9.0f} {:>9.2f} {:>8.1f} {:>9.3f} {:>9.3f} {:>9} {:>9} {:>9} {:>9} {:>8.0f}\n",
                 r.documents, r.chunks, r.ingest_seconds, r.chunks_per_second, r.bm25_index_seconds,
                 r.bm25_index_mib, r.bm25.p50, r.bm25.p99, opt(o.fts5, r.fts5.p50, 3),
                 opt(!o.no_dense, r.exact.p50, 3), opt(!o.no_dense, r.hnsw.p50, 3),
                 opt(!o.no_dense, r.hnsw.build_seconds, 2), r.max_rss_mib);
      std::fflush(stdout);
    }
  }
  const nlohmann::json out = {{"benchmark", "rag"}, {"results", rows}};
  if (o.json) fmt::print("{}\n", out.dump(2));
  if (!o.report.empty()) report::write_bench_report(o.report, {{"rag", out}});
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
  sub->add_flag("--fts5", o->fts5, "Also time FTS5's bm25() ranking (the path without the in-memory index)");
  sub->add_flag("--json", o->json, "Print results as JSON");
  sub->add_option("--report", o->report, "Also write DIR/report.html (charts) and DIR/results.json");
  return Command{sub, [o] { return run_bench_rag(*o); }};
});

}  // namespace
}  // namespace ragd::app
