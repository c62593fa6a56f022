#include "server/document_ingest.h"

#include <algorithm>
#include <fstream>

#include "rag/ingest/ingest.h"
#include "rag/ingest/document_reader.h"
#include "rag/ingest/embed_chunks.h"
#include "rag/ingest/temp_dir.h"
#include "util/error.h"
#include "util/timing.h"

namespace ragd::server {
namespace {

// As `ragd ingest` does with a model: count with its tokenizer, and leave room for the
// title and heading in the embedded text.
void use_embedder_tokens(rag::ChunkerOptions& chunker, const rag::ModelEmbedder& embedder) {
  const rag::ModelEmbedder* e = &embedder;
  chunker.count_tokens = [e](std::string_view text) { return e->count_tokens(text); };
  chunker.counter_name = "model:" + embedder.name();
  constexpr size_t kReserve = 64 + 2;  // title/heading + [CLS], [SEP]
  if (embedder.max_tokens() > kReserve + 8) {
    chunker.chunk_tokens = std::min(chunker.chunk_tokens, embedder.max_tokens() - kReserve);
  }
}

// `message` with every mention of the upload's temporary copy replaced by the file's own
// name: error bodies never reveal server paths.
std::string hide_temp_path(std::string message, const std::string& temp_path, const std::string& name) {
  for (size_t at = message.find(temp_path); at != std::string::npos; at = message.find(temp_path, at + name.size())) {
    message.replace(at, temp_path.size(), name);
  }
  return message;
}

}  // namespace

double IngestProgress::fraction() const {
  if (phase == "done") return 1.0;
  const double docs = documents_total ? double(documents_processed) / double(documents_total) : 0.0;
  if (!embeds) return docs;
  const double vectors = chunks_to_embed ? double(chunks_embedded) / double(chunks_to_embed) : 0.0;
  return phase == "embedding" ? 0.2 + 0.8 * vectors : 0.2 * docs;
}

nlohmann::json IngestProgress::to_json() const {
  return {{"phase", phase},
          {"documents", {{"total", documents_total}, {"processed", documents_processed}}},
          {"chunks", {{"written", chunks_written}, {"to_embed", chunks_to_embed}, {"embedded", chunks_embedded}}},
          {"progress", fraction()}};
}

nlohmann::json UploadResult::to_json() const {
  return {{"collection", collection},
          {"documents_added", documents_added},
          {"documents_updated", documents_updated},
          {"documents_unchanged", documents_unchanged},
          {"chunks_written", chunks_written},
          {"chunks_embedded", chunks_embedded},
          {"seconds", seconds}};
}

UploadResult ingest_documents(StoreAccess& store, const std::string& collection_name, std::vector<rag::Document> docs,
                              rag::ChunkerOptions chunker_options, rag::ModelEmbedder* embedder,
                              const IngestProgressFn& progress) {
  Stopwatch watch;
  UploadResult r;
  r.collection = collection_name;
  IngestProgress p;
  p.embeds = embedder != nullptr;
  p.documents_total = docs.size();
  auto report = [&] {
    if (progress) progress(p);
  };
  if (embedder) use_embedder_tokens(chunker_options, *embedder);
  chunker_options.validate();
  rag::Chunker chunker(chunker_options);
  const std::string signature = chunker_options.signature();
  for (const auto& d : docs) {
    if (d.external_id.empty()) fail("every document needs an id");
    if (d.empty()) fail("document '{}' has no text and no title", d.external_id);
  }
  store.write([&](rag::Store& s) {
    rag::Store::validate_collection_name(collection_name);
    if (embedder) {
      if (auto existing = s.find_collection(collection_name)) rag::check_embedder_matches(*existing, *embedder);
    }
    rag::Collection collection = s.create_collection(collection_name);
    {
      p.phase = "chunking";
      report();
      rag::StoreTransaction tx(s);
      for (auto& d : docs) {
        ++p.documents_processed;
        std::string hash = rag::document_hash(d, signature);
        auto existing = s.find_document(collection.id, d.external_id);
        if (existing && existing->content_hash == hash) {
          ++r.documents_unchanged;
          report();
          continue;
        }
        rag::DocumentInput input{d.external_id, d.title, hash, d.metadata, chunker.chunk(d)};
        s.put_document(collection, std::nullopt, input, /*is_new=*/!existing);
        ++(existing ? r.documents_updated : r.documents_added);
        r.chunks_written += input.chunks.size();
        p.chunks_written = r.chunks_written;
        report();
      }
      tx.commit();
    }
    if (embedder) {
      collection = s.require_collection(collection_name);
      p.phase = "embedding";
      report();
      // The vector index is not touched here: the read side (StoreAccess::vectors) sees the
      // new vector_version and catches up from the store's change log, as every other
      // replica's does, so only one connection ever writes index files.
      r.chunks_embedded = rag::embed_missing_chunks(s, collection, *embedder, 64, [&](size_t done, size_t total) {
                            p.chunks_embedded = done;
                            p.chunks_to_embed = total;
                            report();
                          }).chunks;
    }
    return 0;
  });
  p.phase = "done";
  report();
  r.seconds = watch.seconds();
  return r;
}

std::vector<rag::Document> parse_uploaded_file(const std::string& filename, const std::string& content) {
  std::string name = std::filesystem::path(filename).filename().string();
  if (name.empty() || name == "." || name == "..") fail("uploaded file has no usable name");
  auto kind = rag::file_kind(name);
  if (!kind) fail("unsupported file type: {} (supported: {})", name, rag::supported_extensions());
  // The parsers read files; a private temporary copy keeps them the single code path.
  rag::TempDir dir("ragd-upload");
  auto path = dir.path() / name;
  {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) fail("cannot write a temporary copy of {}", name);
  }
  std::vector<rag::Document> docs;
  try {
    auto reader = rag::open_document_reader(path, *kind);
    // Ids and errors name the uploaded file, never the temporary copy's path.
    const std::string temp_prefix = path.string() + ":";
    while (auto doc = reader->next()) {
      doc->metadata["source"] = name;
      if (*kind != rag::FileKind::Jsonl) {
        doc->external_id = name;
      } else if (doc->external_id.starts_with(temp_prefix)) {
        doc->external_id = name + ":" + doc->external_id.substr(temp_prefix.size());
      }
      if (!doc->empty()) docs.push_back(std::move(*doc));
    }
    if (reader->errors() > 0) {
      fail("{}: {} records could not be read (first: {})", name, reader->errors(), reader->first_error());
    }
  } catch (const Error& e) {
    throw Error(hide_temp_path(e.what(), path.string(), name));
  }
  return docs;
}

}  // namespace ragd::server
