#include "rag/store/schema.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

#include "util/error.h"

namespace ragd::rag {
namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE collections(
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  fts_tokenizer   TEXT NOT NULL,
  embedding_model TEXT,
  embedding_dim   INTEGER,
  vector_version  INTEGER NOT NULL DEFAULT 0,
  created_at      INTEGER NOT NULL
);
CREATE TABLE sources(
  id            INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  path          TEXT NOT NULL,
  content_hash  TEXT NOT NULL,
  size          INTEGER NOT NULL,
  ingested_at   INTEGER NOT NULL,
  UNIQUE(collection_id, path)
);
CREATE TABLE documents(
  id            INTEGER PRIMARY KEY,
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  source_id     INTEGER REFERENCES sources(id) ON DELETE SET NULL,
  external_id   TEXT NOT NULL,
  title         TEXT NOT NULL DEFAULT '',
  content_hash  TEXT NOT NULL,
  metadata      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  chunk_count   INTEGER NOT NULL,
  ingested_at   INTEGER NOT NULL,
  UNIQUE(collection_id, external_id)
);
CREATE INDEX documents_by_source ON documents(source_id);
CREATE TABLE chunks(
  id          INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal     INTEGER NOT NULL,
  title       TEXT NOT NULL,
  heading     TEXT NOT NULL,
  text        TEXT NOT NULL,
  token_count INTEGER NOT NULL,
  UNIQUE(document_id, ordinal)
);
CREATE TABLE embeddings(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  vector   BLOB NOT NULL
);
)sql";

// Version 2: a per-collection counter of content changes (Store::content_version), so
// caches of retrieval results and answers can tell when a collection changed.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE collections ADD COLUMN content_version INTEGER NOT NULL DEFAULT 0;
)sql";

// Version 3: the change log of vectors (Store::vector_changes_since). Entries at or below
// vector_log_floor may be gone (pruned); existing collections start with no log, so their
// floor is their current version and in-memory indexes behind it rebuild once.
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE vector_log(
  collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
  version       INTEGER NOT NULL,
  chunk_id      INTEGER NOT NULL,
  op            TEXT NOT NULL CHECK (op IN ('put', 'del')),
  PRIMARY KEY (collection_id, version, chunk_id)
) WITHOUT ROWID;
ALTER TABLE collections ADD COLUMN vector_log_floor INTEGER NOT NULL DEFAULT 0;
UPDATE collections SET vector_log_floor = vector_version;
)sql";

// migrations[i] takes a database from version i to i + 1.
constexpr std::array<std::string_view, kSchemaVersion> kMigrations = {kSchemaV1, kSchemaV2, kSchemaV3};

int user_version(Db& db) {
  auto stmt = db.prepare("PRAGMA user_version");
  stmt.step();
  return static_cast<int>(stmt.int64(0));
}

}  // namespace

void migrate(Db& db) {
  int version = user_version(db);
  if (version > kSchemaVersion) {
    fail("database {} has schema version {}, newer than this ragd supports ({}); upgrade ragd",
         db.path().string(), version, kSchemaVersion);
  }
  while (version < kSchemaVersion) {
    Transaction tx(db);
    // Re-read inside the write lock: another process may have migrated meanwhile.
    version = user_version(db);
    if (version >= kSchemaVersion) break;
    db.exec(kMigrations[static_cast<size_t>(version)]);
    ++version;
    db.exec(fmt::format("PRAGMA user_version = {}", version));
    if (version == 1) {
      db.exec("INSERT INTO meta(key, value) VALUES('created_by', 'ragd 0.1.0')");
    }
    tx.commit();
  }
}

std::string fts_tokenizer_spec(const std::string& name) {
  if (name == "porter") return kDefaultFtsTokenizer;
  if (name == "unicode61") return "unicode61 remove_diacritics 2";
  fail("unknown FTS tokenizer '{}' (use porter or unicode61)", name);
}

std::string fts_table_name(int64_t collection_id) {
  return fmt::format("fts_{}", collection_id);
}

void create_fts_table(Db& db, int64_t collection_id, const std::string& tokenizer) {
  db.exec(fmt::format(
      "CREATE VIRTUAL TABLE IF NOT EXISTS {} USING fts5(title, heading, text, content='', "
      "tokenize='{}')",
      fts_table_name(collection_id), tokenizer));
}

}  // namespace ragd::rag
