// The document store interface: collections, their source files, documents, chunks,
// embeddings, a per-collection content_version, transactions, metadata filters and
// full-text search. Callers see no SQL; two backends implement it:
//   SqliteStore   (sqlite_store.h)   one SQLite file per data directory, the default
//   PostgresStore (postgres_store.h) a PostgreSQL database shared by every replica
// open_store() (open_store.h) picks one from a --store location.
//
// One Store is one connection: use it from one thread at a time; other threads and
// processes open their own (StoreAccess keeps a reader and a writer).
//
// Writes are not wrapped in transactions here: callers group them with StoreTransaction so
// that a batch of documents becomes visible, or survives a crash, all together or not at
// all. Invariant kept by every backend: a document's chunks and their full-text entries
// are always in step (inserted and deleted in the same transaction).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/ingest/chunker.h"
#include "rag/search/scored_chunk.h"
#include "rag/store/metadata_filter.h"

namespace ragd::rag {

struct Collection {
  int64_t id = 0;
  std::string name;
  std::string fts_tokenizer;    // the backend's full-text configuration (SQLite: tokenize=)
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

// A stored document as the document API lists it.
struct DocumentInfo {
  int64_t id = 0;
  std::string external_id, title;
  std::string metadata;  // JSON text
  int64_t chunk_count = 0;
  int64_t ingested_at = 0;  // seconds since the epoch
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

// The outcome of Store::vector_changes_since. `complete`: the changes passed to the
// callback, applied to an index holding the collection's vectors as of the asked-for
// version, give its vectors as of `version`. Not complete (nothing was passed): the
// index must be rebuilt (for_each_embedding); `reason` says why.
struct VectorChangeSet {
  bool complete = false;
  std::string reason;
  int64_t version = 0;  // the collection's vector_version the changes lead to
  size_t changes = 0;   // chunks passed to the callback
};

// Change log retention: every kVectorLogPruneEvery vector versions a writer drops the
// entries older than the newest kVectorLogRetainVersions versions. A replica further
// behind than that rebuilds its index instead (about as cheap by then).
inline constexpr int64_t kVectorLogRetainVersions = 65536;
inline constexpr int64_t kVectorLogPruneEvery = 1024;

class Store {
 public:
  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Where the data lives, for messages: a directory or a URL without its password.
  virtual std::string describe() const = 0;
  // A local directory for files derived from the store (persisted vector indexes). For
  // SQLite it holds the database too; for PostgreSQL it is this replica's own cache.
  const std::filesystem::path& dir() const { return dir_; }

  // Collection names: 1–64 of [A-Za-z0-9_.-], not starting with '.', as they also name files.
  static void validate_collection_name(const std::string& name);
  // Returns the existing collection, or creates it with the named full-text tokenizer
  // ("porter" or "unicode61", see schema.h); a collection keeps the tokenizer it was
  // created with. Runs its own transaction, so it must not be called inside one.
  virtual Collection create_collection(const std::string& name, const std::string& fts_tokenizer = "porter") = 0;
  virtual std::optional<Collection> find_collection(const std::string& name) = 0;
  // Like find_collection, but a missing collection is a ragd::Error listing the others.
  Collection require_collection(const std::string& name);
  virtual std::vector<Collection> list_collections() = 0;
  // Deletes the collection with everything in it (sources, documents, chunks, embeddings,
  // full text). Runs its own transaction.
  virtual void delete_collection(const Collection& collection) = 0;
  virtual CollectionStats stats(int64_t collection_id) = 0;

  virtual std::optional<SourceRecord> find_source(int64_t collection_id, const std::string& path) = 0;
  virtual int64_t upsert_source(int64_t collection_id, const std::string& path,
                                const std::string& content_hash, int64_t size) = 0;
  // (document id, external id) of every document that came from the source.
  virtual std::vector<std::pair<int64_t, std::string>> documents_of_source(int64_t source_id) = 0;

  virtual std::optional<DocumentRef> find_document(int64_t collection_id, const std::string& external_id) = 0;
  // Inserts the document or replaces the one with the same external id (its chunks, full
  // text and embeddings go). Returns the document id (kept on replacement). Callers that
  // have just seen find_document() return nothing may pass is_new to skip the cleanup.
  virtual int64_t put_document(const Collection& collection, std::optional<int64_t> source_id,
                               const DocumentInput& doc, bool is_new = false) = 0;
  virtual void remove_document(const Collection& collection, int64_t document_id) = 0;
  // The collection's documents in insertion (id) order, `limit` from `offset`.
  virtual std::vector<DocumentInfo> list_documents(int64_t collection_id, int64_t limit, int64_t offset) = 0;
  virtual std::optional<DocumentInfo> get_document(int64_t collection_id, const std::string& external_id) = 0;
  // The document's chunks in ordinal order.
  virtual std::vector<ChunkRecord> document_chunks(int64_t document_id) = 0;

