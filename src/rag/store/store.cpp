#include "rag/store/store.h"

#include <fmt/format.h>

#include <chrono>

#include "rag/store/schema.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string json_text(const nlohmann::json& j) {
  // Replace invalid UTF-8 rather than throw: input files are not guaranteed to be clean.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

constexpr const char* kCollectionColumns =
    "id, name, fts_tokenizer, coalesce(embedding_model, ''), coalesce(embedding_dim, 0), "
    "vector_version";

Collection read_collection(Stmt& s) {
  return Collection{s.int64(0), s.text(1), s.text(2), s.text(3),
                    static_cast<size_t>(s.int64(4)), s.int64(5)};
}

}  // namespace

std::unique_ptr<Store> Store::open(const std::filesystem::path& dir, const std::string& vfs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create data directory {}: {}", dir.string(), ec.message());
  Db db = Db::open(dir / kDbFileName, vfs);
  migrate(db);
  return std::unique_ptr<Store>(new Store(std::move(db), dir));
}

Stmt& Store::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) it = statements_.emplace(sql, db_.prepare(sql)).first;
  it->second.reset();
  return it->second;
}

void Store::validate_collection_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && name[0] != '.';
  for (char c : name) {
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.');
  }
  if (!ok) {
    fail("invalid collection name '{}': use 1-64 letters, digits, '_', '-' or '.', not "
         "starting with '.'",
         name);
  }
}

Collection Store::create_collection(const std::string& name, const std::string& fts_tokenizer) {
  validate_collection_name(name);
  std::string spec = fts_tokenizer_spec(fts_tokenizer);
  Transaction tx(db_);
  if (auto existing = find_collection(name)) return *existing;
  auto& s = cached(
      "INSERT INTO collections(name, fts_tokenizer, created_at) VALUES(?, ?, ?)");
  s.bind(1, name).bind(2, spec).bind(3, now_seconds()).run();
  int64_t id = db_.last_insert_rowid();
  create_fts_table(db_, id, spec);
  tx.commit();
  return *find_collection(name);
}

std::optional<Collection> Store::find_collection(const std::string& name) {
  auto& s = cached(fmt::format("SELECT {} FROM collections WHERE name = ?", kCollectionColumns));
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  Collection c = read_collection(s);
  s.reset();
  return c;
}

std::vector<Collection> Store::list_collections() {
  auto& s = cached(fmt::format("SELECT {} FROM collections ORDER BY name", kCollectionColumns));
  std::vector<Collection> out;
  while (s.step()) out.push_back(read_collection(s));
  return out;
}

Collection Store::require_collection(const std::string& name) {
  if (auto c = find_collection(name)) return *c;
  std::string names;
  for (const auto& c : list_collections()) names += (names.empty() ? "" : ", ") + c.name;
  if (names.empty()) {
    fail("collection '{}' does not exist in {}: the store is empty; run 'ragd ingest' first",
         name, dir_.string());
  }
  fail("collection '{}' does not exist in {} (collections: {})", name, dir_.string(), names);
}

CollectionStats Store::stats(int64_t collection_id) {
  auto& s = cached(
      "SELECT (SELECT count(*) FROM sources WHERE collection_id = ?1),"
      " (SELECT count(*) FROM documents WHERE collection_id = ?1),"
      " (SELECT coalesce(sum(chunk_count), 0) FROM documents WHERE collection_id = ?1),"
      " (SELECT count(*) FROM embeddings e JOIN chunks c ON c.id = e.chunk_id"
      "  JOIN documents d ON d.id = c.document_id WHERE d.collection_id = ?1)");
  s.bind(1, collection_id);
  s.step();
  CollectionStats st{s.int64(0), s.int64(1), s.int64(2), s.int64(3)};
  s.reset();
  return st;
}

std::optional<SourceRecord> Store::find_source(int64_t collection_id, const std::string& path) {
  auto& s = cached(
      "SELECT id, path, content_hash, size FROM sources WHERE collection_id = ? AND path = ?");
  s.bind(1, collection_id).bind(2, path);
  if (!s.step()) return std::nullopt;
  SourceRecord r{s.int64(0), s.text(1), s.text(2), s.int64(3)};
  s.reset();
  return r;
}

int64_t Store::upsert_source(int64_t collection_id, const std::string& path,
                             const std::string& content_hash, int64_t size) {
  auto& s = cached(
      "INSERT INTO sources(collection_id, path, content_hash, size, ingested_at)"
      " VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(collection_id, path) DO UPDATE SET"
      " content_hash = ?3, size = ?4, ingested_at = ?5 RETURNING id");
  s.bind(1, collection_id).bind(2, path).bind(3, content_hash).bind(4, size).bind(5, now_seconds());
  s.step();
  int64_t id = s.int64(0);
  s.reset();
  return id;
}

std::vector<std::pair<int64_t, std::string>> Store::documents_of_source(int64_t source_id) {
  auto& s = cached("SELECT id, external_id FROM documents WHERE source_id = ? ORDER BY id");
  s.bind(1, source_id);
  std::vector<std::pair<int64_t, std::string>> out;
  while (s.step()) out.emplace_back(s.int64(0), s.text(1));
  return out;
}

std::optional<DocumentRef> Store::find_document(int64_t collection_id,
                                                const std::string& external_id) {
  auto& s = cached(
      "SELECT id, content_hash FROM documents WHERE collection_id = ? AND external_id = ?");
  s.bind(1, collection_id).bind(2, external_id);
  if (!s.step()) return std::nullopt;
  DocumentRef r{s.int64(0), s.text(1)};
  s.reset();
  return r;
}

