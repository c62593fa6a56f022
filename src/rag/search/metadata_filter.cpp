#include "rag/search/metadata_filter.h"

#include <fmt/format.h>

#include "util/error.h"

namespace ragd::rag {
namespace {

// "$.\"a\".\"b\"": every path segment quoted, so keys may hold spaces, '$' or '['.
std::string json_path(const std::string& key) {
  std::string path = "$";
  size_t start = 0;
  while (start <= key.size()) {
    size_t dot = key.find('.', start);
    if (dot == std::string::npos) dot = key.size();
    path += ".\"" + key.substr(start, dot - start) + "\"";
    start = dot + 1;
  }
  return path;
}

}  // namespace

MetadataFilter MetadataFilter::parse(const std::string& expr) {
  MetadataFilter f;
  size_t eq = expr.find('=');
  if (eq == std::string::npos || eq == 0) {
    fail("invalid filter '{}': expected KEY=VALUE or KEY!=VALUE", expr);
  }
  f.negate = expr[eq - 1] == '!';
  f.key = expr.substr(0, f.negate ? eq - 1 : eq);
  f.value = expr.substr(eq + 1);
  bool bad_key = f.key.empty() || f.key.find('"') != std::string::npos ||
                 f.key.front() == '.' || f.key.back() == '.' ||
                 f.key.find("..") != std::string::npos;
  if (bad_key) fail("invalid filter key '{}' in '{}'", f.key, expr);
  return f;
}

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
    stmt.bind(p, json_path(f.key));
    stmt.bind(p + 1, f.value);
    p += 2;
  }
}

}  // namespace ragd::rag
