// Embedding a collection's chunks: every chunk that has no vector yet gets one from the
// Embedder, stored in the embeddings table in batches (one transaction per batch).
//
// Invariants:
//  * A collection holds vectors of one model: the first vector records the model's name and
//    dimension; an Embedder with another name or dimension is refused before any work
//    (check_embedder_matches). Quantizations of one model share its name and are treated as
//    the same model (their vectors agree to cosine ≥ 0.999).
//  * Work is resumable: chunks are picked by "has no embedding", so an interrupted run,
//    or an ingest with --no-embed, is completed by the next run, and re-ingesting
//    unchanged documents embeds nothing.
//  * The text embedded for a chunk is its title, heading path and text, one per line (the
//    title often carries the topic the body never names). The embedding service truncates
//    it to the model's positions; truncations are counted in EmbedStats.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "rag/search/embedder.h"
#include "rag/store/store.h"

namespace ragd::rag {

struct EmbedStats {
  size_t chunks = 0;  // embedded by this call
  double seconds = 0;
};

// (done, total) chunks of this call, after each batch.
using EmbedProgressFn = std::function<void(size_t, size_t)>;

// Throws ragd::Error when the collection already holds vectors of another model or
// dimension than `embedder`.
void check_embedder_matches(const Collection& collection, const Embedder& embedder);

// The text a chunk is embedded from.
std::string chunk_embedding_text(const ChunkRecord& chunk);

// Embeds every chunk of `collection` without a vector. `collection` is updated (model,
// dimension, vector_version). Must not be called inside a transaction.
EmbedStats embed_missing_chunks(Store& store, Collection& collection, Embedder& embedder,
                                size_t batch = 64, const EmbedProgressFn& progress = nullptr);

}  // namespace ragd::rag
