// The document store: one SQLite database (schema.h) per data directory, holding
// collections, their source files, documents, chunks, embeddings and per-collection FTS5
// indexes. One Store is one connection: use it from one thread at a time; other threads
// and processes open their own (WAL lets readers run beside a writer).
//
// Writes are not wrapped in transactions here: callers group them with Transaction so that
// a batch of documents becomes visible, or survives a crash, all together or not at all.
// Invariant kept by every write: a document's chunks and their FTS rows are always in step
// (inserted and deleted in the same transaction, FTS deletes use the stored values).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/ingest/chunker.h"
#include "rag/store/sqlite.h"

namespace ragd::rag {

struct Collection {
  int64_t id = 0;
  std::string name;
  std::string fts_tokenizer;
  std::string embedding_model;  // empty until embeddings are stored
  size_t embedding_dim = 0;
  int64_t vector_version = 0;  // bumped on every embedding change
};

struct CollectionStats {
  int64_t sources = 0, documents = 0, chunks = 0, embeddings = 0;
};

struct SourceRecord {
  int64_t id = 0;
  std::string path;
  std::string content_hash;
  int64_t size = 0;
};

// What the ingester knows about a stored document before deciding to rewrite it.
struct DocumentRef {
  int64_t id = 0;
  std::string content_hash;
};

struct DocumentInput {
  std::string external_id;
  std::string title;
  std::string content_hash;
  nlohmann::json metadata = nlohmann::json::object();
  std::vector<Chunk> chunks;
};

struct ChunkRecord {
  int64_t id = 0;
  int64_t document_id = 0;
  int ordinal = 0;
  std::string external_id;  // of the document
  std::string title, heading, text;
  size_t token_count = 0;
  std::string metadata;  // the document's metadata, JSON text
};

// Count and order-independent checksum of a collection's stored vector ids, plus its
// vector_version: together they tell whether a persisted vector index is still current.
struct EmbeddingState {
  int64_t count = 0;
  uint64_t id_checksum = 0;
  int64_t version = 0;
  bool operator==(const EmbeddingState&) const = default;
};

class Store {
 public:
  static constexpr const char* kDbFileName = "ragd.db";

  // Creates `dir` if needed, opens or creates dir/ragd.db and migrates its schema.
  // `vfs`: a registered SQLite VFS name, empty for the default (see Db::open).
  static std::unique_ptr<Store> open(const std::filesystem::path& dir, const std::string& vfs = {});

  Db& db() { return db_; }
  const std::filesystem::path& dir() const { return dir_; }

  // Collection names: 1–64 of [A-Za-z0-9_.-], not starting with '.', as they also name files.
  static void validate_collection_name(const std::string& name);
  // Returns the existing collection, or creates it with the named FTS tokenizer
  // (fts_tokenizer_spec); a collection keeps the tokenizer it was created with. Runs its
  // own transaction, so it must not be called inside one.
  Collection create_collection(const std::string& name, const std::string& fts_tokenizer = "porter");
  std::optional<Collection> find_collection(const std::string& name);
  // Like find_collection, but a missing collection is a ragd::Error listing the others.
  Collection require_collection(const std::string& name);
  std::vector<Collection> list_collections();
  CollectionStats stats(int64_t collection_id);

  std::optional<SourceRecord> find_source(int64_t collection_id, const std::string& path);
  int64_t upsert_source(int64_t collection_id, const std::string& path,
                        const std::string& content_hash, int64_t size);
  // (document id, external id) of every document that came from the source.
  std::vector<std::pair<int64_t, std::string>> documents_of_source(int64_t source_id);

  std::optional<DocumentRef> find_document(int64_t collection_id, const std::string& external_id);
  // Inserts the document or replaces the one with the same external id (its chunks, FTS
  // rows and embeddings go). Returns the document id (kept on replacement). Callers that
  // have just seen find_document() return nothing may pass is_new to skip the cleanup.
  int64_t put_document(const Collection& collection, std::optional<int64_t> source_id,
                       const DocumentInput& doc, bool is_new = false);
  void remove_document(const Collection& collection, int64_t document_id);

  // Chunks with their documents' ids and metadata, in the order of `ids`; missing ids skipped.
  std::vector<ChunkRecord> get_chunks(std::span<const int64_t> ids);
  // chunk id → document id for the given chunks (missing ones left out).
  std::unordered_map<int64_t, int64_t> document_ids(std::span<const int64_t> chunk_ids);
  // Chunk ids of the collection's documents matching an SQL condition on `d` (documents),
  // e.g. from MetadataFilter; used to pre-filter vector search.
  std::vector<int64_t> chunk_ids_where(int64_t collection_id, const std::string& condition,
                                       const std::function<void(Stmt&, int)>& bind);

  // Embeddings (store_embeddings.cpp). The first vector fixes the collection's model and
  // dimension; later vectors must match them.
  void put_embedding(Collection& collection, int64_t chunk_id, std::span<const float> vector,
                     const std::string& model);
  void for_each_embedding(int64_t collection_id,
                          const std::function<void(int64_t, std::span<const float>)>& fn);
  EmbeddingState embedding_state(int64_t collection_id);

  // A counter bumped, in the writing transaction, by every change retrieval can see:
  // a document added, replaced or removed, an embedding stored or deleted. Equal values
  // mean equal search results, so caches key on it. 0 for a new (or unknown) collection.
  uint64_t content_version(int64_t collection_id);
  // Chunks of the collection with no embedding yet, lowest id first, at most `limit`.
  std::vector<int64_t> chunks_without_embedding(int64_t collection_id, size_t limit);

  // A prepared statement cached for the life of the store (hot paths prepare once).
  Stmt& cached(const std::string& sql);

 private:
  Store(Db db, std::filesystem::path dir) : db_(std::move(db)), dir_(std::move(dir)) {}
  void delete_chunks(const Collection& collection, int64_t document_id);
  void bump_vector_version(int64_t collection_id);  // also bumps content_version
  void bump_content_version(int64_t collection_id);
  Db db_;
  std::filesystem::path dir_;
  std::unordered_map<std::string, Stmt> statements_;
};

}  // namespace ragd::rag
