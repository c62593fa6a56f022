// Filters on document metadata (the JSON object stored with each document), written by
// users as `key=value` or `key!=value`; `key` may be a dotted path into nested objects.
// Values compare as text: strings by value, numbers as written in JSON (`year=2021`),
// booleans as true/false. A missing key never equals anything (so `key!=v` matches it).
#pragma once

#include <string>
#include <vector>

#include "rag/store/sqlite.h"

namespace ragd::rag {

struct MetadataFilter {
  std::string key;    // e.g. "lang" or "author.name"
  std::string value;
  bool negate = false;

  // Throws ragd::Error with the expected form when `expr` is malformed.
  static MetadataFilter parse(const std::string& expr);
};

// An SQL condition over documents aliased `d`, all filters ANDed, with ?N placeholders
// numbered from `first_param`; bind_filters() binds them. Empty when there are no filters.
std::string filters_sql(const std::vector<MetadataFilter>& filters, int first_param);
void bind_filters(Stmt& stmt, const std::vector<MetadataFilter>& filters, int first_param);

}  // namespace ragd::rag
