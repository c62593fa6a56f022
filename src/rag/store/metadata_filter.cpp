#include "rag/store/metadata_filter.h"

#include "util/error.h"

namespace ragd::rag {

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

std::vector<std::string> MetadataFilter::path() const {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= key.size()) {
    size_t dot = key.find('.', start);
    if (dot == std::string::npos) dot = key.size();
    out.push_back(key.substr(start, dot - start));
    start = dot + 1;
  }
  return out;
}

}  // namespace ragd::rag
