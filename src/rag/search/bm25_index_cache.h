// Process-wide cache of in-memory BM25 indexes (bm25_index.h), one per (database,
// collection), shared by every Store connection and thread of the process, and the policy
// that decides when building one pays off. FTS5 and the index give the same results, so
// the policy only trades memory and build time against query time:
// - A current index (its version equals the FTS5 table's) is always used.
// - None, or a stale one (the collection was written since): the query is answered by
//   FTS5, and the index is (re)built once the FTS5 queries on that collection since then
//   took as long as the last build did (ski rental: never more than twice the cheaper
//   choice), and not before the second query, so a one-shot `ragd search` never builds.
// - While one thread builds, others keep using FTS5.
// A build that fails (e.g. FTS5 and chunks disagree) is logged once and not retried until
// the collection changes.
#pragma once

#include <memory>

#include "rag/search/bm25_index.h"
#include "rag/store/sqlite_store.h"

namespace ragd::rag {

// The index to answer this query with, or nullptr to use FTS5 (then report the time it
// took with note_fts_query, which feeds the build policy).
std::shared_ptr<const Bm25Index> bm25_index_for_query(SqliteStore& store, const Collection& collection);
void note_fts_query(SqliteStore& store, const Collection& collection, double seconds);

// Builds (or reuses a current) index now, regardless of the policy; for benchmarks and
// servers that want to warm up. Returns it with the seconds the build took (0 if reused).
std::shared_ptr<const Bm25Index> warm_bm25_index(SqliteStore& store, const Collection& collection,
                                                 double* build_seconds = nullptr);

// Drops every cached index of the store's database (e.g. before deleting it).
void forget_bm25_indexes(SqliteStore& store);

}  // namespace ragd::rag
