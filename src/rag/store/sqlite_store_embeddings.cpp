// SqliteStore: embedding vectors (see sqlite_store.h). Vectors are float32 in host byte order (every
// platform ragd targets is little-endian), one BLOB per chunk.
#include <cstring>

#include "rag/store/sqlite_store.h"
#include "util/error.h"

namespace ragd::rag {

void SqliteStore::put_embedding(Collection& collection, int64_t chunk_id, std::span<const float> vector,
                          const std::string& model) {
  if (vector.empty()) fail("empty embedding vector for chunk {}", chunk_id);
  if (collection.embedding_dim == 0) {
    cached("UPDATE collections SET embedding_model = ?, embedding_dim = ? WHERE id = ?")
        .bind(1, model)
        .bind(2, static_cast<int64_t>(vector.size()))
        .bind(3, collection.id)
        .run();
    collection.embedding_model = model;
    collection.embedding_dim = vector.size();
  } else if (collection.embedding_dim != vector.size() || collection.embedding_model != model) {
    fail("collection '{}' holds {}-dimensional embeddings from '{}'; cannot add {}-dimensional "
         "ones from '{}' (re-create the collection to change models)",
         collection.name, collection.embedding_dim, collection.embedding_model, vector.size(),
         model);
  }
  auto bytes = std::as_bytes(vector);
  cached("INSERT OR REPLACE INTO embeddings(chunk_id, vector) VALUES(?, ?)")
      .bind(1, chunk_id)
      .bind_blob(2, bytes)
      .run();
  bump_vector_version(collection.id);
  ++collection.vector_version;
}

void SqliteStore::for_each_embedding(int64_t collection_id,
                               const std::function<void(int64_t, std::span<const float>)>& fn) {
  auto& s = cached(
      "SELECT e.chunk_id, e.vector FROM embeddings e JOIN chunks c ON c.id = e.chunk_id"
      " JOIN documents d ON d.id = c.document_id WHERE d.collection_id = ? ORDER BY e.chunk_id");
  s.bind(1, collection_id);
  std::vector<float> buf;
  while (s.step()) {
    auto blob = s.blob(1);
    if (blob.size() % sizeof(float) != 0) {
      fail("corrupt embedding for chunk {} ({} bytes)", s.int64(0), blob.size());
    }
    // Copy: SQLite's blob pointer has no alignment guarantee for float.
    buf.resize(blob.size() / sizeof(float));
    std::memcpy(buf.data(), blob.data(), blob.size());
    fn(s.int64(0), buf);
  }
}

EmbeddingState SqliteStore::embedding_state(int64_t collection_id) {
  auto& s = cached(
      "SELECT e.chunk_id FROM embeddings e JOIN chunks c ON c.id = e.chunk_id"
      " JOIN documents d ON d.id = c.document_id WHERE d.collection_id = ?");
  s.bind(1, collection_id);
  EmbeddingState st;
  while (s.step()) {
    st.id_checksum += embedding_id_hash(s.int64(0));
    ++st.count;
  }
  auto& v = cached("SELECT vector_version FROM collections WHERE id = ?");
  v.bind(1, collection_id);
  if (v.step()) st.version = v.int64(0);
  v.reset();
  return st;
}

std::vector<int64_t> SqliteStore::chunks_without_embedding(int64_t collection_id, size_t limit) {
  auto& s = cached(
      "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
      " LEFT JOIN embeddings e ON e.chunk_id = c.id"
      " WHERE d.collection_id = ? AND e.chunk_id IS NULL ORDER BY c.id LIMIT ?");
  s.bind(1, collection_id).bind(2, static_cast<int64_t>(limit));
  std::vector<int64_t> out;
  while (s.step()) out.push_back(s.int64(0));
  return out;
}

}  // namespace ragd::rag
