// The SQLite backend of Store (store.h): one database file, DIR/ragd.db (schema.h), with
// collections, sources, documents, chunks, embeddings and one contentless FTS5 table per
// collection. Full-text ranking is FTS5's bm25(); rag/search also reads the FTS5 table
// directly through db() to build its in-memory BM25 index (bm25_index.h), which gives
// the same scores, so that accelerator exists for this backend only.
//
// Invariant kept by every write: a document's chunks and their FTS rows are always in step
// (inserted and deleted in the same transaction, FTS deletes use the stored values).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "rag/store/sqlite.h"
#include "rag/store/store.h"

namespace ragd::rag {

class SqliteStore final : public Store {
 public:
  static constexpr const char* kDbFileName = "ragd.db";

  // Creates `dir` if needed, opens or creates dir/ragd.db and migrates its schema.
  // `vfs`: a registered SQLite VFS name, empty for the default (see Db::open).
  static std::unique_ptr<SqliteStore> open(const std::filesystem::path& dir, const std::string& vfs = {});

  Db& db() { return db_; }
  // A prepared statement cached for the life of the store (hot paths prepare once).
  Stmt& cached(const std::string& sql);

  std::string describe() const override { return dir().string(); }

  Collection create_collection(const std::string& name, const std::string& fts_tokenizer = "porter") override;
  std::optional<Collection> find_collection(const std::string& name) override;
  std::vector<Collection> list_collections() override;
  void delete_collection(const Collection& collection) override;
  CollectionStats stats(int64_t collection_id) override;

  std::optional<SourceRecord> find_source(int64_t collection_id, const std::string& path) override;
  int64_t upsert_source(int64_t collection_id, const std::string& path, const std::string& content_hash,
                        int64_t size) override;
  std::vector<std::pair<int64_t, std::string>> documents_of_source(int64_t source_id) override;

  std::optional<DocumentRef> find_document(int64_t collection_id, const std::string& external_id) override;
  int64_t put_document(const Collection& collection, std::optional<int64_t> source_id, const DocumentInput& doc,
                       bool is_new = false) override;
  void remove_document(const Collection& collection, int64_t document_id) override;
  std::vector<DocumentInfo> list_documents(int64_t collection_id, int64_t limit, int64_t offset) override;
  std::optional<DocumentInfo> get_document(int64_t collection_id, const std::string& external_id) override;
  std::vector<ChunkRecord> document_chunks(int64_t document_id) override;

  std::vector<ChunkRecord> get_chunks(std::span<const int64_t> ids) override;
  std::unordered_map<int64_t, int64_t> document_ids(std::span<const int64_t> chunk_ids) override;
  std::vector<int64_t> chunk_ids_matching(int64_t collection_id, const std::vector<MetadataFilter>& filters) override;
  std::vector<ScoredChunk> full_text_search(const Collection& collection, std::span<const std::string> terms,
                                            size_t limit, const std::vector<MetadataFilter>& filters) override;

  // Embeddings (sqlite_store_embeddings.cpp): float32 in host byte order, one BLOB per chunk.
  void put_embedding(Collection& collection, int64_t chunk_id, std::span<const float> vector,
                     const std::string& model) override;
  void for_each_embedding(int64_t collection_id,
                          const std::function<void(int64_t, std::span<const float>)>& fn) override;
  EmbeddingState embedding_state(int64_t collection_id) override;
  std::vector<int64_t> chunks_without_embedding(int64_t collection_id, size_t limit) override;

  // The change log (vector_log, schema.h) lives in the same database, so replicas that
  // share the file (the server and a `ragd ingest` beside it) catch up like PostgreSQL's.
  VectorChangeSet vector_changes_since(const Collection& collection, int64_t version,
                                       const std::function<void(int64_t, std::span<const float>)>& fn) override;
  void prune_vector_changes(int64_t collection_id, int64_t version) override;

  uint64_t content_version(int64_t collection_id) override;

  void begin() override;
  void commit() override;
  void rollback() override;

 private:
  SqliteStore(Db db, std::filesystem::path dir) : Store(std::move(dir)), db_(std::move(db)) {}
  void delete_chunks(const Collection& collection, int64_t document_id);
  int64_t bump_vector_version(int64_t collection_id);  // also bumps content_version; the new version
  VectorChangeSet read_vector_changes(const Collection& collection, int64_t version,
                                      const std::function<void(int64_t, std::span<const float>)>& fn);
  void bump_content_version(int64_t collection_id);
  Db db_;
  std::optional<Transaction> tx_;  // the one StoreTransaction open on this connection
  std::unordered_map<std::string, Stmt> statements_;
};

}  // namespace ragd::rag
