#include "rag/ingest/embed_chunks.h"

#include "util/error.h"
#include "util/timing.h"

namespace ragd::rag {

void check_embedder_matches(const Collection& collection, const Embedder& embedder) {
  if (collection.embedding_dim == 0) return;  // nothing embedded yet: any model may start
  if (collection.embedding_model != embedder.name() || collection.embedding_dim != embedder.dim()) {
    fail("collection '{}' holds {}-dimensional embeddings from '{}', but the embedding model is "
         "'{}' ({} dimensions); models cannot be mixed in one collection (use the same "
         "--embed-model, another --collection, or --no-embed)",
         collection.name, collection.embedding_dim, collection.embedding_model, embedder.name(),
         embedder.dim());
  }
}

std::string chunk_embedding_text(const ChunkRecord& chunk) {
  std::string text;
  for (const std::string* part : {&chunk.title, &chunk.heading, &chunk.text}) {
    if (part->empty()) continue;
    if (!text.empty()) text += '\n';
    text += *part;
  }
  return text;
}

EmbedStats embed_missing_chunks(Store& store, Collection& collection, Embedder& embedder,
                                size_t batch, const EmbedProgressFn& progress) {
  check_embedder_matches(collection, embedder);
  Stopwatch watch;
  EmbedStats stats;
  batch = std::max<size_t>(batch, 1);
  CollectionStats before = store.stats(collection.id);
  size_t total = static_cast<size_t>(std::max<int64_t>(before.chunks - before.embeddings, 0));
  if (progress) progress(0, total);
  const std::string model = embedder.name();
  while (true) {
    std::vector<int64_t> ids = store.chunks_without_embedding(collection.id, batch);
    if (ids.empty()) break;
    std::vector<ChunkRecord> chunks = store.get_chunks(ids);
    std::vector<std::string> texts;
    texts.reserve(chunks.size());
    for (const auto& c : chunks) texts.push_back(chunk_embedding_text(c));
    // Computed outside the transaction: the database stays free for readers meanwhile.
    auto vectors = embedder.embed_passages(texts);
    if (vectors.size() != chunks.size()) fail("embedding model returned {} vectors for {} texts", vectors.size(), chunks.size());
    StoreTransaction tx(store);
    for (size_t i = 0; i < chunks.size(); ++i) {
      store.put_embedding(collection, chunks[i].id, vectors[i], model);
    }
    tx.commit();
    stats.chunks += chunks.size();
    if (progress) progress(stats.chunks, std::max(total, stats.chunks));
  }
  stats.seconds = watch.seconds();
  return stats;
}

}  // namespace ragd::rag
