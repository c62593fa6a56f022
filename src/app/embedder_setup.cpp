#include "app/embedder_setup.h"

#include <fmt/format.h>

#include <filesystem>

#include "app/embed_options.h"
#include "app/model_options.h"
#include "rag/ingest/embed_chunks.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::app {
namespace {

std::string default_embedder_path() {
  return (std::filesystem::path(default_model_dir()) / kDefaultEmbedder).string();
}

}  // namespace

void EmbedderChoice::add_to(CLI::App* sub, bool with_no_embed) {
  sub->add_option("--embed-model", model,
                  std::string("BERT GGUF embedding model (default: ") + kDefaultEmbedder +
                      " in $RAGD_MODEL_DIR or ./models, when present)");
  sub->add_option("--threads", service.threads, "Embedding threads (0 = all cores)")
      ->capture_default_str();
  add_embed_precision_option(*sub, service);
  if (with_no_embed) sub->add_flag("--no-embed", no_embed, "Do not compute embeddings (BM25 only)");
}

std::unique_ptr<rag::ModelEmbedder> open_passage_embedder(const EmbedderChoice& choice, bool quiet) {
  if (choice.no_embed) return nullptr;
  std::string path = choice.model;
  if (path.empty()) {
    path = default_embedder_path();
    if (!std::filesystem::exists(path)) {
      if (!quiet) {
        fmt::print(stderr, "note: no embedding model ({} missing; run 'make'), so only BM25 "
                           "search will work; pass --embed-model FILE to embed\n", path);
      }
      return nullptr;
    }
  }
  return rag::ModelEmbedder::open(path, choice.service);
}

std::unique_ptr<rag::ModelEmbedder> open_query_embedder(const EmbedderChoice& choice,
                                                        const rag::Collection& collection) {
  if (collection.embedding_dim == 0) {
    fail("collection '{}' has no embeddings, so dense and hybrid search cannot run: "
         "re-run 'ragd ingest' with an embedding model (--embed-model FILE, or install the "
         "default {}), or use --mode bm25",
         collection.name, kDefaultEmbedder);
  }
  std::string path = choice.model.empty() ? default_embedder_path() : choice.model;
  if (choice.model.empty() && !std::filesystem::exists(path)) {
    fail("collection '{}' was embedded with '{}'; pass that model with --embed-model FILE "
         "({} is missing)",
         collection.name, collection.embedding_model, path);
  }
  auto embedder = rag::ModelEmbedder::open(path, choice.service);
  rag::check_embedder_matches(collection, *embedder);
  return embedder;
}

void use_model_tokenizer(rag::ChunkerOptions& chunker, const rag::ModelEmbedder& embedder) {
  const rag::ModelEmbedder* e = &embedder;  // outlives the chunker (owned by the command)
  chunker.count_tokens = [e](std::string_view text) { return e->count_tokens(text); };
  chunker.counter_name = "model:" + embedder.name();
  size_t special = 2;  // [CLS] and [SEP]
  size_t cap = embedder.max_tokens() > special + kTitleReserveTokens + 8
                   ? embedder.max_tokens() - special - kTitleReserveTokens
                   : embedder.max_tokens();
  if (chunker.chunk_tokens > cap) {
    log::info("chunks capped at {} tokens so that title + chunk fit {}'s {} positions",
              cap, embedder.name(), embedder.max_tokens());
    chunker.chunk_tokens = cap;
  }
}

}  // namespace ragd::app
