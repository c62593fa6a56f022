#include "rag/ingest/ingest.h"

#include <algorithm>
#include <fstream>
#include <unordered_set>

#include "rag/ingest/content_hash.h"
#include "rag/store/schema.h"
#include "util/error.h"
#include "util/log.h"

namespace ragd::rag {
namespace {

// A failed write to the store (e.g. a full disk), or a failed read (an I/O error). Unlike
// an unreadable file it stops the run: SQLite may have rolled the open transaction back,
// and writing on would store the following files outside any transaction, leaving
// half-written documents behind. Every store call of the ingest goes through store_write,
// reads included, so that no store failure is mistaken for a bad input file.
struct StoreWriteError : Error {
  using Error::Error;
};

template <typename F>
auto store_write(F&& write) {
  try {
    return write();
  } catch (const StoreWriteError&) {
    throw;
  } catch (const Error& e) {
    throw StoreWriteError(e.what());
  }
}

namespace fs = std::filesystem;

bool hidden(const fs::path& p) {
  std::string name = p.filename().string();
  return name.size() > 1 && name[0] == '.';
}

fs::path absolute_clean(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : abs;
}

void collect_directory(const fs::path& dir, std::vector<fs::path>& out) {
  std::vector<fs::path> found;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) fail("cannot read directory {}: {}", dir.string(), ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) fail("cannot read directory {}: {}", dir.string(), ec.message());
    if (hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && file_kind(it->path())) found.push_back(absolute_clean(it->path()));
  }
  std::sort(found.begin(), found.end());
  out.insert(out.end(), found.begin(), found.end());
}

// Hash of the file's bytes and `settings`: the source is unchanged only if both are.
std::string source_hash(const fs::path& file, const std::string& settings) {
  ContentHasher h;
  h.update_file(file);
  h.update(settings);
  return h.hex();
}

}  // namespace

std::string document_hash(const Document& doc, const std::string& chunker_signature) {
  ContentHasher h;
  // Length prefixes keep field boundaries unambiguous ("ab"+"c" vs "a"+"bc").
  auto field = [&h](std::string_view s) {
    h.update(std::to_string(s.size()));
    h.update(":");
    h.update(s);
  };
  field(doc.title);
  for (const auto& s : doc.sections) {
    field(s.heading);
    field(s.text);
  }
  field(doc.metadata.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  field(chunker_signature);
  return h.hex();
}

std::vector<fs::path> collect_input_files(const std::vector<std::string>& paths) {
  std::vector<fs::path> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto status = fs::status(p, ec);
    if (ec || !fs::exists(status)) fail("no such file or directory: {}", p);
    if (fs::is_directory(status)) {
      collect_directory(p, out);
    } else if (!file_kind(p)) {
      fail("unsupported file type: {} (supported: {})", p, supported_extensions());
    } else {
      out.push_back(absolute_clean(p));
    }
  }
  // The same file named twice (directly and through its folder) is ingested once.
  std::vector<fs::path> unique;
  std::unordered_set<std::string> seen;
  for (auto& f : out) {
    if (seen.insert(f.string()).second) unique.push_back(std::move(f));
  }
  return unique;
}

Ingestor::Ingestor(Store& store, IngestOptions options)
    : store_(store),
      options_(std::move(options)),
      chunker_(options_.chunker),
      collection_(store_.create_collection(options_.collection, options_.fts_tokenizer)) {
  if (!options_.extra_metadata.is_object()) fail("extra document metadata must be a JSON object");
  if (collection_.fts_tokenizer != fts_tokenizer_spec(options_.fts_tokenizer)) {
    log::warn("collection '{}' already uses the FTS tokenizer '{}'; keeping it",
              collection_.name, collection_.fts_tokenizer);
  }
}

