#include "rag/store/sqlite_store.h"

#include <fmt/format.h>


#include "rag/store/schema.h"
#include "util/error.h"

namespace ragd::rag {
namespace {

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

// "$.\"a\".\"b\"": every path segment quoted, so keys may hold spaces, '$' or '['.
std::string json_path(const MetadataFilter& f) {
  std::string path = "$";
  for (const auto& seg : f.path()) path += ".\"" + seg + "\"";
  return path;
}

// An SQL condition over documents aliased `d`, all filters ANDed, with ?N placeholders
// numbered from `first_param`; bind_filters() binds them. Empty when there are no filters.
std::string filters_sql(const std::vector<MetadataFilter>& filters, int first_param) {
  std::string sql;
  int p = first_param;
  for (const auto& f : filters) {
    if (!sql.empty()) sql += " AND ";
    // json_extract gives 1/0 for JSON booleans; map them back to the words users type.
    sql += fmt::format(
        "(CASE json_type(d.metadata, ?{0}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'"
        " ELSE CAST(json_extract(d.metadata, ?{0}) AS TEXT) END) {1} ?{2}",
        p, f.negate ? "IS NOT" : "IS", p + 1);
    p += 2;
  }
  return sql;
}

void bind_filters(Stmt& stmt, const std::vector<MetadataFilter>& filters, int first_param) {
  int p = first_param;
  for (const auto& f : filters) {
    stmt.bind(p, json_path(f));
    stmt.bind(p + 1, f.value);
    p += 2;
  }
}

DocumentInfo read_document_info(Stmt& s) {
  return DocumentInfo{s.int64(0), s.text(1), s.text(2), s.text(3), s.int64(4), s.int64(5)};
}

constexpr const char* kDocumentInfoColumns = "id, external_id, title, metadata, chunk_count, ingested_at";

}  // namespace

std::unique_ptr<SqliteStore> SqliteStore::open(const std::filesystem::path& dir, const std::string& vfs) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create data directory {}: {}", dir.string(), ec.message());
  Db db = Db::open(dir / kDbFileName, vfs);
  migrate(db);
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(db), dir));
}

Stmt& SqliteStore::cached(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) it = statements_.emplace(sql, db_.prepare(sql)).first;
  it->second.reset();
  return it->second;
}

Collection SqliteStore::create_collection(const std::string& name, const std::string& fts_tokenizer) {
  validate_collection_name(name);
  std::string spec = fts_tokenizer_spec(fts_tokenizer);
  Transaction tx(db_);
  if (auto existing = find_collection(name)) return *existing;
  // Ids are never reused (SQLite would reuse a deleted highest rowid): an in-memory vector
  // index or its change log position keyed on a collection id must not outlive the
  // collection. meta('last_collection_id') remembers the highest id ever handed out.
  auto& s = cached(
      "INSERT INTO collections(id, name, fts_tokenizer, created_at) VALUES(1 + max("
      "coalesce((SELECT max(id) FROM collections), 0),"
      " coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'last_collection_id'), 0)), ?, ?, ?)");
  s.bind(1, name).bind(2, spec).bind(3, now_seconds()).run();
  int64_t id = db_.last_insert_rowid();
  cached("INSERT INTO meta(key, value) VALUES('last_collection_id', ?1)"
         " ON CONFLICT(key) DO UPDATE SET value = ?1")
      .bind(1, std::to_string(id))
      .run();
  create_fts_table(db_, id, spec);
  tx.commit();
  return *find_collection(name);
}

std::optional<Collection> SqliteStore::find_collection(const std::string& name) {
  auto& s = cached(fmt::format("SELECT {} FROM collections WHERE name = ?", kCollectionColumns));
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  Collection c = read_collection(s);
  s.reset();
  return c;
}

std::vector<Collection> SqliteStore::list_collections() {
  auto& s = cached(fmt::format("SELECT {} FROM collections ORDER BY name", kCollectionColumns));
  std::vector<Collection> out;
  while (s.step()) out.push_back(read_collection(s));
  return out;
}