void Store::delete_chunks(const Collection& collection, int64_t document_id) {
  std::string fts = fts_table_name(collection.id);
  auto& del_fts = cached(fmt::format(
      "INSERT INTO {0}({0}, rowid, title, heading, text) "
      "SELECT 'delete', id, title, heading, text FROM chunks WHERE document_id = ?",
      fts));
  del_fts.bind(1, document_id).run();
  auto& del_emb = cached(
      "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)");
  del_emb.bind(1, document_id).run();
  if (db_.changes() > 0) bump_vector_version(collection.id);
  cached("DELETE FROM chunks WHERE document_id = ?").bind(1, document_id).run();
}

void Store::bump_vector_version(int64_t collection_id) {
  cached("UPDATE collections SET vector_version = vector_version + 1,"
         " content_version = content_version + 1 WHERE id = ?")
      .bind(1, collection_id)
      .run();
}

void Store::bump_content_version(int64_t collection_id) {
  cached("UPDATE collections SET content_version = content_version + 1 WHERE id = ?")
      .bind(1, collection_id)
      .run();
}

uint64_t Store::content_version(int64_t collection_id) {
  auto& s = cached("SELECT content_version FROM collections WHERE id = ?");
  s.bind(1, collection_id);
  uint64_t v = s.step() ? static_cast<uint64_t>(s.int64(0)) : 0;
  s.reset();
  return v;
}

int64_t Store::put_document(const Collection& collection, std::optional<int64_t> source_id,
                            const DocumentInput& doc, bool is_new) {
  auto& up = cached(
      "INSERT INTO documents(collection_id, source_id, external_id, title, content_hash,"
      " metadata, chunk_count, ingested_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
      " ON CONFLICT(collection_id, external_id) DO UPDATE SET source_id = ?2, title = ?4,"
      " content_hash = ?5, metadata = ?6, chunk_count = ?7, ingested_at = ?8 RETURNING id");
  up.bind(1, collection.id);
  if (source_id) up.bind(2, *source_id); else up.bind_null(2);
  up.bind(3, doc.external_id).bind(4, doc.title).bind(5, doc.content_hash);
  up.bind(6, json_text(doc.metadata)).bind(7, static_cast<int64_t>(doc.chunks.size()));
  up.bind(8, now_seconds());
  up.step();
  int64_t doc_id = up.int64(0);
  up.reset();

  if (!is_new) delete_chunks(collection, doc_id);
  bump_content_version(collection.id);
  auto& ins = cached(
      "INSERT INTO chunks(document_id, ordinal, title, heading, text, token_count)"
      " VALUES(?, ?, ?, ?, ?, ?)");
  std::string fts = fts_table_name(collection.id);
  auto& ins_fts = cached(fmt::format("INSERT INTO {}(rowid, title, heading, text) VALUES(?, ?, ?, ?)", fts));
  for (size_t i = 0; i < doc.chunks.size(); ++i) {
    const Chunk& c = doc.chunks[i];
    ins.reset();
    ins.bind(1, doc_id).bind(2, static_cast<int64_t>(i)).bind(3, c.title).bind(4, c.heading);
    ins.bind(5, c.text).bind(6, static_cast<int64_t>(c.token_count)).run();
    int64_t chunk_id = db_.last_insert_rowid();
    ins_fts.reset();
    ins_fts.bind(1, chunk_id).bind(2, c.title).bind(3, c.heading).bind(4, c.text).run();
  }
  return doc_id;
}

void Store::remove_document(const Collection& collection, int64_t document_id) {
  delete_chunks(collection, document_id);
  bump_content_version(collection.id);
  cached("DELETE FROM documents WHERE id = ?").bind(1, document_id).run();
}

std::vector<ChunkRecord> Store::get_chunks(std::span<const int64_t> ids) {
  auto& s = cached(
      "SELECT c.id, c.document_id, c.ordinal, d.external_id, c.title, c.heading, c.text,"
      " c.token_count, d.metadata FROM chunks c JOIN documents d ON d.id = c.document_id"
      " WHERE c.id = ?");
  std::vector<ChunkRecord> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    s.reset();
    s.bind(1, id);
    if (!s.step()) continue;
    out.push_back(ChunkRecord{s.int64(0), s.int64(1), static_cast<int>(s.int64(2)), s.text(3),
                              s.text(4), s.text(5), s.text(6),
                              static_cast<size_t>(s.int64(7)), s.text(8)});
  }
  s.reset();
  return out;
}

std::unordered_map<int64_t, int64_t> Store::document_ids(std::span<const int64_t> chunk_ids) {
  auto& s = cached("SELECT document_id FROM chunks WHERE id = ?");
  std::unordered_map<int64_t, int64_t> out;
  for (int64_t id : chunk_ids) {
    s.reset();
    s.bind(1, id);
    if (s.step()) out[id] = s.int64(0);
  }
  s.reset();
  return out;
}

std::vector<int64_t> Store::chunk_ids_where(int64_t collection_id, const std::string& condition,
                                            const std::function<void(Stmt&, int)>& bind) {
  auto stmt = db_.prepare(fmt::format(
      "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
      " WHERE d.collection_id = ?1{}{}",
      condition.empty() ? "" : " AND ", condition));
  stmt.bind(1, collection_id);
  if (bind) bind(stmt, 2);
  std::vector<int64_t> out;
  while (stmt.step()) out.push_back(stmt.int64(0));
  return out;
}

}  // namespace ragd::rag