IngestStats Ingestor::ingest(const std::vector<fs::path>& files, const ProgressFn& progress) {
  watch_.reset();
  stats_ = {};
  progress_ = {};
  progress_fn_ = progress;
  progress_.files_total = files.size();
  for (const auto& f : files) {
    std::error_code ec;
    auto size = fs::file_size(f, ec);
    if (!ec) progress_.bytes_total += size;
  }
  for (const auto& f : files) {
    uint64_t before = progress_.bytes_done;
    try {
      ingest_file(f, file_kind(f).value_or(FileKind::Text));
    } catch (const StoreWriteError& e) {
      tx_.reset();  // rolls back what is not committed; the next run redoes those files
      fail("cannot write to the store: {} (documents not yet committed were rolled back; "
           "run the ingest again once the problem is fixed)", e.what());
    } catch (const Error& e) {
      // One unreadable file does not stop the others. Nothing is rolled back: reading fails
      // before a document is written, and earlier documents are complete.
      log::error("{}", e.what());
      ++stats_.errors;
    }
    std::error_code ec;
    auto size = fs::file_size(f, ec);
    progress_.bytes_done = before + (ec ? 0 : size);
    ++progress_.files_done;
    report();
  }
  maybe_commit(true);
  stats_.seconds = watch_.seconds();
  return stats_;
}

void Ingestor::ingest_file(const fs::path& file, FileKind kind) {
  ++stats_.files;
  std::string path = file.string();
  // Everything that shapes the stored documents: the bytes, the chunking, --meta values.
  std::string hash = source_hash(file, chunker_.options().signature() + options_.extra_metadata.dump());
  auto existing = store_write([&] { return store_.find_source(collection_.id, path); });
  if (existing && existing->content_hash == hash) {
    ++stats_.files_unchanged;
    return;
  }
  std::error_code ec;
  auto size = static_cast<int64_t>(fs::file_size(file, ec));
  begin_transaction();
  // "pending" until the file is complete: an interrupted file never looks unchanged.
  const int64_t source_id =
      store_write([&] { return store_.upsert_source(collection_.id, path, "pending", size); });
  auto reader = open_document_reader(file, kind);
  seen_.clear();
  uint64_t base = progress_.bytes_done;
  while (auto doc = reader->next()) {
    ingest_document(*doc, source_id);
    progress_.bytes_done = base + reader->bytes_read();
    report();
    maybe_commit(false);
  }
  stats_.errors += reader->errors();
  begin_transaction();
  if (reader->errors() > 0) {
    // Some records were unreadable: keep what the file had before for them, and leave the
    // source "pending" so that the next run reads the file again.
    return;
  }
  std::unordered_set<std::string> present(seen_.begin(), seen_.end());
  for (const auto& [doc_id, external_id] :
       store_write([&] { return store_.documents_of_source(source_id); })) {
    if (!present.count(external_id)) {
      store_write([&] { store_.remove_document(collection_, doc_id); });
      ++stats_.documents_removed;
    }
  }
  store_write([&] { store_.upsert_source(collection_.id, path, hash, size); });
}

void Ingestor::ingest_document(Document& doc, int64_t source_id) {
  if (!options_.extra_metadata.empty()) doc.metadata.update(options_.extra_metadata);
  seen_.push_back(doc.external_id);
  ++progress_.documents;
  std::string hash = document_hash(doc, chunker_.options().signature());
  begin_transaction();
  auto existing =
      store_write([&] { return store_.find_document(collection_.id, doc.external_id); });
  if (existing && existing->content_hash == hash) {
    ++stats_.documents_unchanged;
    return;
  }
  DocumentInput input{doc.external_id, doc.title, hash, std::move(doc.metadata), chunker_.chunk(doc)};
  store_write([&] { store_.put_document(collection_, source_id, input, /*is_new=*/!existing); });
  ++(existing ? stats_.documents_updated : stats_.documents_added);
  stats_.chunks_written += input.chunks.size();
  progress_.chunks += input.chunks.size();
  ++pending_documents_;
}

void Ingestor::begin_transaction() {
  if (!tx_) store_write([&] { tx_.emplace(store_); });
}

void Ingestor::maybe_commit(bool force) {
  if (!tx_) return;
  double now = watch_.seconds();
  if (!force && pending_documents_ < options_.batch_documents &&
      now - last_commit_ < options_.batch_seconds) {
    return;
  }
  store_write([&] { tx_->commit(); });
  tx_.reset();
  committed_documents_ += pending_documents_;
  pending_documents_ = 0;
  last_commit_ = now;
  if (options_.on_commit) options_.on_commit(committed_documents_);
}

void Ingestor::report() {
  if (progress_fn_) progress_fn_(progress_);
}

}  // namespace ragd::rag
