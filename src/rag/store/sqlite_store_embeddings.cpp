// SqliteStore: embedding vectors (see sqlite_store.h). Vectors are float32 in host byte order (every
// platform ragd targets is little-endian), one BLOB per chunk.
#include <cstring>

#include <fmt/format.h>
#include <sqlite3.h>

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
  collection.vector_version = bump_vector_version(collection.id);
  cached("INSERT INTO vector_log(collection_id, version, chunk_id, op) VALUES(?, ?, ?, 'put')")
      .bind(1, collection.id)
      .bind(2, collection.vector_version)
      .bind(3, chunk_id)
      .run();
  if (collection.vector_version % kVectorLogPruneEvery == 0 && collection.vector_version > kVectorLogRetainVersions) {
    prune_vector_changes(collection.id, collection.vector_version - kVectorLogRetainVersions);
  }
}

VectorChangeSet SqliteStore::vector_changes_since(const Collection& collection, int64_t version,
                                                  const std::function<void(int64_t, std::span<const float>)>& fn) {
  // One read transaction, so that the version, the floor, the log and the vectors come
  // from one snapshot (WAL); inside the caller's transaction they do already.
  const bool own = sqlite3_get_autocommit(db_.handle()) != 0;  // no transaction open
  if (own) db_.exec("BEGIN");
  try {
    VectorChangeSet out = read_vector_changes(collection, version, fn);
    if (own) db_.exec("COMMIT");
    return out;
  } catch (...) {
    if (own) db_.exec("ROLLBACK");
    throw;
  }
}

VectorChangeSet SqliteStore::read_vector_changes(const Collection& collection, int64_t version,
                                                 const std::function<void(int64_t, std::span<const float>)>& fn) {
  VectorChangeSet out;
  auto& c = cached(
      "SELECT vector_version, vector_log_floor, coalesce(embedding_model, ''), coalesce(embedding_dim, 0)"
      " FROM collections WHERE id = ?");
  c.bind(1, collection.id);
  if (!c.step()) {
    out.reason = "the collection was deleted";
    return out;
  }
  out.version = c.int64(0);
  const int64_t floor = c.int64(1);
  out.reason = vector_log_gap(collection, c.text(2), static_cast<size_t>(c.int64(3)), version, out.version, floor);
  c.reset();
  if (!out.reason.empty()) return out;
  out.complete = true;
  if (version == out.version) return out;
  // Each chunk's newest entry after `version` (SQLite takes the bare column `op` from the
  // row holding max(version)); a 'put' comes with the vector stored now, which the
  // snapshot guarantees is the one that entry wrote.
  auto& s = cached(
      "SELECT l.chunk_id, e.vector FROM (SELECT chunk_id, op, max(version) FROM vector_log"
      " WHERE collection_id = ?1 AND version > ?2 GROUP BY chunk_id) l"
      " LEFT JOIN embeddings e ON e.chunk_id = l.chunk_id AND l.op = 'put' ORDER BY l.chunk_id");
  s.bind(1, collection.id).bind(2, version);
  std::vector<float> buf;
  while (s.step()) {
    int64_t id = s.int64(0);
    buf.clear();
    auto blob = s.blob(1);  // empty for NULL: removed
    if (!blob.empty()) decode_vector(id, blob, collection.embedding_dim, buf);
    fn(id, buf);
    ++out.changes;
  }
  return out;
}

void SqliteStore::prune_vector_changes(int64_t collection_id, int64_t version) {
  // The floor first: a reader that sees entries missing also sees the floor that says so.
  cached("UPDATE collections SET vector_log_floor = max(vector_log_floor, ?2) WHERE id = ?1")
      .bind(1, collection_id)
      .bind(2, version)
      .run();
  cached("DELETE FROM vector_log WHERE collection_id = ? AND version <= ?")
      .bind(1, collection_id)
      .bind(2, version)
      .run();
}

void SqliteStore::for_each_embedding(int64_t collection_id,
                               const std::function<void(int64_t, std::span<const float>)>& fn) {
  auto& s = cached(
      "SELECT e.chunk_id, e.vector FROM embeddings e JOIN chunks c ON c.id = e.chunk_id"
      " JOIN documents d ON d.id = c.document_id WHERE d.collection_id = ? ORDER BY e.chunk_id");
  s.bind(1, collection_id);
  std::vector<float> buf;
  while (s.step()) {
    decode_vector(s.int64(0), s.blob(1), 0, buf);
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
