// Choosing the embedding model for the retrieval commands (ingest, search, eval beir).
//
//  * Ingest embeds with --embed-model FILE, else with the default embedder when it is
//    installed, else not at all (BM25 still works); --no-embed skips embedding.
//  * Search embeds the query with --embed-model FILE, else the default embedder, and the
//    model must be the one the collection's vectors came from.
//  * With a model, the chunker counts tokens with the model's own tokenizer, and a chunk's
//    text is capped at max_tokens − 2 ([CLS], [SEP]) − kTitleReserveTokens, so that the
//    embedded text (title, heading, chunk) fits the model's positions unless the title
//    and heading together exceed the reserve; then the service truncates the tail of that
//    one vector's input (the stored chunk text stays whole) and counts it.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "engine/embedding_service.h"
#include "rag/ingest/chunker.h"
#include "rag/search/model_embedder.h"
#include "rag/store/store.h"

namespace ragd::app {

inline constexpr size_t kTitleReserveTokens = 64;

struct EmbedderChoice {
  std::string model;  // --embed-model; empty: the default embedder
  bool no_embed = false;
  engine::EmbeddingServiceOptions service;

  // Adds --embed-model, --threads, --embed-precision and, if with_no_embed, --no-embed.
  void add_to(CLI::App* sub, bool with_no_embed);
};

// The embedder for ingestion: null with --no-embed, or when no --embed-model is given and
// the default embedder is not installed (noted on stderr unless quiet).
std::unique_ptr<rag::ModelEmbedder> open_passage_embedder(const EmbedderChoice& choice, bool quiet);

// The embedder for queries on `collection`; ragd::Error when the collection has no vectors
// or the model is not the one that made them.
std::unique_ptr<rag::ModelEmbedder> open_query_embedder(const EmbedderChoice& choice,
                                                        const rag::Collection& collection);

// Makes the chunker count with the model's tokenizer and caps chunk_tokens as described
// above (logged when the cap lowers a setting).
void use_model_tokenizer(rag::ChunkerOptions& chunker, const rag::ModelEmbedder& embedder);

}  // namespace ragd::app
