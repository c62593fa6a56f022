// ragd eval beir --data DIR: retrieval quality on a BEIR-format dataset, ingested into a
// fresh temporary store (nothing of the user's data directory is touched).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/ingest_progress.h"
#include "rag/beir.h"
#include "rag/temp_dir.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct EvalBeirOptions {
  std::string data;
  std::string split = "test";
  std::string mode = "bm25";
  std::string profile = "default";
  std::string keep_db;
  std::string fts_tokenizer = "porter";
  bool json = false;
};

int run_eval_beir(const EvalBeirOptions& o) {
  rag::BeirOptions opts;
  opts.search.mode = rag::parse_search_mode(o.mode);
  opts.search.profile = rag::search_profile(o.profile);
  if (opts.search.mode != rag::SearchMode::Bm25) {
    fail("--mode {} needs an embedding model, and no embedding model is configured yet; use "
         "--mode bm25",
         o.mode);
  }
  rag::BeirData data = rag::load_beir(o.data, o.split);
  rag::TempDir tmp("ragd-eval");
  std::filesystem::path dir = o.keep_db.empty() ? tmp.path() : std::filesystem::path(o.keep_db);
  if (!o.keep_db.empty() && std::filesystem::exists(dir / rag::Store::kDbFileName)) {
    fail("--keep-db {}: a store already exists there; give an empty or new directory", o.keep_db);
  }
  auto store = rag::Store::open(dir);
  IngestProgressBar bar(!o.json);
  opts.ingest_progress = bar.callback();
  opts.ingest.collection = "beir";
  opts.ingest.fts_tokenizer = o.fts_tokenizer;
  rag::BeirReport r = rag::evaluate_beir(data, *store, opts);
  bar.finish();
  if (o.json) {
    nlohmann::json j = {{"dataset", o.data},
                        {"split", o.split},
                        {"mode", r.mode},
                        {"profile", o.profile},
                        {"fts_tokenizer", o.fts_tokenizer},
                        {"documents", r.documents},
                        {"chunks", r.chunks},
                        {"queries", r.queries},
                        {"ndcg_at_10", r.ndcg_at_10},
                        {"recall_at_100", r.recall_at_100},
                        {"mrr_at_10", r.mrr_at_10},
                        {"latency_ms_p50", r.latency_ms_p50},
                        {"latency_ms_p99", r.latency_ms_p99},
                        {"latency_ms_mean", r.latency_ms_mean},
                        {"ingest_seconds", r.ingest_seconds},
                        {"ingest_documents_per_second", r.documents_per_second},
                        {"ingest_chunks_per_second", r.chunks_per_second}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("dataset     {} ({} split): {} documents, {} chunks, {} queries\n", o.data, o.split,
             r.documents, r.chunks, r.queries);
  fmt::print("ingest      {:.2f} s ({:.0f} documents/s, {:.0f} chunks/s)\n", r.ingest_seconds,
             r.documents_per_second, r.chunks_per_second);
  fmt::print("mode        {} (profile {})\n", r.mode, o.profile);
  fmt::print("nDCG@10     {:.4f}\nRecall@100  {:.4f}\nMRR@10      {:.4f}\n", r.ndcg_at_10,
             r.recall_at_100, r.mrr_at_10);
  fmt::print("latency     p50 {:.2f} ms, p99 {:.2f} ms, mean {:.2f} ms (top 100 documents)\n",
             r.latency_ms_p50, r.latency_ms_p99, r.latency_ms_mean);
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<EvalBeirOptions>();
  auto* eval = app.add_subcommand("eval", "Evaluate retrieval quality");
  eval->require_subcommand(1);
  auto* sub = eval->add_subcommand("beir", "nDCG@10, Recall@100, MRR@10 and latency on a BEIR dataset");
  sub->add_option("--data", o->data, "BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")->required();
  sub->add_option("--split", o->split, "qrels split to evaluate")->capture_default_str();
  sub->add_option("--mode", o->mode, "bm25, dense or hybrid")->capture_default_str();
  sub->add_option("--profile", o->profile, "fast, default or quality")->capture_default_str();
  sub->add_option("--fts-tokenizer", o->fts_tokenizer, "porter or unicode61")->capture_default_str();
  sub->add_option("--keep-db", o->keep_db, "Ingest into this (new) directory and keep it");
  sub->add_flag("--json", o->json, "Print the report as JSON");
  return Command{sub, [o] { return run_eval_beir(*o); }};
});

}  // namespace
}  // namespace ragd::app
