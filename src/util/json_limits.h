// Bounded JSON parsing for untrusted text (request bodies, JSONL records, upload metadata).
//
// nlohmann::json parses iteratively, but copying, dumping, comparing and destroying a value
// recurse once per nesting level, so a 120 KB body of 60,000 nested arrays overflows the
// stack in whatever code touches the value next. Every parse of untrusted text goes
// through parse_json_bounded(), which refuses nesting deeper than a limit before a single
// value is built.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string_view>

#include "util/error.h"

namespace ragd {

// Default nesting limit: far deeper than any real request or metadata, far shallower than
// the tens of thousands of levels that recursion over a value needs to overflow a stack.
inline constexpr size_t kMaxJsonDepth = 64;

// Thrown when text nests deeper than the limit; the message names the limit
// ("JSON nesting deeper than 64 levels").
class JsonTooDeep : public Error {
 public:
  explicit JsonTooDeep(size_t limit);
  size_t limit() const { return limit_; }

 private:
  size_t limit_;
};

// The deepest array/object nesting in `text`, counting brackets outside strings (a scalar
// is 0, `[]` is 1, `[{}]` is 2). Counting stops once it exceeds `stop_after`, so a hostile
// text costs one pass at most. Malformed text is scanned as far as it goes.
size_t json_nesting_depth(std::string_view text, size_t stop_after = static_cast<size_t>(-1));

// Parses `text`; throws JsonTooDeep if it nests deeper than `max_depth`, and
// nlohmann::json::parse_error for a syntax error (its what() names the byte offset).
nlohmann::json parse_json_bounded(std::string_view text, size_t max_depth = kMaxJsonDepth);

// As above, but never throws: returns a discarded value (is_discarded()) for invalid or
// too-deep text, and sets `why` to the reason ("invalid JSON", or the depth message).
nlohmann::json try_parse_json_bounded(std::string_view text, std::string& why,
                                      size_t max_depth = kMaxJsonDepth);

}  // namespace ragd
