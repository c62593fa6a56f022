// The store's SQLite schema and its migrations. PRAGMA user_version holds the schema
// version; migrate() brings an older database up to kSchemaVersion step by step, each step
// in its own transaction, and refuses a database written by a newer ragd.
//
// Tables (version 3; version 1 lacked collections.content_version, version 2 the vector log):
//   meta(key, value)                      store-wide facts (creating ragd version, the
//                                         highest collection id ever used, …)
//   collections(id, name, fts_tokenizer, embedding_model, embedding_dim, vector_version,
//               content_version, vector_log_floor)    content_version: since v2; floor: v3
//   vector_log(collection_id, version, chunk_id, op)   the change log of vectors (store.h,
//                                         Store::vector_changes_since), since v3
//   sources(id, collection_id, path, content_hash, size, ingested_at)   one per input file
//   documents(id, collection_id, source_id, external_id, title, content_hash, metadata JSON,
//             chunk_count, ingested_at)                                 UNIQUE(collection, external_id)
//   chunks(id, document_id, ordinal, title, heading, text, token_count) UNIQUE(document, ordinal)
//   embeddings(chunk_id, vector)          float32 little-endian, dim = collections.embedding_dim
//   fts_<collection id>                   contentless FTS5 table over chunks(title, heading, text)
//
// The FTS tables are contentless (content=''): chunk text is stored once, in chunks. The
// store keeps them in step explicitly (see Store), deleting with the exact original values.
#pragma once

#include <cstdint>
#include <string>

#include "rag/store/sqlite.h"

namespace ragd::rag {

inline constexpr int kSchemaVersion = 3;

// FTS5 tokenizers a collection may be created with, by short name:
//   "porter"    Porter stemming over unicode61 word breaking, diacritics folded (default;
//               English). BEIR SciFact BM25 nDCG@10: 0.682.
//   "unicode61" the same without stemming (any language). SciFact: 0.669.
// Returns the FTS5 tokenize= argument; throws ragd::Error for other names.
std::string fts_tokenizer_spec(const std::string& name);
inline constexpr const char* kDefaultFtsTokenizer = "porter unicode61 remove_diacritics 2";

void migrate(Db& db);

// Name of a collection's FTS5 table. Ids are integers, so the name needs no quoting.
std::string fts_table_name(int64_t collection_id);

// Creates the collection's FTS5 table. `tokenizer` must come from fts_tokenizer_spec()
// (it is spliced into SQL).
void create_fts_table(Db& db, int64_t collection_id, const std::string& tokenizer);

}  // namespace ragd::rag