CollectionStats SqliteStore::stats(int64_t collection_id) {
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

std::optional<SourceRecord> SqliteStore::find_source(int64_t collection_id, const std::string& path) {
  auto& s = cached(
      "SELECT id, path, content_hash, size FROM sources WHERE collection_id = ? AND path = ?");
  s.bind(1, collection_id).bind(2, path);
  if (!s.step()) return std::nullopt;
  SourceRecord r{s.int64(0), s.text(1), s.text(2), s.int64(3)};
  s.reset();
  return r;
}

int64_t SqliteStore::upsert_source(int64_t collection_id, const std::string& path,
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

std::vector<std::pair<int64_t, std::string>> SqliteStore::documents_of_source(int64_t source_id) {
  auto& s = cached("SELECT id, external_id FROM documents WHERE source_id = ? ORDER BY id");
  s.bind(1, source_id);
  std::vector<std::pair<int64_t, std::string>> out;
  while (s.step()) out.emplace_back(s.int64(0), s.text(1));
  return out;
}

std::optional<DocumentRef> SqliteStore::find_document(int64_t collection_id,
                                                const std::string& external_id) {
  auto& s = cached(
      "SELECT id, content_hash FROM documents WHERE collection_id = ? AND external_id = ?");
  s.bind(1, collection_id).bind(2, external_id);
  if (!s.step()) return std::nullopt;
  DocumentRef r{s.int64(0), s.text(1)};
  s.reset();
  return r;
}

void SqliteStore::delete_chunks(const Collection& collection, int64_t document_id) {
  std::string fts = fts_table_name(collection.id);
  auto& del_fts = cached(fmt::format(
      "INSERT INTO {0}({0}, rowid, title, heading, text) "
      "SELECT 'delete', id, title, heading, text FROM chunks WHERE document_id = ?",
      fts));
  del_fts.bind(1, document_id).run();
  // The change log gets a 'del' for each vector about to go, under the version the bump
  // below hands out (the caller's transaction holds the write lock in between).
  cached("INSERT INTO vector_log(collection_id, version, chunk_id, op)"
         " SELECT ?1, (SELECT vector_version + 1 FROM collections WHERE id = ?1), e.chunk_id, 'del'"
         " FROM embeddings e JOIN chunks c ON c.id = e.chunk_id WHERE c.document_id = ?2")
      .bind(1, collection.id)
      .bind(2, document_id)
      .run();
  if (db_.changes() > 0) {
    bump_vector_version(collection.id);
    auto& del_emb = cached(
        "DELETE FROM embeddings WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)");
    del_emb.bind(1, document_id).run();
  }
  cached("DELETE FROM chunks WHERE document_id = ?").bind(1, document_id).run();
}

int64_t SqliteStore::bump_vector_version(int64_t collection_id) {
  auto& s = cached(
      "UPDATE collections SET vector_version = vector_version + 1,"
      " content_version = content_version + 1 WHERE id = ? RETURNING vector_version");
  s.bind(1, collection_id);
  if (!s.step()) fail("collection {} was deleted while writing", collection_id);
  int64_t version = s.int64(0);
  s.reset();
  return version;
}

void SqliteStore::bump_content_version(int64_t collection_id) {
  cached("UPDATE collections SET content_version = content_version + 1 WHERE id = ?")
      .bind(1, collection_id)
      .run();
}

uint64_t SqliteStore::content_version(int64_t collection_id) {
  auto& s = cached("SELECT content_version FROM collections WHERE id = ?");
  s.bind(1, collection_id);
  uint64_t v = s.step() ? static_cast<uint64_t>(s.int64(0)) : 0;
  s.reset();
  return v;
}

int64_t SqliteStore::put_document(const Collection& collection, std::optional<int64_t> source_id,
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

void SqliteStore::remove_document(const Collection& collection, int64_t document_id) {
  delete_chunks(collection, document_id);
  bump_content_version(collection.id);
  cached("DELETE FROM documents WHERE id = ?").bind(1, document_id).run();
}

std::vector<ChunkRecord> SqliteStore::get_chunks(std::span<const int64_t> ids) {
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

std::unordered_map<int64_t, int64_t> SqliteStore::document_ids(std::span<const int64_t> chunk_ids) {
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


std::vector<int64_t> SqliteStore::chunk_ids_matching(int64_t collection_id,
                                                     const std::vector<MetadataFilter>& filters) {
  const std::string condition = filters_sql(filters, 2);
  auto& stmt = cached(fmt::format(
      "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.document_id"
      " WHERE d.collection_id = ?1{}{} ORDER BY c.id",
      condition.empty() ? "" : " AND ", condition));
  stmt.bind(1, collection_id);
  bind_filters(stmt, filters, 2);
  std::vector<int64_t> out;
  while (stmt.step()) out.push_back(stmt.int64(0));
  return out;
}

std::vector<ScoredChunk> SqliteStore::full_text_search(const Collection& collection,
                                                       std::span<const std::string> terms, size_t limit,
                                                       const std::vector<MetadataFilter>& filters) {
  // `"t1" OR "t2" …`: every term a quoted FTS5 string, a plain phrase with no operators,
  // column filters or prefixes. Terms hold no '"' (fts_query_terms splits at it).
  std::string match;
  for (const auto& t : terms) {
    if (t.find('"') != std::string::npos) fail("full-text term '{}' holds a '\"'", t);
    if (!match.empty()) match += " OR ";
    match += '"' + t + '"';
  }
  if (match.empty() || limit == 0) return {};
  std::string fts = fts_table_name(collection.id);
  std::string sql;
  if (filters.empty()) {
    // Rank inside FTS5 first and join only the survivors: the join then costs `limit`
    // lookups instead of one per matching row. The inner ORDER BY breaks ties by rowid
    // too, so that equal scores at the cut are kept in chunk id order.
    sql = fmt::format(
        "SELECT r.id, c.document_id, r.score FROM (SELECT rowid AS id, bm25({0}) AS score"
        " FROM {0} WHERE {0} MATCH ?1 ORDER BY score, rowid LIMIT ?2) r"
        " JOIN chunks c ON c.id = r.id ORDER BY r.score, r.id",
        fts);
  } else {
    sql = fmt::format(
        "SELECT f.rowid, c.document_id, bm25({0}) AS score FROM {0} f"
        " JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id"
        " WHERE {0} MATCH ?1 AND {1} ORDER BY score, f.rowid LIMIT ?2",
        fts, filters_sql(filters, 3));
  }
  Stmt& stmt = cached(sql);
  stmt.bind(1, match).bind(2, static_cast<int64_t>(limit));
  bind_filters(stmt, filters, 3);
  std::vector<ScoredChunk> out;
  // FTS5's bm25() is lower-is-better; negated so that higher is better.
  while (stmt.step()) out.push_back(ScoredChunk{stmt.int64(0), stmt.int64(1), -stmt.real(2)});
  return out;
}

void SqliteStore::delete_collection(const Collection& collection) {
  Transaction tx(db_);
  // Foreign keys cascade from the collection row to sources, documents, chunks and
  // embeddings; the FTS table is the collection's own.
  // Cached statements on the table must not outlive it (nor keep it busy while it drops).
  statements_.clear();
  db_.exec(fmt::format("DROP TABLE IF EXISTS {}", fts_table_name(collection.id)));
  db_.prepare("DELETE FROM collections WHERE id = ?").bind(1, collection.id).run();
  tx.commit();
}

std::vector<DocumentInfo> SqliteStore::list_documents(int64_t collection_id, int64_t limit, int64_t offset) {
  auto& q = cached(fmt::format("SELECT {} FROM documents WHERE collection_id = ? ORDER BY id LIMIT ? OFFSET ?",
                               kDocumentInfoColumns));
  q.bind(1, collection_id).bind(2, limit).bind(3, offset);
  std::vector<DocumentInfo> out;
  while (q.step()) out.push_back(read_document_info(q));
  return out;
}

std::optional<DocumentInfo> SqliteStore::get_document(int64_t collection_id, const std::string& external_id) {
  auto& q = cached(fmt::format("SELECT {} FROM documents WHERE collection_id = ? AND external_id = ?",
                               kDocumentInfoColumns));
  q.bind(1, collection_id).bind(2, external_id);
  if (!q.step()) return std::nullopt;
  DocumentInfo d = read_document_info(q);
  q.reset();
  return d;
}

std::vector<ChunkRecord> SqliteStore::document_chunks(int64_t document_id) {
  auto& q = cached(
      "SELECT c.id, c.document_id, c.ordinal, d.external_id, c.title, c.heading, c.text,"
      " c.token_count, d.metadata FROM chunks c JOIN documents d ON d.id = c.document_id"
      " WHERE c.document_id = ? ORDER BY c.ordinal");
  q.bind(1, document_id);
  std::vector<ChunkRecord> out;
  while (q.step()) {
    out.push_back(ChunkRecord{q.int64(0), q.int64(1), static_cast<int>(q.int64(2)), q.text(3), q.text(4),
                              q.text(5), q.text(6), static_cast<size_t>(q.int64(7)), q.text(8)});
  }
  return out;
}

void SqliteStore::begin() {
  if (tx_) fail("a transaction is already open on the store in {}", describe());
  tx_.emplace(db_);
}

void SqliteStore::commit() {
  if (!tx_) fail("no transaction is open on the store in {}", describe());
  tx_->commit();
  tx_.reset();
}

void SqliteStore::rollback() {
  tx_.reset();  // Transaction's destructor rolls back
}

}  // namespace ragd::rag
