// Filters on document metadata (the JSON object stored with each document), written by
// users as `key=value` or `key!=value`; `key` may be a dotted path into nested objects.
// Values compare as text: strings by value, numbers as written in JSON (`year=2021`),
// booleans as true/false. A missing key never equals anything (so `key!=v` matches it).
// Each store backend translates filters into its own query language (SQLite: json_extract;
// PostgreSQL: jsonb #>>), with the key path and value always bound as parameters.
#pragma once

#include <string>
#include <vector>

namespace ragd::rag {

struct MetadataFilter {
  std::string key;    // e.g. "lang" or "author.name"
  std::string value;
  bool negate = false;

  // Throws ragd::Error with the expected form when `expr` is malformed.
  static MetadataFilter parse(const std::string& expr);

  // The key's path segments ("author.name" → {"author", "name"}); never empty, and no
  // segment is empty or holds '"' (parse() refuses those keys).
  std::vector<std::string> path() const;
};

}  // namespace ragd::rag
