// Turns input files into a stream of Documents: one per .txt/.md/.html/.pdf file, one per line
// of a .jsonl file. Streaming, so a multi-gigabyte JSONL file is never held in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "rag/ingest/document.h"

namespace ragd::rag {

enum class FileKind { Text, Markdown, Html, Jsonl, Pdf };

// By extension, case-insensitively: .txt .text, .md .markdown, .html .htm, .jsonl, .pdf.
std::optional<FileKind> file_kind(const std::filesystem::path& path);
const char* file_kind_name(FileKind kind);
// "…" listing the supported extensions, for error messages.
const char* supported_extensions();

class DocumentReader {
 public:
  virtual ~DocumentReader() = default;
  // The next document, or nullopt at the end of the file. A record that cannot be read
  // (bad JSON, no text) is logged with its line number, counted in errors() and skipped.
  virtual std::optional<Document> next() = 0;
  // Bytes of the file consumed so far (for progress).
  virtual uint64_t bytes_read() const = 0;
  virtual size_t errors() const { return 0; }
  // Why the first unreadable record was skipped ("line 3: JSON nesting deeper than 64
  // levels"); empty when none was. Names no path, so it can be shown to an uploader.
  virtual std::string first_error() const { return ""; }
};

// Throws ragd::Error if the file cannot be opened. `path` should be absolute: it becomes
// the external id of single-document files and the "source" metadata of every document.
std::unique_ptr<DocumentReader> open_document_reader(const std::filesystem::path& path,
                                                     FileKind kind);

// Builds a document from one JSONL record. Fields: `_id` or `id` (string or number; else
// `fallback_id`), `title`, and the text from `text`, `contents`, `content` or `body`.
// A `metadata` object is merged into the metadata, as are the record's other scalar fields.
// Returns nullopt (with `why` set) when the record is not an object or has no text/title.
std::optional<Document> document_from_json(const nlohmann::json& record,
                                           const std::string& fallback_id, std::string& why);

}  // namespace ragd::rag
