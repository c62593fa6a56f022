#include "util/json_limits.h"

#include <fmt/format.h>

#include <string>

namespace ragd {

JsonTooDeep::JsonTooDeep(size_t limit)
    : Error(fmt::format("JSON nesting deeper than {} levels", limit)), limit_(limit) {}

size_t json_nesting_depth(std::string_view text, size_t stop_after) {
  size_t depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > stop_after) return deepest;
        }
        break;
      case ']':
      case '}':
        // Unbalanced closers make the text invalid; the parser reports that.
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

nlohmann::json parse_json_bounded(std::string_view text, size_t max_depth) {
  // Every container of the parsed value opens with a bracket outside strings, so the scan's
  // depth bounds the value's depth.
  if (json_nesting_depth(text, max_depth) > max_depth) throw JsonTooDeep(max_depth);
  return nlohmann::json::parse(text);
}

nlohmann::json try_parse_json_bounded(std::string_view text, std::string& why, size_t max_depth) {
  if (json_nesting_depth(text, max_depth) > max_depth) {
    why = JsonTooDeep(max_depth).what();
    return nlohmann::json(nlohmann::json::value_t::discarded);
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) why = "invalid JSON";
  return j;
}

}  // namespace ragd
