// Ingestion: files → documents → chunks → store, incrementally.
//
//  * A file whose bytes (and the chunker settings) are unchanged since it was last ingested
//    completely is skipped without being parsed (sources.content_hash).
//  * Inside a changed file, each document is compared by its own content hash: unchanged
//    documents are kept as they are (their embeddings survive), changed ones have their
//    chunks replaced, and documents the file no longer contains are removed.
//  * Work is committed in batches (every `batch_documents` documents or `batch_seconds`),
//    so a crash or kill loses at most the batch in flight: every document reported
//    committed is in the database, complete with its chunks and FTS rows. A file's hash is
//    recorded only in the transaction that finishes it, so an interrupted file is simply
//    processed again next time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/ingest/chunker.h"
#include "rag/ingest/document_reader.h"
#include "rag/store/store.h"
#include "util/timing.h"

namespace ragd::rag {

struct IngestOptions {
  std::string collection = "default";
  // FTS tokenizer for a collection created by this ingest ("porter" or "unicode61");
  // an existing collection keeps its own.
  std::string fts_tokenizer = "porter";
  ChunkerOptions chunker;
  // Merged into every document's metadata (e.g. from `ragd ingest --meta team=search`).
  nlohmann::json extra_metadata = nlohmann::json::object();
  size_t batch_documents = 500;
  double batch_seconds = 0.5;
  // Called after each commit with the number of documents committed so far in this run.
  std::function<void(size_t)> on_commit;
};

struct IngestProgress {
  uint64_t bytes_done = 0, bytes_total = 0;
  size_t files_done = 0, files_total = 0;
  size_t documents = 0, chunks = 0;  // processed so far (written or found unchanged)
};

struct IngestStats {
  size_t files = 0, files_unchanged = 0;
  size_t documents_added = 0, documents_updated = 0, documents_unchanged = 0;
  size_t documents_removed = 0;
  size_t chunks_written = 0;
  size_t errors = 0;  // unreadable files and records, each logged
  double seconds = 0;
};

using ProgressFn = std::function<void(const IngestProgress&)>;

// Expands files and directories (recursively, in sorted order, skipping hidden entries and
// unsupported extensions) into absolute file paths. A missing path, or a file named
// explicitly whose type is unsupported, is a ragd::Error.
std::vector<std::filesystem::path> collect_input_files(const std::vector<std::string>& paths);

// The content hash of a parsed document: every input that shapes its stored chunks (title,
// sections, metadata, the chunker's settings). Equal hashes mean re-ingesting is a no-op.
std::string document_hash(const Document& doc, const std::string& chunker_signature);

class Ingestor {
 public:
  Ingestor(Store& store, IngestOptions options);
  IngestStats ingest(const std::vector<std::filesystem::path>& files,
                     const ProgressFn& progress = nullptr);
  const Collection& collection() const { return collection_; }

 private:
  void ingest_file(const std::filesystem::path& file, FileKind kind);
  void ingest_document(Document& doc, int64_t source_id);
  void begin_transaction();  // opens tx_ unless open; a failure stops the run
  void maybe_commit(bool force);
  void report();

  Store& store_;
  IngestOptions options_;
  Chunker chunker_;
  Collection collection_;
  IngestStats stats_;
  IngestProgress progress_;
  ProgressFn progress_fn_;
  std::optional<StoreTransaction> tx_;
  size_t pending_documents_ = 0, committed_documents_ = 0;
  double last_commit_ = 0;
  std::vector<std::string> seen_;  // external ids found in the current file
  Stopwatch watch_;
};

}  // namespace ragd::rag