  // Chunks with their documents' ids and metadata, in the order of `ids`; missing ids skipped.
  virtual std::vector<ChunkRecord> get_chunks(std::span<const int64_t> ids) = 0;
  // chunk id → document id for the given chunks (missing ones left out).
  virtual std::unordered_map<int64_t, int64_t> document_ids(std::span<const int64_t> chunk_ids) = 0;
  // Chunk ids, ascending, of the collection's documents whose metadata passes every filter
  // (metadata_filter.h); used to pre-filter vector and lexical search.
  virtual std::vector<int64_t> chunk_ids_matching(int64_t collection_id,
                                                  const std::vector<MetadataFilter>& filters) = 0;

  // The backend's own full-text ranking: best-first chunks matching any of `terms` (plain
  // words from fts_query_terms(), never query syntax), at most `limit`, among the
  // documents passing `filters`. Higher scores are better; equal scores are ordered by
  // chunk id. SQLite: FTS5's BM25. PostgreSQL: ts_rank over a tsvector (postgres_store.h).
  virtual std::vector<ScoredChunk> full_text_search(const Collection& collection,
                                                    std::span<const std::string> terms, size_t limit,
                                                    const std::vector<MetadataFilter>& filters) = 0;

  // Embeddings. The first vector fixes the collection's model and dimension; later
  // vectors must match them.
  virtual void put_embedding(Collection& collection, int64_t chunk_id, std::span<const float> vector,
                             const std::string& model) = 0;
  // Every embedding of the collection, ascending chunk id.
  virtual void for_each_embedding(int64_t collection_id,
                                  const std::function<void(int64_t, std::span<const float>)>& fn) = 0;
  virtual EmbeddingState embedding_state(int64_t collection_id) = 0;
  // Chunks of the collection with no embedding yet, lowest id first, at most `limit`.
  virtual std::vector<int64_t> chunks_without_embedding(int64_t collection_id, size_t limit) = 0;

  // The change log of a collection's vectors, for replicas that keep an index in memory
  // (CollectionVectors::catch_up). Each embedding stored appends (collection, version,
  // chunk, 'put') and each embedding deleted with its chunk (document replaced or removed)
  // appends (…, 'del'), in the transaction that bumps vector_version to `version`; a
  // dropped collection takes its log with it (its id is never reused, so a replica sees
  // another collection and rebuilds). Calls fn(chunk id, vector) once for every chunk
  // whose vector changed after `version`, with the vector as it is now (empty: removed),
  // all read in one snapshot. Not complete, and fn never called, when the log was
  // pruned past `version`, `version` is ahead of the store, or the collection is gone or
  // its embedding model or dimension is not `collection`'s.
  virtual VectorChangeSet vector_changes_since(
      const Collection& collection, int64_t version,
      const std::function<void(int64_t, std::span<const float>)>& fn) = 0;
  // Drops the collection's log entries up to and including `version`: a later
  // vector_changes_since from before it is not complete. Writers call it on their own
  // (kVectorLogRetainVersions); exposed for tests and operators.
  virtual void prune_vector_changes(int64_t collection_id, int64_t version) = 0;

  // A counter bumped, in the writing transaction, by every change retrieval can see:
  // a document added, replaced or removed, an embedding stored or deleted. Equal values
  // mean equal search results, so caches key on it. 0 for a new (or unknown) collection.
  virtual uint64_t content_version(int64_t collection_id) = 0;

  // Transactions, through StoreTransaction. begin() takes the write lock up front where
  // the backend has one (SQLite), so a transaction never fails half-way for a lock.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;

 protected:
  explicit Store(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // The clock of the stored created_at / ingested_at columns: Unix time in seconds.
  static int64_t now_seconds();
  // Why vector_changes_since cannot bring an index at `version` of `wanted` up to date,
  // given the collection's stored embedding model and dimension, vector_version and
  // vector_log_floor; "" when it can.
  // A stored vector blob as floats in `out` (copied: blob pointers carry no alignment
  // guarantee). Throws ragd::Error naming the chunk unless the blob holds exactly `dim`
  // floats, or, with dim 0, a whole number of floats.
  static void decode_vector(int64_t chunk_id, std::span<const std::byte> blob, size_t dim, std::vector<float>& out);
  static std::string vector_log_gap(const Collection& wanted, std::string_view stored_model, size_t stored_dim,
                                    int64_t version, int64_t store_version, int64_t log_floor);

 private:
  std::filesystem::path dir_;
};

// A write transaction on a Store; destroyed without commit() it rolls back, so an
// exception in the middle of a write leaves nothing half-done.
class StoreTransaction {
 public:
  explicit StoreTransaction(Store& store) : store_(store) { store_.begin(); }
  StoreTransaction(const StoreTransaction&) = delete;
  StoreTransaction& operator=(const StoreTransaction&) = delete;
  ~StoreTransaction();
  void commit();

 private:
  Store& store_;
  bool done_ = false;
};

// Checksum term of one vector id for EmbeddingState: mixed before summing, so the sum is
// order-independent yet does not collide for common edits (e.g. ids {1,4} vs {2,3}).
inline uint64_t embedding_id_hash(int64_t id) {
  uint64_t x = static_cast<uint64_t>(id) * 0x9e3779b97f4a7c15ULL;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  return x ^ (x >> 32);
}

}  // namespace ragd::rag
