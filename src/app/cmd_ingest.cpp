// ragd ingest PATH...: adds files and folders (.txt .md .html .jsonl) to a collection.
// Re-running it is cheap: unchanged files are skipped, changed ones replace their chunks.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "app/commands.h"
#include "app/embedder_setup.h"
#include "app/ingest_progress.h"
#include "app/rag_options.h"
#include "rag/search/collection_vectors.h"
#include "rag/ingest/embed_chunks.h"
#include "rag/ingest/ingest.h"
#include "util/error.h"

namespace ragd::app {
namespace {

struct IngestCmdOptions {
  std::vector<std::string> paths;
  StoreLocation where;
  size_t chunk_tokens = 512;
  size_t overlap_tokens = 50;
  size_t batch = 500;
  std::string fts_tokenizer = "porter";
  std::vector<std::string> meta;
  EmbedderChoice embed;
  bool quiet = false;
  bool json = false;
};

nlohmann::json parse_meta(const std::vector<std::string>& pairs) {
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& p : pairs) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0) fail("invalid --meta '{}': expected KEY=VALUE", p);
    meta[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return meta;
}

int run_ingest(const IngestCmdOptions& o) {
  rag::IngestOptions opts;
  opts.collection = o.where.collection;
  opts.fts_tokenizer = o.fts_tokenizer;
  opts.chunker.chunk_tokens = o.chunk_tokens;
  opts.chunker.overlap_tokens = o.overlap_tokens;
  // Notes and progress go to stderr, the --json summary to stdout: only --quiet hides them.
  auto embedder = open_passage_embedder(o.embed, o.quiet);
  if (embedder) use_model_tokenizer(opts.chunker, *embedder);
  opts.chunker.validate();
  opts.batch_documents = std::max<size_t>(o.batch, 1);
  opts.extra_metadata = parse_meta(o.meta);
  auto files = rag::collect_input_files(o.paths);
  if (files.empty()) {
    fail("no supported files found under {} (supported: {})", fmt::join(o.paths, ", "),
         rag::supported_extensions());
  }
  auto store = open_store(o.where, /*must_exist=*/false);
  if (embedder) {
    // Refuse another model before any document is written.
    if (auto existing = store->find_collection(o.where.collection)) {
      rag::check_embedder_matches(*existing, *embedder);
    }
  }
  rag::Ingestor ingestor(*store, opts);
  IngestProgressBar bar(!o.quiet);
  rag::IngestStats s = ingestor.ingest(files, bar.callback());
  rag::Collection collection = store->require_collection(o.where.collection);
  rag::EmbedStats es;
  std::string index_kind = "none";
  if (embedder) {
    es = rag::embed_missing_chunks(*store, collection, *embedder, 64, bar.embed_callback());
    // Brings the vector index up to date with the stored vectors (an HNSW index above the
    // exact threshold is rebuilt and persisted when stale; an exact one needs nothing).
    index_kind = rag::CollectionVectors::open(*store, collection)->kind();
  }
  bar.finish();
  auto totals = store->stats(ingestor.collection().id);
  if (!embedder && totals.embeddings > 0 && totals.embeddings < totals.chunks) {
    fmt::print(stderr, "warning: {} chunks of '{}' have no embedding; dense search will not "
                       "find them until 'ragd ingest' runs with '{}'\n",
               totals.chunks - totals.embeddings, collection.name, collection.embedding_model);
  }
  double chunks_per_s = s.seconds > 0 ? static_cast<double>(s.chunks_written) / s.seconds : 0;
  if (o.json) {
    nlohmann::json j = {{"collection", o.where.collection}, {"db", o.where.db_dir},
                        {"files", s.files}, {"files_unchanged", s.files_unchanged},
                        {"documents_added", s.documents_added},
                        {"documents_updated", s.documents_updated},
                        {"documents_unchanged", s.documents_unchanged},
                        {"documents_removed", s.documents_removed},
                        {"chunks_written", s.chunks_written}, {"errors", s.errors},
                        {"seconds", s.seconds}, {"chunks_per_second", chunks_per_s},
                        {"collection_documents", totals.documents},
                        {"collection_chunks", totals.chunks},
                        {"embedding_model", collection.embedding_model},
                        {"embedding_dim", collection.embedding_dim},
                        {"chunks_embedded", es.chunks}, {"embed_seconds", es.seconds},
                        {"collection_embeddings", totals.embeddings},
                        {"vector_index", index_kind}};
    fmt::print("{}\n", j.dump(2));
  } else {
    fmt::print("{} files ({} unchanged): {} documents added, {} updated, {} unchanged, {} removed; "
               "{} chunks written in {:.2f} s ({:.0f} chunks/s)\n",
               s.files, s.files_unchanged, s.documents_added, s.documents_updated,
               s.documents_unchanged, s.documents_removed, s.chunks_written, s.seconds,
               chunks_per_s);
    if (embedder) {
      fmt::print("{} chunks embedded with {} in {:.2f} s ({:.1f} chunks/s); vector index: {}\n",
                 es.chunks, embedder->name(), es.seconds,
                 es.seconds > 0 ? static_cast<double>(es.chunks) / es.seconds : 0.0, index_kind);
    }
    fmt::print("collection '{}' in {}: {} documents, {} chunks, {} embeddings{}\n",
               o.where.collection, o.where.db_dir, totals.documents, totals.chunks,
               totals.embeddings,
               collection.embedding_model.empty() ? "" : " (" + collection.embedding_model + ")");
  }
  if (s.errors) {
    fmt::print(stderr, "error: {} files or records could not be ingested (see messages above)\n",
               s.errors);
    return 1;
  }
  return 0;
}

const CommandRegistrar registrar([](CLI::App& app) {
  auto opts = std::make_shared<IngestCmdOptions>();
  auto* sub = app.add_subcommand("ingest", "Add files and folders (.txt .md .html .jsonl) to a collection");
  sub->add_option("paths", opts->paths, "Files or folders to ingest")->required();
  add_store_options(sub, opts->where);
  sub->add_option("--chunk-tokens", opts->chunk_tokens, "Maximum tokens per chunk")->capture_default_str();
  sub->add_option("--chunk-overlap", opts->overlap_tokens, "Tokens shared by consecutive chunks")
      ->capture_default_str();
  sub->add_option("--fts-tokenizer", opts->fts_tokenizer,
                  "Keyword index tokenizer for a new collection: porter (English stemming) or unicode61")
      ->capture_default_str();
  sub->add_option("--batch", opts->batch, "Documents per database transaction")->capture_default_str();
  sub->add_option("--meta", opts->meta, "KEY=VALUE added to every document's metadata (repeatable)");
  opts->embed.add_to(sub, /*with_no_embed=*/true);
  sub->add_flag("--quiet,-q", opts->quiet, "No progress display");
  sub->add_flag("--json", opts->json, "Print the summary as JSON");
  return Command{sub, [opts] { return run_ingest(*opts); }};
});

}  // namespace
}  // namespace ragd::app
