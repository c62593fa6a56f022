// Document ingestion for the HTTP API: documents given as JSON or uploaded as files become
// chunks, FTS rows and (with an embedder) vectors in a collection. The route runs it through
// IngestJobs (ingest_jobs.h), on the request's thread or in the background.
//
// Semantics match `ragd ingest` where they overlap: a document is identified by its id
// within the collection; re-sending an unchanged document (same title, text, metadata and
// chunker settings) is a no-op, a changed one replaces its chunks, and its vectors are
// recomputed. All documents of one call are written in one transaction (all or nothing);
// embedding follows, resumably (a failed embedding leaves chunks without vectors that the
// next call, or `ragd ingest`, completes).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "rag/ingest/chunker.h"
#include "rag/ingest/document.h"
#include "rag/search/model_embedder.h"
#include "server/store_access.h"

namespace ragd::server {

struct UploadResult {
  std::string collection;
  size_t documents_added = 0, documents_updated = 0, documents_unchanged = 0;
  size_t chunks_written = 0, chunks_embedded = 0;
  double seconds = 0;
  nlohmann::json to_json() const;
};

// Where an ingestion is. Phases: "queued", "chunking" (documents_processed counts up to
// documents_total), "embedding" (chunks_embedded up to chunks_to_embed), "done".
struct IngestProgress {
  std::string phase = "queued";
  bool embeds = false;  // an embedding phase follows chunking
  size_t documents_total = 0, documents_processed = 0;
  size_t chunks_written = 0, chunks_to_embed = 0, chunks_embedded = 0;
  // Estimated fraction done, 0..1, never decreasing within a job. With an embedder,
  // chunking counts for 20 % and embedding for 80 % (embedding dominates the time).
  double fraction() const;
  nlohmann::json to_json() const;
};
// Called after each document and each embedded batch; may throw to stop the ingestion.
using IngestProgressFn = std::function<void(const IngestProgress&)>;

// `embedder` may be null (BM25 only). Throws ragd::Error when the collection's vectors
// come from another model, or a document has no text and no title.
UploadResult ingest_documents(StoreAccess& store, const std::string& collection, std::vector<rag::Document> docs,
                              rag::ChunkerOptions chunker, rag::ModelEmbedder* embedder,
                              const IngestProgressFn& progress = nullptr);

// Parses an uploaded file (.txt .md .html .jsonl by its name) into documents. Single-document
// files get `filename` as id and "source" metadata. Throws ragd::Error for an unsupported
// type or unreadable content.
std::vector<rag::Document> parse_uploaded_file(const std::string& filename, const std::string& content);

}  // namespace ragd::server
