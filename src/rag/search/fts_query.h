// Builds an FTS5 MATCH expression from untrusted user text. The result can never carry
// FTS5 syntax: the text is split into terms at anything that is not a letter, digit or
// non-ASCII character, and every term is emitted as a double-quoted string, which FTS5
// treats as a plain phrase (no operators, column filters, prefixes or NEAR groups).
// Terms are joined with OR: like BEIR's BM25 baseline, any-term matches are ranked by BM25
// rather than requiring every term.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace ragd::rag {

struct FtsQueryOptions {
  // Drop common English function words ("the", "of", …) unless the query has nothing else.
  // They carry almost no BM25 weight but make FTS5 visit most of the index.
  bool drop_stopwords = true;
  // Bounds the work one query can cause; further terms are ignored.
  size_t max_terms = 64;
  // Longer terms are cut (FTS5 would only match them exactly anyway).
  size_t max_term_bytes = 64;
};

// The terms, lower-cased for ASCII, in query order; duplicates are kept (a repeated word
// weighs more, as in a bag-of-words BM25 query). Invalid UTF-8 bytes act as separators.
std::vector<std::string> fts_query_terms(std::string_view text, const FtsQueryOptions& options = {});

// `"t1" OR "t2" …`, or "" when the text has no terms (callers return no results for it).
std::string build_fts_query(std::string_view text, const FtsQueryOptions& options = {});

bool is_stopword(std::string_view lowercase_term);

}  // namespace ragd::rag
