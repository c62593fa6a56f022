// The PostgreSQL backend of Store (store.h), through libpq: every replica that names the
// same database serves the same collections.
//
// Tables mirror the SQLite schema (schema.h) column for column, with these differences:
//   documents.metadata   jsonb (filters: `metadata #>> path`, compared as text)
//   chunks.tsv           tsvector of title, heading and text, written with the chunk (so
//                        chunks and their full text are always in step), GIN-indexed
//   embeddings.vector    bytea, float32 in host byte order (as SQLite's BLOB)
//   collections.fts_tokenizer   the same FTS5 spec as SQLite's; it selects the text search
//                        configuration: 'english' (Snowball stemming and stop words) for
//                        "porter", 'simple' for "unicode61"
//   vector_log           (collection_id, version, chunk_id, op 'put'|'del'): the change log
//                        of vectors (Store::vector_changes_since), written by the statement
//                        that bumps vector_version; collections.vector_log_floor: the
//                        version up to which it may have been pruned
// meta('schema_version') holds the schema version; open() creates or checks it under an
// advisory lock, so replicas starting together do not race.
//
// Full-text ranking is ts_rank(tsv, query, 1): term frequency with the rank divided by
// 1 + log(document length); it has no IDF, so it ranks below FTS5's BM25 on SciFact
// (docs/scaling.md). The query ORs plainto_tsquery() of each term. Diacritics are not
// folded (FTS5's unicode61 folds them).
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "rag/store/pg.h"
#include "rag/store/store.h"

namespace ragd::rag {

class PostgresStore final : public Store {
 public:
  // 2: vector_log and collections.vector_log_floor (the change log of vectors).
  static constexpr int kSchemaVersion = 2;

  // Connects to `uri` (postgres:// or postgresql://, any libpq URI) and creates the
  // tables when the database has none. `cache_dir`: this replica's directory for derived
  // files (persisted vector indexes).
  static std::unique_ptr<PostgresStore> open(const std::string& uri, const std::filesystem::path& cache_dir);

  std::string describe() const override { return conn_.label(); }

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

  void put_embedding(Collection& collection, int64_t chunk_id, std::span<const float> vector,
                     const std::string& model) override;
  void for_each_embedding(int64_t collection_id,
                          const std::function<void(int64_t, std::span<const float>)>& fn) override;
  EmbeddingState embedding_state(int64_t collection_id) override;
  std::vector<int64_t> chunks_without_embedding(int64_t collection_id, size_t limit) override;

  VectorChangeSet vector_changes_since(const Collection& collection, int64_t version,
                                       const std::function<void(int64_t, std::span<const float>)>& fn) override;
  void prune_vector_changes(int64_t collection_id, int64_t version) override;

  uint64_t content_version(int64_t collection_id) override;

  void begin() override;
  void commit() override;
  void rollback() override;

 private:
  PostgresStore(const std::string& uri, std::filesystem::path cache_dir);
  void migrate();
  void delete_chunks(const Collection& collection, int64_t document_id);
  void bump_content_version(int64_t collection_id);
  VectorChangeSet read_vector_changes(const Collection& collection, int64_t version,
                                      const std::function<void(int64_t, std::span<const float>)>& fn);
  PgConn conn_;
};

// The text search configuration standing in for an FTS5 tokenizer, by short name or spec
// ("porter…" → "english", "unicode61…" → "simple"); throws ragd::Error for others.
std::string postgres_text_search_config(const std::string& fts_tokenizer);

}  // namespace ragd::rag
