// FTS5 query building from untrusted text (rag/fts_query.h). Property: the built expression
// carries no FTS5 syntax, so SQLite's FTS5 accepts it as a MATCH argument for every input
// (a syntax error here would be a 500 or an injection). Checked against a real in-memory
// FTS5 table.
#include <sqlite3.h>

#include <cstdint>
#include <cstdio>

#include "fuzz/fuzz_util.h"
#include "rag/search/fts_query.h"

namespace {

sqlite3* g_db = nullptr;
sqlite3_stmt* g_match = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (sqlite3_open(":memory:", &g_db) != SQLITE_OK ||
      sqlite3_exec(g_db,
                   "CREATE VIRTUAL TABLE t USING fts5(body);"
                   "INSERT INTO t(body) VALUES ('the quick brown fox'), ('naïve café 東京');",
                   nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(g_db, "SELECT count(*) FROM t WHERE t MATCH ?", -1, &g_match, nullptr) !=
          SQLITE_OK) {
    std::fprintf(stderr, "fuzz_fts_query: cannot set up FTS5: %s\n", sqlite3_errmsg(g_db));
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = ragd::fuzz::as_text(data, size);
  ragd::rag::FtsQueryOptions options;
  options.drop_stopwords = size % 2 == 0;
  const auto terms = ragd::rag::fts_query_terms(text, options);
  RAGD_FUZZ_CHECK(terms.size() <= options.max_terms);
  for (const std::string& t : terms) {
    RAGD_FUZZ_CHECK(!t.empty() && t.size() <= options.max_term_bytes + 3);
  }
  const std::string query = ragd::rag::build_fts_query(text, options);
  if (query.empty()) return 0;
  sqlite3_reset(g_match);
  sqlite3_bind_text(g_match, 1, query.data(), static_cast<int>(query.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(g_match);
  if (rc != SQLITE_ROW) {
    std::fprintf(stderr, "FTS5 rejected %s: %s\n", query.c_str(), sqlite3_errmsg(g_db));
    std::abort();
  }
  return 0;
}
