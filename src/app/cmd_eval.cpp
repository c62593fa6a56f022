// ragd eval beir --data DIR: retrieval quality on a BEIR-format dataset, ingested into a
// fresh temporary store (nothing of the user's data directory is touched), or into
// --db DIR, which is kept and reused: a later run (e.g. another --mode) finds the corpus
// ingested and embedded already and only runs the queries.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/eval_command.h"
#include "app/embed_options.h"
#include "app/embedder_setup.h"
#include "app/ingest_progress.h"
#include "app/rag_options.h"
#include "rag/eval/beir.h"
#include "rag/ingest/temp_dir.h"
#include "rag/store/open_store.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct EvalBeirOptions {
  std::string data;
  std::string split = "test";
  std::string mode = "bm25";
  std::string profile = "default";
  std::string keep_db;
  std::string store = "sqlite";
  std::string fts_tokenizer = "porter";
  std::string fusion = "weighted";
  double bm25_weight = 0.3;
  EmbedderChoice embed;
  RerankChoice rerank;
  size_t max_queries = 0;
  bool json = false;
  bool quiet = false;
};

int run_eval_beir(const EvalBeirOptions& o) {
  rag::BeirOptions opts;
  opts.search.mode = rag::parse_search_mode(o.mode);
  opts.search.profile = rag::search_profile(o.profile);
  opts.search.fusion = rag::parse_fusion_method(o.fusion);
  if (o.bm25_weight < 0 || o.bm25_weight > 1) fail("--bm25-weight must be between 0 and 1");
  opts.search.bm25_weight = o.bm25_weight;
  opts.search.dense_weight = 1 - o.bm25_weight;
  const bool dense = opts.search.mode != rag::SearchMode::Bm25;
  // Loaded for BM25 too when available: the chunker then counts with the model's tokenizer
  // in every mode, so all modes see the same chunks and can share one --db.
  auto embedder = open_passage_embedder(o.embed, /*quiet=*/!dense);
  if (dense && !embedder) {
    fail("--mode {} needs an embedding model: pass --embed-model FILE or install the default "
         "{} (run 'make')",
         o.mode, kDefaultEmbedder);
  }
  if (embedder) use_model_tokenizer(opts.ingest.chunker, *embedder);
  opts.embedder = embedder.get();
  auto reranker = o.rerank.make(embedder.get(), o.embed.service.threads);
  opts.reranker = reranker.get();
  if (o.rerank.depth) opts.search.profile.rerank_candidates = *o.rerank.depth;
  opts.max_queries = o.max_queries;
  rag::BeirData data = rag::load_beir(o.data, o.split);
  rag::TempDir tmp("ragd-eval");
  std::filesystem::path dir = o.keep_db.empty() ? tmp.path() : std::filesystem::path(o.keep_db);
  auto store = rag::open_store(o.store, dir);
  if (embedder) {
    if (auto existing = store->find_collection("beir")) rag::check_embedder_matches(*existing, *embedder);
  }
  // Progress goes to stderr and the report to stdout, so --json keeps it; --quiet silences it.
  IngestProgressBar bar(!o.quiet);
  opts.ingest_progress = bar.callback();
  opts.embed_progress = bar.embed_callback();
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
                        {"fusion", dense && opts.search.mode == rag::SearchMode::Hybrid ? o.fusion : ""},
                        {"bm25_weight", o.bm25_weight},
                        {"embedding_model", embedder ? embedder->name() : ""},
                        {"chunk_tokens", opts.ingest.chunker.chunk_tokens},
                        {"documents", r.documents},
                        {"chunks", r.chunks},
                        {"queries", r.queries},
                        {"ndcg_at_10", r.ndcg_at_10},
                        {"recall_at_100", r.recall_at_100},
                        {"mrr_at_10", r.mrr_at_10},
                        {"hit_at_4", r.hit_at_4},
                        {"recall_at_4", r.recall_at_4},
                        {"reranker", reranker ? reranker->name() : "none"},
                        {"rerank_depth", reranker ? opts.search.profile.rerank_candidates : 0},
                        {"rerank_first_stage_weight", reranker ? reranker->first_stage_weight() : 0.0},
                        {"rerank_ms_p50", r.rerank_ms_p50},
                        {"rerank_ms_p99", r.rerank_ms_p99},
                        {"latency_ms_p50", r.latency_ms_p50},
                        {"latency_ms_p99", r.latency_ms_p99},
                        {"latency_ms_mean", r.latency_ms_mean},
                        {"embed_ms_p50", r.embed_ms_p50},
                        {"embed_ms_p99", r.embed_ms_p99},
                        {"chunks_embedded", r.chunks_embedded},
                        {"embed_seconds", r.embed_seconds},
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
  fmt::print("Hit@4       {:.4f}\nRecall@4    {:.4f}\n", r.hit_at_4, r.recall_at_4);
  if (reranker) {
    fmt::print("rerank      {} of the top {} (first-stage weight {:.2f}): p50 {:.2f} ms, p99 {:.2f} ms\n",
               reranker->name(), opts.search.profile.rerank_candidates, reranker->first_stage_weight(),
               r.rerank_ms_p50, r.rerank_ms_p99);
  }
  if (r.chunks_embedded) {
    fmt::print("embedding   {} chunks in {:.1f} s\n", r.chunks_embedded, r.embed_seconds);
  }
  fmt::print("latency     p50 {:.2f} ms, p99 {:.2f} ms, mean {:.2f} ms (retrieval of the top 100 "
             "documents)\n",
             r.latency_ms_p50, r.latency_ms_p99, r.latency_ms_mean);
  if (dense) {
    fmt::print("query embed p50 {:.2f} ms, p99 {:.2f} ms\n", r.embed_ms_p50, r.embed_ms_p99);
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto o = std::make_shared<EvalBeirOptions>();
  auto* eval = eval_command(app);
  auto* sub = eval->add_subcommand("beir", "nDCG@10, Recall@100, MRR@10 and latency on a BEIR dataset");
  sub->add_option("--data", o->data, "BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/)")->required();
  sub->add_option("--split", o->split, "qrels split to evaluate")->capture_default_str();
  sub->add_option("--mode", o->mode, "bm25, dense or hybrid")->capture_default_str();
  sub->add_option("--profile", o->profile, "fast, default or quality")->capture_default_str();
  sub->add_option("--fts-tokenizer", o->fts_tokenizer, "porter or unicode61")->capture_default_str();
  sub->add_option("--db,--keep-db", o->keep_db,
                  "Ingest into this directory and keep it; an existing one is reused (unchanged "
                  "corpus: nothing re-ingested or re-embedded)");
  sub->add_option("--store", o->store,
                  "Document store: sqlite (in --db) or postgres://USER@HOST:PORT/DB (its 'beir' collection "
                  "is reused like --db's)")
      ->capture_default_str();
  sub->add_option("--fusion", o->fusion, "Hybrid fusion: weighted or rrf")->capture_default_str();
  sub->add_option("--bm25-weight", o->bm25_weight, "Hybrid weighted fusion: BM25 share")
      ->capture_default_str();
  o->embed.add_to(sub, /*with_no_embed=*/false);
  o->rerank.add_to(sub);
  sub->add_option("--queries", o->max_queries,
                  "Evaluate N judged queries spread evenly over the id order (0: all)")
      ->capture_default_str();
  sub->add_flag("--json", o->json, "Print the report as JSON (progress stays on stderr)");
  sub->add_flag("--quiet,-q", o->quiet, "No progress display");
  return Command{sub, [o] { return run_eval_beir(*o); }};
});

}  // namespace
}  // namespace ragd::app
